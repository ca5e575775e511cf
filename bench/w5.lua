-- W5, fan-out: status reads of N distinct connectors, each answered DELAY seconds late by the
-- bundled fake API (its answers wait on timers, so it holds any number open at once). Every
-- contender runs RUNS times, round-robin. Writes OUT/w5.txt (the result lines) and OUT/w5.md (the
-- section bench/report.lua puts into RESULTS.md). Run from the project root:
--   lua5.4 bench/w5.lua OUT RUNS N DELAY
local out, runs, n, delay = ...
runs, n, delay = tonumber(runs), tonumber(n), tonumber(delay)
assert(out and runs and n and delay, "usage: w5.lua OUT RUNS N DELAY")
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/lua5.4/?.so;" .. package.cpath
local socket = require "socket"

local PARALLEL = 32
local STATUS = { name = "w5", type = "sink", connector = { state = "RUNNING", worker_id = "w", trace = "" },
  tasks = { { id = 0, state = "RUNNING", worker_id = "w", msg = "" } } }

local fake = require("connectstatus.fake").start()
local base = fake.url
local port = base:match(":(%d+)$")
local python = os.getenv("PYTHON") or "/usr/bin/python3"

-- curl reads its URLs from a config file: 200 on a command line is fine, but this stays readable.
local curl_config = out .. "/w5-curl.conf"
do
  local f = assert(io.open(curl_config, "w"))
  f:write('header = "Authorization: Bearer bench-token-not-real"\nheader = "Accept: application/json"\n')
  for i = 1, n do
    f:write(('url = "%s/connect/v1/environments/env-bench/clusters/lkc-bench/connectors/w5-%03d/status"\n')
      :format(base, i))
    f:write('output = "/dev/stdout"\n')
  end
  f:close()
end

local function shell(cmd)
  local pipe = assert(io.popen(cmd .. " 2>&1"))
  local text = pipe:read("*a")
  pipe:close()
  return text
end

local contenders = {
  { name = "connectstatus-sequential", cmd = ("lua5.4 bench/w5_cs.lua build/lua5.4 %s %d 0"):format(base, n) },
  { name = "connectstatus-map-8", cmd = ("lua5.4 bench/w5_cs.lua build/lua5.4 %s %d 8"):format(base, n) },
  { name = "connectstatus-map-32", cmd = ("lua5.4 bench/w5_cs.lua build/lua5.4 %s %d 32"):format(base, n) },
  { name = "luasocket-cjson-sequential", cmd = ("lua5.4 bench/w5_luasocket.lua 127.0.0.1 %s %d"):format(port, n) },
  { name = "python-requests-threads-32", cmd = ("%s bench/w5_requests.py %s %d"):format(python, base, n) },
  -- curl has no timer of its own: the wall time of the process, start-up included.
  { name = "curl-parallel-32", curl = true,
    cmd = ("curl -s --fail --parallel --parallel-max %d --config %s"):format(PARALLEL, curl_config) },
}

local function run_curl(c)
  local started = socket.gettime()
  local text = shell(c.cmd)
  local seconds = socket.gettime() - started
  local running = 0
  for connector in text:gmatch('"connector":(%b{})') do
    if connector:find('"state":"RUNNING"', 1, true) then running = running + 1 end
  end
  return ("result contender=%s workload=W5 n=%d running=%d seconds=%.6f"):format(c.name, n, running, seconds)
end

local raw = assert(io.open(out .. "/w5.txt", "w"))
local times, peaks = {}, {}
for run = 1, runs do
  for _, c in ipairs(contenders) do
    local responses = {}
    for i = 1, n do responses[i] = { status = 200, json = STATUS, delay = delay } end
    fake:reset()
    fake:script { method = "GET", responses = responses }
    local line = c.curl and run_curl(c) or shell(c.cmd):match("result [^\n]*")
    if not line or tonumber(line:match(" running=(%d+)")) ~= n then
      fake:stop()
      error("W5: " .. c.name .. " did not read " .. n .. " RUNNING connectors: " .. tostring(line))
    end
    raw:write(line, " run=", run, "\n")
    times[c.name] = times[c.name] or {}
    table.insert(times[c.name], tonumber(line:match(" seconds=([%d.]+)")))
    local peak = tonumber(line:match(" peak_kb=(%d+)"))
    if peak then
      peaks[c.name] = peaks[c.name] or {}
      table.insert(peaks[c.name], peak)
    end
  end
  io.stderr:write(("bench: W5 run %d of %d\n"):format(run, runs))
end
raw:close()
fake:stop()

local function median(list)
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  table.sort(s)
  local m = math.floor((#s + 1) / 2)
  return #s % 2 == 1 and s[m] or (s[m] + s[m + 1]) / 2, s[1], s[#s]
end

-- The ideal: PARALLEL reads at a time, each DELAY late, plus one read's worth of the rest.
local ideal = math.ceil(n / PARALLEL) * delay + delay
local lines = {
  "## W5: fan-out",
  "",
  ("Status reads of %d distinct connectors, each answered %g ms late by the bundled fake API, median of %d"):format(
    n, delay * 1000, runs) .. " runs (min-max). Ideal with 32 at a time: " ..
    ("%d x %g ms + one read = %.0f ms."):format(math.ceil(n / PARALLEL), delay * 1000, ideal * 1000),
  "",
  "| contender | wall time, ms | of the ideal | peak RSS |",
  "|---|---|---|---|",
}
for _, c in ipairs(contenders) do
  local m, lo, hi = median(times[c.name])
  local peak = peaks[c.name] and ("%.1f MiB"):format(median(peaks[c.name]) / 1024) or "-"
  lines[#lines + 1] = ("| %s | %.1f (%.1f-%.1f) | %.2fx | %s |"):format(c.name, m * 1000, lo * 1000, hi * 1000,
    ideal / m, peak)
end
local map32 = median(times["connectstatus-map-32"])
local python32 = median(times["python-requests-threads-32"])
local extra_kb = median(peaks["connectstatus-map-32"]) - median(peaks["connectstatus-sequential"])
lines[#lines + 1] = ""
lines[#lines + 1] = ("Targets: cs.map with parallel 32 at least 0.8x of the ideal: %.2fx (%s); faster than " ..
  "python with 32 threads: %.2fx (%s); at most 2 MiB more RSS than one client reading in sequence: " ..
  "%+.0f KiB (%s).")
  :format(ideal / map32, ideal / map32 >= 0.8 and "met" or "missed", python32 / map32,
    map32 < python32 and "met" or "missed", extra_kb, extra_kb <= 2048 and "met" or "missed")
local f = assert(io.open(out .. "/w5.md", "w"))
f:write(table.concat(lines, "\n"), "\n")
f:close()
