-- Benchmark W6 (issue 11): one nginx worker serving a location that reads a connector status from an
-- upstream answering after 10 ms, driven by `wrk -c 32`. Side by side, both through cs.confluent: the
-- client as it is in nginx (it picks the cosocket driver, connectstatus.driver_nginx, by itself) and the same
-- with driver = "curl", the blocking libcurl client, which stalls the worker for every read. The upstream is a
-- second nginx (ngx.sleep(0.01), so it never queues).
-- Run from the checkout after `make all LUA_VERSION=jit` and `make all LUA_VERSION=5.4`:
--   lua5.4 bench/w6_nginx.lua [seconds per contender, default 5] [runs, default 1] [OUT]   (RESULTS: 5 3)
-- Prints one "result contender=... rate=... p50_ms=... p99_ms=..." line per run, then a Markdown table of
-- the medians; with OUT, also writes them to OUT/w6.txt and the section bench/report.lua puts into
-- RESULTS.md to OUT/w6.md (bench/run.sh). Fails when wrk fails or any answer is not a 200 with the RUNNING
-- state.
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path
package.cpath = "build/lua5.4/?.so;" .. package.cpath
local nginx = require "nginx_helpers"
local helpers = require "helpers"

local SECONDS = tonumber(arg[1]) or 5
local RUNS = tonumber(arg[2]) or 1
local OUT = arg[3]
local CONNECTIONS = 32
local STATUS = "/connect/v1/environments/env-bench/clusters/lkc-bench/connectors/orders-sink/status"
local BODY = '{"name":"orders-sink","connector":{"state":"RUNNING","worker_id":"w1","trace":""},' ..
  '"tasks":[{"id":0,"state":"RUNNING","worker_id":"w1"}],"type":"sink"}'

local upstream = nginx.start {
  server = ([[
        keepalive_requests 1000000;
        default_type application/json;
        location = %s { content_by_lua_block { ngx.sleep(0.01) ngx.print(%q) } }
]]):format(STATUS, BODY),
}

local front = nginx.start {
  lua_dir = "bench",
  http = "    keepalive_requests 1000000;\n",
  server = ([[
        location = /cosocket { content_by_lua_block { require("w6_app").cosocket(%q) } }
        location = /libcurl { content_by_lua_block { require("w6_app").libcurl(%q) } }
]]):format(upstream.url, upstream.url),
}

local function stop()
  front.stop()
  upstream.stop()
end

local SCALE = { us = 0.001, ms = 1, s = 1000, m = 60000 }

-- A percentile of wrk --latency output, in ms.
local function percentile(out, p)
  local value, unit = out:match("\n%s*" .. p .. "%%%s+([%d.]+)(%a+)")
  return value and SCALE[unit] and tonumber(value) * SCALE[unit]
end

-- Requests per second, p50 and p99 in ms, the count of failed answers, wrk's socket errors.
local function parse(out)
  local rate = tonumber(out:match("Requests/sec:%s*([%d.]+)"))
  local bad = tonumber(out:match("Non%-2xx or 3xx responses:%s*(%d+)")) or 0
  return rate, percentile(out, 50), percentile(out, 99), bad, out:match("Socket errors:[^\n]*") or ""
end

local rows = {}
local ok, err = pcall(function()
  for run = 1, RUNS do
    for _, contender in ipairs { "cosocket", "libcurl" } do
      -- One warm-up read so that both start with a kept-alive upstream connection.
      assert(nginx.request(front, "/" .. contender) == 200, contender .. " warm-up failed")
      local out, code = helpers.shell(("wrk -t2 -c%d -d%ds --timeout 30s --latency %s/%s 2>&1")
        :format(CONNECTIONS, SECONDS, front.url, contender))
      local rate, p50, p99, bad, errors = parse(out)
      if code ~= 0 or not rate or not p99 or bad > 0 then error("wrk failed for " .. contender .. ":\n" .. out) end
      local line = ("result contender=%s workload=W6 connections=%d rate=%.1f p50_ms=%.1f p99_ms=%.1f run=%d %s")
        :format(contender, CONNECTIONS, rate, p50, p99, run, errors)
      print(line)
      rows[#rows + 1] = { contender = contender, rate = rate, p50 = p50, p99 = p99, line = line }
    end
  end
end)
stop()
if not ok then error(err, 0) end

local function median(list)
  table.sort(list)
  return list[math.floor((#list + 1) / 2)]
end

local lines = {
  ("| W6: nginx, 1 worker, upstream 10 ms, wrk -c %d, median of %d run(s) | requests/s | p50 | p99 |")
    :format(CONNECTIONS, RUNS),
  "|---|---:|---:|---:|",
}
for _, contender in ipairs { "cosocket", "libcurl" } do
  local rate, p50, p99 = {}, {}, {}
  for _, row in ipairs(rows) do
    if row.contender == contender then
      rate[#rate + 1], p50[#p50 + 1], p99[#p99 + 1] = row.rate, row.p50, row.p99
    end
  end
  local name = contender == "cosocket" and "cs.confluent in nginx: the cosocket driver" or
    "cs.confluent with driver = \"curl\", blocking the worker"
  lines[#lines + 1] = ("| %s | %.0f | %.1f ms | %.1f ms |"):format(name, median(rate), median(p50), median(p99))
end
print("\n" .. table.concat(lines, "\n"))

if OUT then
  local raw = assert(io.open(OUT .. "/w6.txt", "w"))
  for _, row in ipairs(rows) do raw:write(row.line, "\n") end
  raw:close()
  local f = assert(io.open(OUT .. "/w6.md", "w"))
  f:write("## W6: a status read inside nginx\n\n",
    "One nginx worker serving a location that reads a connector status from an upstream answering after ",
    "10 ms (`lua5.4 bench/w6_nginx.lua`). The ideal is ", CONNECTIONS, " / 10 ms = ", CONNECTIONS * 100,
    " requests/s; the blocking client serves one read at a time (100/s at most).\n\n",
    table.concat(lines, "\n"), "\n")
  f:close()
end
