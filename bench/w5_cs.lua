-- W5 for connectstatus: status reads of N distinct connectors, one after another (PARALLEL = 0) or
-- with cs.map at PARALLEL at once.
--   lua5.4 bench/w5_cs.lua BUILD_DIR BASE_URL N PARALLEL
-- Prints one "result ..." line with the wall time of the reads alone and the peak RSS.
local build, base_url, n, parallel = ...
n, parallel = assert(tonumber(n), "usage: w5_cs.lua BUILD_DIR BASE_URL N PARALLEL"), tonumber(parallel) or 0
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath

local cs = require "connectstatus"
local clock = require("connectstatus.core").monotonic

local function peak_kb()
  local f = assert(io.open("/proc/self/status"))
  local kb = f:read("*a"):match("VmHWM:%s*(%d+)")
  f:close()
  return tonumber(kb)
end

local cc = cs.confluent { token = "bench-token-not-real", environment = "env-bench", cluster = "lkc-bench",
  base_url = base_url, retry = { attempts = 1 } }
local names = {}
for i = 1, n do names[i] = ("w5-%03d"):format(i) end

local function read(name)
  local st, err = cc:status(name)
  if not st then return nil, err end
  return st.connector.state
end

local started = clock()
local states, errs = {}, {}
if parallel == 0 then
  for i, name in ipairs(names) do states[i], errs[i] = read(name) end
else
  states, errs = cs.map(names, read, { parallel = parallel })
end
local seconds = clock() - started
local running = 0
for i = 1, n do
  if errs[i] then error(names[i] .. ": " .. tostring(errs[i])) end
  if states[i] == "RUNNING" then running = running + 1 end
end
local contender = parallel == 0 and "connectstatus-sequential" or ("connectstatus-map-" .. parallel)
print(("result contender=%s workload=W5 n=%d running=%d seconds=%.6f peak_kb=%d"):format(
  contender, n, running, seconds, peak_kb()))
