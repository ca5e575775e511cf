-- W1 (and W3's flat-RSS check) for connectstatus: N sequential status reads of one connector on one client.
--   lua5.4|luajit bench/cs_poll.lua BUILD_DIR BASE_URL CLUSTER NAME N [RSS_AT]
-- Run from the project root. Prints one "result ..." line; with RSS_AT also the VmRSS after RSS_AT reads
-- and after all N. Exits non-zero if any read fails or does not say RUNNING.
local build, base_url, cluster, name, n, rss_at = ...
n = assert(tonumber(n), "usage: cs_poll.lua BUILD_DIR BASE_URL CLUSTER NAME N [RSS_AT]")
rss_at = tonumber(rss_at)
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath

local cs = require "connectstatus"
local clock = require("connectstatus.core").monotonic

local function vmrss_kb()
  local f = assert(io.open("/proc/self/status"))
  local kb = f:read("a"):match("VmRSS:%s*(%d+)")
  f:close()
  return tonumber(kb)
end

local cc = cs.confluent {
  api_key = "BENCHKEY0123456789", api_secret = "bench-secret-not-real",
  environment = "env-bench", cluster = cluster, base_url = base_url, retry = { attempts = 1 },
}

local running, rss_first = 0, nil
local started = clock()
for i = 1, n do
  local st, err = cc:status(name)
  if not st then error("read " .. i .. ": " .. tostring(err)) end
  if st.connector.state == "RUNNING" then running = running + 1 end
  if i == rss_at then rss_first = vmrss_kb() end
end
local seconds = clock() - started
local rss_last = vmrss_kb()
cc:close()

local interp = jit and "luajit" or "lua5.4"
-- A run with RSS_AT is W3's memory check, kept apart from W1's timings.
print(("result contender=connectstatus-%s workload=%s n=%d seconds=%.6f ok=%d rss_kb=%d"):format(
  interp, rss_at and "W3" or "W1", n, seconds, running, rss_last))
if rss_first then
  print(("rss contender=connectstatus-%s first_n=%d first_kb=%d last_n=%d last_kb=%d lua_kb=%d"):format(
    interp, rss_at, rss_first, n, rss_last, math.floor(collectgarbage("count"))))
end
if running ~= n then
  io.stderr:write(("cs_poll: %d of %d reads said RUNNING\n"):format(running, n))
  os.exit(1)
end
