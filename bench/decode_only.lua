-- Where W2's time goes: the decode alone, in a fresh process (so first-touch page faults count, as they do
-- in W2), of the very bytes W2 fetches. Not a contender; bench/report.lua sets it against W2's phases.
--   lua5.4 bench/decode_only.lua connectstatus BUILD_DIR FILE CLUSTER [select]
--   lua5.4 bench/decode_only.lua cjson - FILE CLUSTER
-- "select" decodes with the W2 selection (bench/w2_select.lua; workload DECODE_SEL instead of DECODE).
-- rss_kb is the process's peak RSS (VmHWM), the body read from the file included.
local which, build, file, cluster, mode = ...
assert(cluster and (mode == nil or (mode == "select" and which == "connectstatus")),
  "usage: decode_only.lua connectstatus|cjson BUILD_DIR|- FILE CLUSTER [select]")
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
if mode == "select" then
  local full = decode
  local opts = { select = require("connectstatus.core").json_selection(dofile "bench/w2_select.lua") }
  decode = function(s) return full(s, opts) end
end
local started = clock()
local fleet = decode(body)
local seconds = clock() - started
local n = 0
for _ in pairs(fleet) do n = n + 1 end
-- Named after the contender whose decoder this is, so the report can set it against that contender's W2.
local contender = which == "connectstatus" and "connectstatus-" .. (jit and "luajit" or "lua5.4") or "luasocket-cjson"
local status = io.open "/proc/self/status"
local hwm = status and tonumber(status:read("a"):match "VmHWM:%s*(%d+)") or 0
if status then status:close() end
print(("result contender=%s workload=%s cluster=%s n=%d seconds=%.6f bytes=%d rss_kb=%d"):format(contender,
  mode == "select" and "DECODE_SEL" or "DECODE", cluster, n, seconds, #body, hwm))
