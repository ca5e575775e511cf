-- A health report of every connector: counts per state and health, then each unhealthy one.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 examples/fleet_report.lua
--
-- Without CONNECTSTATUS_BASE_URL it starts the bundled fake API (credentials and ids as in wait_running.lua).
local cs = require "connectstatus"

local base_url, fake = os.getenv("CONNECTSTATUS_BASE_URL"), nil
if not base_url then
  fake = cs.fake.start()
  base_url = fake.url
end
print("fleet_report: against " .. base_url .. (fake and " (the bundled fake API)" or ""))

local cc = cs.confluent {
  api_key = os.getenv("CONFLUENT_CLOUD_API_KEY") or "demo-key",
  api_secret = os.getenv("CONFLUENT_CLOUD_API_SECRET") or "demo-secret",
  environment = os.getenv("CONFLUENT_ENVIRONMENT_ID") or "env-demo",
  cluster = os.getenv("CONFLUENT_KAFKA_CLUSTER_ID") or "lkc-demo",
  base_url = base_url,
}

local fleet, err = cc:list { expand = { "status" } }
cc:close()
if fake then fake:stop() end
if not fleet then
  print(err)
  os.exit(4)
end

local summary = cs.summarize(fleet)
local h = summary.health
print(("%d connectors: %d healthy, %d degraded, %d failed, %d pending"):format(
  summary.total, h.healthy, h.degraded, h.failed, h.pending))
for _, u in ipairs(summary.unhealthy) do
  print(("  %-16s %-9s %s"):format(u.name, u.health, table.concat(u.reasons, "; ")))
end
