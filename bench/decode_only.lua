-- Where W2's time goes: the decode alone, in a fresh process (so first-touch page faults count, as they do
-- in W2), of the very bytes W2 fetches. Not a contender; bench/report.lua sets it against W2's phases.
--   lua5.4 bench/decode_only.lua connectstatus BUILD_DIR FILE CLUSTER
--   lua5.4 bench/decode_only.lua cjson - FILE CLUSTER
local which, build, file, cluster = ...
assert(cluster, "usage: decode_only.lua connectstatus|cjson BUILD_DIR|- FILE CLUSTER")
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
if build ~= "-" then package.cpath = build .. "/?.so;" .. package.cpath end

local decode, clock
if which == "connectstatus" then
  decode = require("connectstatus").json.decode
  clock = require("connectstatus.core").monotonic
else
  decode = require("cjson").decode
  clock = require("socket").gettime
end

local f = assert(io.open(file, "rb"))
local body = f:read("a")
f:close()
local started = clock()
local fleet = decode(body)
local seconds = clock() - started
local n = 0
for _ in pairs(fleet) do n = n + 1 end
-- Named after the contender whose decoder this is, so the report can set it against that contender's W2.
local contender = which == "connectstatus" and "connectstatus-" .. (jit and "luajit" or "lua5.4") or "luasocket-cjson"
print(("result contender=%s workload=DECODE cluster=%s n=%d seconds=%.6f"):format(contender, cluster, n, seconds))
