-- Wait until a connector and all its tasks are RUNNING; exit 1 if it FAILED, 3 on timeout.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 examples/wait_running.lua [NAME]
--
-- Without CONNECTSTATUS_BASE_URL it starts the bundled fake API; for Confluent Cloud set
-- CONNECTSTATUS_BASE_URL=https://api.confluent.cloud, CONFLUENT_CLOUD_API_KEY, CONFLUENT_CLOUD_API_SECRET,
-- CONFLUENT_ENVIRONMENT_ID and CONFLUENT_KAFKA_CLUSTER_ID.
local cs = require "connectstatus"

local base_url, fake = os.getenv("CONNECTSTATUS_BASE_URL"), nil
if not base_url then
  fake = cs.fake.start()
  base_url = fake.url
end
print("wait_running: against " .. base_url .. (fake and " (the bundled fake API)" or ""))

local cc = cs.confluent {
  api_key = os.getenv("CONFLUENT_CLOUD_API_KEY") or "demo-key",
  api_secret = os.getenv("CONFLUENT_CLOUD_API_SECRET") or "demo-secret",
  environment = os.getenv("CONFLUENT_ENVIRONMENT_ID") or "env-demo",
  cluster = os.getenv("CONFLUENT_KAFKA_CLUSTER_ID") or "lkc-demo",
  base_url = base_url,
}

local name = arg[1] or "orders-sink"
local status, err = cc:wait_for_state(name, "RUNNING", {
  -- The fake moves on at every read; a real connector gets 5 s polls and 30 s to recover from a
  -- short RUNNING -> FAILED -> RUNNING flap.
  timeout = 600,
  interval = fake and 0.2 or 5,
  failed_grace = fake and 0.5 or 30,
  on_poll = function(s, elapsed, read_err)
    print(("%6.1fs  %s"):format(elapsed, s and s.connector.state or "read failed: " .. read_err.kind))
  end,
})
cc:close()
if fake then fake:stop() end

if not status then
  print(err)
  if err.trace then print(err.trace) end
  os.exit(err.kind == "failed" and 1 or 3)
end
print(("%s is RUNNING with %d task(s)"):format(name, #status.tasks))
