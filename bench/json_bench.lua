-- Decode speed and memory of core.json_decode against lua-cjson on one generated document:
-- a Confluent "list with expansions" answer for 10,000 connectors (about 9 MB); then core.json_decode
-- with the W2 selection (bench/w2_select.lua, compiled once), which builds only what a FAILED count reads.
-- Usage: lua5.4 bench/json_bench.lua build/lua5.4   |   luajit bench/json_bench.lua build/luajit
-- Each decoder runs in a fresh process of the same interpreter: in one shared process, whichever
-- decoder runs right after the other's tree is freed gets a warmer heap (worth about 6% here).
local build = arg[1] or "build/lua5.4"
local worker = arg[2] -- "core", "core-select" or "cjson" when run as a worker
package.cpath = build .. "/?.so;" .. package.cpath
local core = require "connectstatus.core"
local cjson = require "cjson"

local CONNECTORS = 10000
local RUNS = tonumber(os.getenv "JSON_BENCH_RUNS") or 11

-- Park-Miller generator: the products stay below 2^53, so every Lua gives the same sequence.
local seed = 20240611
local function rand(n)
  seed = seed * 16807 % 2147483647
  return seed % n + 1
end

local ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
local function word(n)
  local t = {}
  for i = 1, n do
    local k = rand(#ALNUM)
    t[i] = ALNUM:sub(k, k)
  end
  return table.concat(t)
end

local function q(s) return '"' .. s .. '"' end

local function members(list)
  local t = {}
  for i = 1, #list, 2 do t[#t + 1] = q(list[i]) .. ":" .. list[i + 1] end
  return "{" .. table.concat(t, ",") .. "}"
end

local CONFIG_KEYS = {
  "connector.class", "kafka.auth.mode", "kafka.api.key", "kafka.api.secret", "topics",
  "input.data.format", "output.data.format", "tasks.max", "name", "connection.host",
  "connection.port", "connection.user", "db.name", "table.name.format", "insert.mode",
}

local TRACE = "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to "
  .. "unrecoverable exception.\\n\\tat org.apache.kafka.connect.runtime.WorkerSinkTask."
  .. "deliverMessages(WorkerSinkTask.java:618)\\n\\tat org.apache.kafka.connect.runtime."
  .. "WorkerSinkTask.poll(WorkerSinkTask.java:334)\\n\\tat \\\"worker\\\" \\u00e9"

local function connector(i)
  local name = string.format("%s-%s-%05d", word(6), word(8), i)
  local failed = rand(20) == 1
  local state = failed and "FAILED" or "RUNNING"
  local config = {}
  for _, k in ipairs(CONFIG_KEYS) do
    config[#config + 1] = k
    config[#config + 1] = q(k == "name" and name or word(6 + rand(14)))
  end
  local tasks = {}
  for t = 1, rand(4) do
    tasks[t] = members { "id", tostring(t - 1), "state", q(state), "worker_id", q("w-" .. word(10)),
      "msg", q(failed and TRACE or "") }
  end
  return q(name) .. ":" .. members {
    "id", members { "id", q("lcc-" .. word(6)), "id_type", q "ID" },
    "info", members { "name", q(name), "config", members(config), "type", q "sink" },
    "status", members {
      "name", q(name),
      "connector", members { "state", q(state), "worker_id", q("w-" .. word(10)),
        "trace", q(failed and TRACE or "") },
      "tasks", "[" .. table.concat(tasks, ",") .. "]",
      "type", q "sink",
    },
  }
end

local parts = {}
for i = 1, CONNECTORS do parts[i] = connector(i) end
local doc = "{" .. table.concat(parts, ",") .. "}"
parts = nil -- luacheck: ignore 311
local mb = #doc / 1e6

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

local function peak_rss_kb()
  local f = io.open "/proc/self/status"
  local kb = f and f:read "a":match "VmHWM:%s*(%d+)"
  if f then f:close() end
  return tonumber(kb) or 0
end

local function tree_kb(decode)
  collectgarbage "collect"
  local before = collectgarbage "count"
  local tree = decode(doc)
  collectgarbage "collect"
  local kb = collectgarbage "count" - before
  assert(tree) -- alive until here
  return kb
end

-- Worker: the memory held by one decoded tree, then RUNS decodes with a full collection before
-- each; prints the median time, the tree's size and the process's peak RSS.
local function run_worker(decode)
  local kb = tree_kb(decode) -- first, so both decoders start from the same heap
  local times = {}
  for i = 1, RUNS do
    collectgarbage "collect"
    collectgarbage "collect"
    local t0 = os.clock()
    decode(doc)
    times[i] = os.clock() - t0
  end
  print(string.format("worker %.6f %.1f %d", median(times), kb, peak_rss_kb()))
end

local selection = core.json_selection(dofile "bench/w2_select.lua")
local function decode_selected(s) return core.json_decode(s, { select = selection }) end

if worker then
  local decoders = { core = core.json_decode, ["core-select"] = decode_selected, cjson = cjson.decode }
  run_worker(assert(decoders[worker], worker))
  return
end

-- Same shape from both decoders, or the comparison means nothing.
local a, b, picked = core.json_decode(doc), cjson.decode(doc), decode_selected(doc)
local some = next(b)
assert(a[some].status.tasks[1].worker_id == b[some].status.tasks[1].worker_id)
assert(picked[some].status.tasks[1].state == b[some].status.tasks[1].state and picked[some].info == nil)
a, b, picked, doc = nil, nil, nil, nil -- luacheck: ignore 311

local interpreter = arg[-1]
local function measure(which)
  local cmd = string.format("%s %s %s %s", interpreter, arg[0], build, which)
  local p = assert(io.popen(cmd))
  local out = p:read "a"
  p:close()
  local s, kb, rss = out:match "worker (%S+) (%S+) (%S+)"
  assert(s, "worker failed: " .. cmd .. "\n" .. out)
  return { mbs = mb / tonumber(s), tree = tonumber(kb) / 1024, rss = tonumber(rss) / 1024 }
end

local c, j, sel = measure "core", measure "cjson", measure "core-select"
local version = jit and "luajit" or _VERSION:match "%d+%.%d+"
print(string.format("document: %d connectors, %.2f MB, median of %d runs, each decoder in its own process",
  CONNECTORS, mb, RUNS))
print(string.format("core.json_decode: %6.1f MB/s, tree %5.1f MB, peak RSS %5.1f MB", c.mbs, c.tree, c.rss))
print(string.format("cjson.decode:     %6.1f MB/s, tree %5.1f MB, peak RSS %5.1f MB", j.mbs, j.tree, j.rss))
print(string.format("core.json_decode with the W2 selection: %6.1f MB/s, tree %5.1f MB, peak RSS %5.1f MB",
  sel.mbs, sel.tree, sel.rss))
print(string.format("json_decode %s: %.2fx cjson (%.0f MB/s vs %.0f MB/s), tree memory %.3fx cjson",
  version, c.mbs / j.mbs, c.mbs, j.mbs, c.tree / j.tree))
print(string.format("json_decode %s with the W2 selection: %.0f MB/s, %.2fx the full decode, %.2fx cjson",
  version, sel.mbs, sel.mbs / c.mbs, sel.mbs / j.mbs))
