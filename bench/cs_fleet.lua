-- W2/W4 for connectstatus: list{expand={"id","info","status"}} of a whole fleet, decoded, FAILED ones counted.
--   lua5.4|luajit bench/cs_fleet.lua BUILD_DIR BASE_URL CLUSTER
-- Run from the project root. A connector counts as FAILED when it or any of its tasks is FAILED.
local build, base_url, cluster = ...
assert(cluster, "usage: cs_fleet.lua BUILD_DIR BASE_URL CLUSTER")
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath

local cs = require "connectstatus"
local clock = require("connectstatus.core").monotonic

local cc = cs.confluent {
  api_key = "BENCHKEY0123456789", api_secret = "bench-secret-not-real",
  environment = "env-bench", cluster = cluster, base_url = base_url, retry = { attempts = 1 },
}

local started = clock()
local fleet, err = cc:list { expand = { "id", "info", "status" } }
if not fleet then error(tostring(err)) end
local got = clock()
local connectors, failed = 0, 0
for _, c in pairs(fleet) do
  connectors = connectors + 1
  local st = c.status
  local bad = st.connector.state == "FAILED"
  for _, t in ipairs(st.tasks) do
    if t.state == "FAILED" then bad = true end
  end
  if bad then failed = failed + 1 end
end
local seconds = clock() - started
cc:close()

-- get_s (fetch + decode, one call) and count_s split the time for the report's "where the time goes".
print(("result contender=connectstatus-%s workload=W2 cluster=%s n=%d seconds=%.6f failed=%d get_s=%.6f "
  .. "count_s=%.6f"):format(jit and "luajit" or "lua5.4", cluster, connectors, seconds, failed, got - started,
  seconds - (got - started)))
