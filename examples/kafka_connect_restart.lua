-- Restart what failed in a self-managed Kafka Connect connector and wait until it is healthy again:
-- the equivalent of `restart --failed-only --wait`. Exits 0 when the connector ends healthy, 1
-- when a restarted instance FAILED again, 3 on a timeout or another error.
--
--   export LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;'
--   lua5.4 examples/kafka_connect_restart.lua [NAME]
--
-- Without CONNECT_URL it starts the bundled fake API (whose inventory-source runs with task 1
-- FAILED); CONNECT_USER and CONNECT_PASSWORD give Basic credentials, CONNECT_WAIT_INTERVAL the
-- seconds between status reads (5 by default; the fake moves on at every read).
local cs = require "connectstatus"

local base_url, fake = os.getenv("CONNECT_URL"), nil
if not base_url then
  fake = cs.fake.start()
  base_url = fake.url
end

local kc = cs.kafka_connect {
  base_url = base_url,
  username = os.getenv("CONNECT_USER"),
  password = os.getenv("CONNECT_USER") and os.getenv("CONNECT_PASSWORD") or nil,
}
local name = arg[1] or "inventory-source"

local function show(status)
  local verdict, reasons = cs.health(status)
  print(("   %s: %s%s"):format(name, verdict, #reasons > 0 and " (" .. table.concat(reasons, "; ") .. ")" or ""))
  return verdict
end

local function finish(code, err)
  if err then print("   " .. tostring(err)) end
  kc:close()
  if fake then fake:stop() end
  os.exit(code)
end

local info, err = kc:info()
if not info then finish(3, err) end
print(("\n== Kafka Connect %s at %s%s"):format(tostring(info.version), base_url,
  fake and " (the bundled fake API)" or ""))

local before
before, err = kc:status(name)
if not before then finish(3, err) end
show(before)

print(("\n== kc:restart(%q, { only_failed = true, wait = true })"):format(name))
local after
after, err = kc:restart(name, {
  only_failed = true, wait = true,
  interval = fake and 0.2 or tonumber(os.getenv("CONNECT_WAIT_INTERVAL")) or 5, timeout = 300,
  on_poll = function(status, elapsed, read_err)
    if not status then return print(("   %5.1fs  read failed: %s"):format(elapsed, read_err.kind)) end
    local tasks = {}
    for _, t in ipairs(status.tasks) do tasks[#tasks + 1] = ("%s %s"):format(tostring(t.id), tostring(t.state)) end
    print(("   %5.1fs  connector %s, tasks: %s"):format(elapsed, tostring(status.connector.state),
      table.concat(tasks, ", ")))
  end,
})
if not after then finish(err.kind == "failed" and 1 or 3, err) end
finish(show(after) == "healthy" and 0 or 1)
