-- Wait until a Feldera input connector has consumed all its input (end of input, nothing buffered).
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 examples/feldera_backfill.lua \
--     [PIPELINE TABLE CONNECTOR]
--
-- Without FELDERA_HOST it starts the bundled fake API; FELDERA_API_KEY is sent when set.
local cs = require "connectstatus"
local exact = require("connectstatus.pp").format -- 64-bit counters printed digit for digit

local host, fake = os.getenv("FELDERA_HOST"), nil
if not host then
  fake = cs.fake.start()
  host = fake.url
end
print("feldera_backfill: against " .. host .. (fake and " (the bundled fake API)" or ""))

local fd = cs.feldera { base_url = host, api_key = os.getenv("FELDERA_API_KEY") }
local pipeline, table_name, connector = arg[1] or "demo-pipeline", arg[2] or "orders", arg[3] or "backfill"

local stats, err = fd:wait_for_end_of_input(pipeline, table_name, connector, {
  timeout = 3600,
  interval = fake and 0.2 or 5,
  on_poll = function(s, elapsed, read_err)
    if not s then return print(("%6.1fs  read failed: %s"):format(elapsed, read_err.kind)) end
    local m = s.metrics
    print(("%6.1fs  records %s, buffered %s, end_of_input %s"):format(elapsed,
      exact(m.total_records), exact(m.buffered_records), tostring(m.end_of_input)))
  end,
})
fd:close()
if fake then fake:stop() end

if not stats then
  print(err)
  os.exit(err.kind == "failed" and 1 or 3)
end
print(("%s.%s.%s is done: %s records"):format(pipeline, table_name, connector,
  exact(stats.metrics.total_records)))
