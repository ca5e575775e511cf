-- W2/W4 for connectstatus: list{expand={"id","info","status"}} of a whole fleet, decoded, FAILED ones counted.
--   lua5.4|luajit bench/cs_fleet.lua BUILD_DIR BASE_URL CLUSTER [select]
-- Run from the project root. A connector counts as FAILED when it or any of its tasks is FAILED.
-- With "select" (workload W2S) the read passes the W2 selection (bench/w2_select.lua, compiled once); while the
-- client refuses the option or does not pass it on to the decoder (the answer comes back whole), the script
-- prints a "skip" line instead of a result.
local build, base_url, cluster, mode = ...
assert(cluster and (mode == nil or mode == "select"), "usage: cs_fleet.lua BUILD_DIR BASE_URL CLUSTER [select]")
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath

local cs = require "connectstatus"
local clock = require("connectstatus.core").monotonic

local cc = cs.confluent {
  api_key = "BENCHKEY0123456789", api_secret = "bench-secret-not-real",
  environment = "env-bench", cluster = cluster, base_url = base_url, retry = { attempts = 1 },
}

local workload, opts = "W2", { expand = { "id", "info", "status" } }
if mode == "select" then
  workload, opts.select = "W2S", require("connectstatus.core").json_selection(dofile "bench/w2_select.lua")
end
local contender = "connectstatus-" .. (jit and "luajit" or "lua5.4")

local function skip()
  print(("skip contender=%s workload=W2S cluster=%s reason=client-does-not-pass-select"):format(contender, cluster))
end

local started = clock()
local called, fleet, err = pcall(cc.list, cc, opts)
if not called and mode == "select" and tostring(fleet):find("'select'", 1, true) then return skip() end
if not called then error(fleet, 0) end
if not fleet then error(tostring(err)) end
local got = clock()
local _, first = next(fleet)
if mode == "select" and first and first.info ~= nil then return skip() end
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
print(("result contender=%s workload=%s cluster=%s n=%d seconds=%.6f failed=%d get_s=%.6f "
  .. "count_s=%.6f"):format(contender, workload, cluster, connectors, seconds, failed, got - started,
  seconds - (got - started)))
