-- Wait until a connector's alter-offsets request is APPLIED, ignoring requests older than SINCE.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' \
--     lua5.4 examples/wait_offsets.lua [NAME [SINCE]]
--
-- SINCE is epoch seconds or a timestamp such as 2024-02-20T15:14:00Z; take it just before sending the
-- PATCH/DELETE so a previous APPLIED request is not mistaken for yours. Without CONNECTSTATUS_BASE_URL
-- it starts the bundled fake API (credentials and ids as in wait_running.lua).
local cs = require "connectstatus"

local base_url, fake = os.getenv("CONNECTSTATUS_BASE_URL"), nil
if not base_url then
  fake = cs.fake.start()
  base_url = fake.url
end
print("wait_offsets: against " .. base_url .. (fake and " (the bundled fake API)" or ""))

local cc = cs.confluent {
  api_key = os.getenv("CONFLUENT_CLOUD_API_KEY") or "demo-key",
  api_secret = os.getenv("CONFLUENT_CLOUD_API_SECRET") or "demo-secret",
  environment = os.getenv("CONFLUENT_ENVIRONMENT_ID") or "env-demo",
  cluster = os.getenv("CONFLUENT_KAFKA_CLUSTER_ID") or "lkc-demo",
  base_url = base_url,
}

local name = arg[1] or "pg-cdc"
local since = arg[2] or (fake and "2024-02-20T15:14:00Z") or os.time() - 600
local request, err = cc:wait_for_offset_phase(name, "APPLIED", {
  since = tonumber(since) or since,
  timeout = 600,
  interval = fake and 0.2 or 5,
  on_poll = function(st, elapsed, read_err)
    print(("%6.1fs  %s"):format(elapsed, st and st.status.phase or "read failed: " .. read_err.kind))
  end,
})
cc:close()
if fake then fake:stop() end

if not request then
  print(err)
  os.exit(err.kind == "failed" and 1 or 3)
end
print(("offsets of %s APPLIED at %s: %s"):format(name, tostring(request.applied_at), tostring(request.status.message)))
