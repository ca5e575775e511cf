-- The demo runbook (`make demo` runs it against the bundled fake API): survey the fleet, wait for a
-- new connector, explain the broken ones, wait for an offsets change and for a Feldera backfill.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 examples/runbook.lua
--
-- Without CONNECTSTATUS_BASE_URL it starts the bundled fake API itself. Settings come from
-- CONNECTSTATUS_BASE_URL, CONFLUENT_CLOUD_API_KEY, CONFLUENT_CLOUD_API_SECRET, CONFLUENT_ENVIRONMENT_ID,
-- CONFLUENT_KAFKA_CLUSTER_ID, FELDERA_HOST and FELDERA_API_KEY; the connector names are the fake's.
local cs = require "connectstatus"
local exact = require("connectstatus.pp").format

local base_url, fake = os.getenv("CONNECTSTATUS_BASE_URL"), nil
if not base_url then
  fake = cs.fake.start()
  base_url = fake.url
end

local cc = cs.confluent {
  api_key = os.getenv("CONFLUENT_CLOUD_API_KEY") or "demo-key",
  api_secret = os.getenv("CONFLUENT_CLOUD_API_SECRET") or "demo-secret",
  environment = os.getenv("CONFLUENT_ENVIRONMENT_ID") or "env-demo",
  cluster = os.getenv("CONFLUENT_KAFKA_CLUSTER_ID") or "lkc-demo",
  base_url = base_url,
}
local fd = cs.feldera { base_url = os.getenv("FELDERA_HOST") or base_url, api_key = os.getenv("FELDERA_API_KEY") }
local FAST = { interval = 0.2, timeout = 60 } -- the fake moves on every read; a real cloud wants the defaults

local function step(title)
  print(("\n== %s"):format(title))
end

local function with(opts, extra)
  local merged = {}
  for k, v in pairs(opts) do merged[k] = v end
  for k, v in pairs(extra) do merged[k] = v end
  return merged
end

local function progress(describe)
  return function(value, elapsed, err)
    print(("   %5.1fs  %s"):format(elapsed, value and describe(value) or "read failed: " .. err.kind))
  end
end

local function survey()
  step("The fleet: cc:list{expand={'id','info','status'}} and cs.summarize")
  local fleet = assert(cc:list { expand = { "id", "info", "status" } })
  local names = {}
  for name in pairs(fleet) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local c = fleet[name]
    print(("   %-16s %-15s %-20s %-13s %s"):format(name, c.id.id, c.info.config["connector.class"],
      c.status.connector.state, (cs.health(c.status))))
  end
  local summary = cs.summarize(fleet)
  local h = summary.health
  print(("   %d connectors: %d healthy, %d degraded, %d failed, %d pending"):format(summary.total, h.healthy,
    h.degraded, h.failed, h.pending))
  for _, u in ipairs(summary.unhealthy) do
    print(("   - %s is %s: %s"):format(u.name, u.health, table.concat(u.reasons, "; ")))
  end
end

local function wait_for_new_connector()
  step("cc:wait_for_state('orders-sink', 'RUNNING'): PROVISIONING for a while, then RUNNING")
  local status = assert(cc:wait_for_state("orders-sink", "RUNNING", with(FAST, {
    on_poll = progress(function(s) return s.connector.state .. ", " .. #s.tasks .. " task(s)" end),
  })))
  print(("   orders-sink is RUNNING; task %s is %s"):format(exact(status.tasks[1].id), status.tasks[1].state))
end

local function explain_failed()
  step("s3-archive: the wait fails fast and carries the connector's trace")
  local _, err = cc:wait_for_state("s3-archive", "RUNNING", FAST)
  assert(err and err.kind == "failed", "s3-archive was expected to be FAILED")
  print("   " .. tostring(err))
  print("   trace:\n      " .. err.trace:gsub("\n$", ""):gsub("\n", "\n      "))
end

local function explain_degraded()
  step("datagen-orders: RUNNING, yet one task FAILED, so it is not healthy")
  local status = assert(cc:status("datagen-orders"))
  local verdict, reasons = cs.health(status)
  print(("   connector %s, health %s: %s"):format(status.connector.state, verdict, table.concat(reasons, "; ")))
  local _, err = cc:wait_for_state("datagen-orders", "RUNNING", FAST)
  print(("   the wait says: task %s failed: %s"):format(exact(err.task), err.trace:match("Caused by: ([^\n]*)")))
end

local function wait_for_offsets()
  step("cc:wait_for_offset_phase('pg-cdc', 'APPLIED', {since=...}): PENDING, PENDING_VALIDATION, APPLIED")
  local request = assert(cc:wait_for_offset_phase("pg-cdc", "APPLIED", with(FAST, {
    since = "2024-02-20T15:14:00Z", -- a previous APPLIED request older than this would be ignored
    on_poll = progress(function(st) return st.status.phase end),
  })))
  print(("   applied at %s (requested at %s)"):format(request.applied_at, request.request.requested_at))
end

local function wait_for_backfill()
  step("fd:wait_for_end_of_input('demo-pipeline', 'orders', 'backfill'): until end of input, nothing buffered")
  local stats = assert(fd:wait_for_end_of_input("demo-pipeline", "orders", "backfill", with(FAST, {
    on_poll = progress(function(s)
      return ("records %s, buffered %s, end_of_input %s"):format(exact(s.metrics.total_records),
        exact(s.metrics.buffered_records), tostring(s.metrics.end_of_input))
    end),
  })))
  print("   done; cs.pp(stats.metrics), with 64-bit counters exact on Lua 5.3+:")
  cs.pp(stats.metrics)
end

local ok, err = pcall(function()
  print("connectstatus demo runbook against " .. base_url .. (fake and " (the bundled fake API)" or ""))
  survey()
  wait_for_new_connector()
  explain_failed()
  explain_degraded()
  wait_for_offsets()
  wait_for_backfill()
end)
cc:close()
fd:close()
if fake then fake:stop() end
if not ok then
  io.stderr:write("runbook failed: ", tostring(err), "\n")
  os.exit(1)
end
print("\nrunbook done")
