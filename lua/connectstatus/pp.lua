-- pp: a readable, deterministic rendering of any result for the REPL and logs (sorted keys,
-- integers exact, cycles marked); a deterministic JSON writer for the CLI (sorted keys, never
-- fails on a number); and the REPL's help.
local core = require "connectstatus.core"
local errors = require "connectstatus.errors"

local M = {}

local HAS_INTEGERS = math.type ~= nil
local EXACT = 2 ^ 53 -- beyond it, a float no longer holds every integer

local function is_identifier(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta == "number" end
  if ta ~= "number" and ta ~= "string" then return tostring(a) < tostring(b) end
  return a < b
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, key_order)
  return keys
end

-- True for a number that may not be the one the API sent: a float holding an integer beyond
-- 2^53 or at it, which 2^53 + 1 rounds to (every number on LuaJIT/5.1; an integer too large for
-- 64 bits on 5.3+).
function M.is_inexact(v)
  if type(v) ~= "number" or (HAS_INTEGERS and math.type(v) == "integer") then return false end
  return v == math.floor(v) and (v >= EXACT or v <= -EXACT) and v - v == 0
end

local function scalar(v)
  if v == core.null then return "null" end
  if type(v) == "string" then return (("%q"):format(v):gsub("\\\n", "\\n")) end
  if HAS_INTEGERS and math.type(v) == "integer" then return ("%d"):format(v) end
  if type(v) == "number" and v == math.floor(v) and v - v == 0 then
    return ("%.0f"):format(v)
  end
  return tostring(v)
end

local render

local function render_table(t, indent, seen, out)
  local keys = sorted_keys(t)
  if #keys == 0 then
    out[#out + 1] = "{}"
    return
  end
  local is_array = #keys == #t
  seen[t] = true
  out[#out + 1] = "{\n"
  for _, k in ipairs(keys) do
    out[#out + 1] = indent .. "  "
    if not is_array then
      out[#out + 1] = is_identifier(k) and k or "[" .. scalar(k) .. "]"
      out[#out + 1] = " = "
    end
    render(t[k], indent .. "  ", seen, out)
    out[#out + 1] = ",\n"
  end
  out[#out + 1] = indent .. "}"
  seen[t] = nil
end

function render(v, indent, seen, out)
  if type(v) ~= "table" then
    out[#out + 1] = scalar(v)
  elseif seen[v] then
    out[#out + 1] = "<cycle>"
  elseif errors.is_error(v) then
    -- Every field (trace, last, attempts, url...), not just the one line tostring gives.
    out[#out + 1] = "connectstatus.Error "
    render_table(v, indent, seen, out)
  elseif getmetatable(v) and getmetatable(v).__tostring then
    out[#out + 1] = tostring(v)
  else
    render_table(v, indent, seen, out)
  end
end

function M.format(v)
  local out = {}
  render(v, "", {}, out)
  return table.concat(out)
end

-- Prints each argument's rendering on its own line, so `pp(cc:status(n))` also shows the error
-- of a `nil, err` pair. Returns nothing: at `lua -i` a result would be printed a second time.
function M.pp(...)
  for i = 1, select("#", ...) do
    print(M.format((select(i, ...))))
  end
end

-- ---- JSON ----

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
  ["\t"] = "\\t" }

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

-- Shortest of %.14g..%.17g that reads back as the same double.
local function shortest(x)
  for digits = 14, 17 do
    local s = ("%." .. digits .. "g"):format(x)
    if tonumber(s) == x then return s end
  end
  return ("%.17g"):format(x)
end

local function json_number(x, state)
  if HAS_INTEGERS and math.type(x) == "integer" then return ("%d"):format(x) end
  if x ~= x then return "null" end
  -- 1e999 is valid JSON that every reader takes as the largest magnitude it has (or infinity).
  if x - x ~= 0 then return x > 0 and "1e999" or "-1e999" end
  if M.is_inexact(x) then state.inexact = state.inexact + 1 end
  if x == math.floor(x) and (not HAS_INTEGERS or M.is_inexact(x)) then return ("%.0f"):format(x) end
  local s = shortest(x)
  if HAS_INTEGERS and not s:find("[%.eEn]") then s = s .. ".0" end -- stays a float, as cs.json.encode does
  return s
end

local function is_array(t)
  local mt = getmetatable(t)
  if mt == core.json_array_mt then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local encode

local function encode_table(t, state, depth, out)
  if depth > 200 then error("json: tables nested deeper than 200", 0) end
  if state.seen[t] then error("json: a table contains itself", 0) end
  state.seen[t] = true
  if is_array(t) then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then out[#out + 1] = "," end
      encode(t[i], state, depth + 1, out)
    end
    out[#out + 1] = "]"
  else
    out[#out + 1] = "{"
    for i, k in ipairs(sorted_keys(t)) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = json_string(type(k) == "string" and k or scalar(k))
      out[#out + 1] = ":"
      encode(t[k], state, depth + 1, out)
    end
    out[#out + 1] = "}"
  end
  state.seen[t] = nil
end

function encode(v, state, depth, out)
  local tv = type(v)
  if v == nil or v == core.null then
    out[#out + 1] = "null"
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  elseif tv == "number" then
    out[#out + 1] = json_number(v, state)
  elseif tv == "string" then
    out[#out + 1] = json_string(v)
  elseif tv == "table" then
    encode_table(v, state, depth, out)
  else
    out[#out + 1] = json_string(tostring(v)) -- a handle or function in a result: its name
  end
end

-- json(v) -> text, inexact: compact JSON with object keys sorted (so outputs diff and snapshot),
-- integers exact, NaN as null, infinities as 1e999. inexact counts the numbers that may differ
-- from what the API sent (see is_inexact). Raises only on a cycle or absurd nesting.
function M.json(v)
  local state = { seen = {}, inexact = 0 }
  local out = {}
  encode(v, state, 0, out)
  return table.concat(out), state.inexact
end

-- ---- help for the REPL ----

local MODULE_HELP = {
  { "confluent{...}", "a Confluent Cloud Connect client (api_key/api_secret or token, environment, cluster)" },
  { "kafka_connect{...}", "a self-managed Kafka Connect client (base_url, username/password or token)" },
  { "feldera{...}", "a Feldera pipeline manager client (base_url, api_key, tenant)" },
  { "loop{max_per_host = 32}", "a loop whose tasks' calls never block the host: spawn, step, run" },
  { "map(list, fn, {parallel = 8})", "fn(item) for each item, in parallel: values, errs" },
  { "sleep(seconds)", "a loop timer inside a task, a plain sleep outside" },
  { "wait_for_state(client, name, target, opts)", "wait until a connector and its tasks reach a state" },
  { "wait_for_offset_phase(client, name, phase, opts)", "wait until an alter-offsets request reaches a phase" },
  { "wait_for_end_of_input(client, pipeline, table, connector, opts)", "wait until a Feldera input is consumed" },
  { "wait_for_completion(client, pipeline, token, opts)", "wait until a Feldera completion token is processed" },
  { "health(status[, opts])", "healthy | pending | degraded | failed, and the reasons" },
  { "summarize(list|client[, opts])", "counts and unhealthy connectors of cc:list{expand={'status'}}, or of a client" },
  { "pp(...)", "print any value readably (sorted keys, exact integers, every field of an error)" },
  { "help([client])", "this list, or what a client can do" },
  { "is_error(v)", "true for a connectstatus.Error" },
  { "json.encode(v), json.decode(s)", "the C JSON codec (exact integers, cs.null)" },
  { "fake.start{...}", "the bundled fake API in a child process (fake.url, fake:stop())" },
}

-- One line per client method; the CLI command beside it where there is one.
local METHOD_HELP = {
  status = { "status(name)", "the connector's state, worker, trace and tasks", "status" },
  tasks = { "tasks(name)", "the connector's tasks and their configs", "tasks" },
  list = { "list{expand = {'id', 'info', 'status'}}", "connector names, or a map name -> expansions", "list" },
  offset_request_status = { "offset_request_status(name)", "the last alter-offsets request and its phase",
    "offsets-status" },
  wait_for_state = { "wait_for_state(name, target, opts)", "wait until the connector and its tasks reach a state",
    "wait" },
  wait_for_offset_phase = { "wait_for_offset_phase(name, phase, opts)",
    "wait until the offsets request reaches a phase", "wait-offsets" },
  input_stats = { "input_stats(pipeline, table, connector)", "a Feldera input connector's stats", "feldera-stats" },
  wait_for_end_of_input = { "wait_for_end_of_input(pipeline, table, connector, opts)",
    "wait until the input connector has consumed all its input", "wait-input" },
  rate_limit = { "rate_limit()", "the last X-RateLimit-* values seen: { limit, remaining, reset }" },
  close = { "close()", "release the connection (idempotent; also on collection)" },
  is_closed = { "is_closed()", "true once close() ran" },
  pause = { "pause(name, opts)", "pause the connector; opts.wait waits until it and its tasks are PAUSED" },
  resume = { "resume(name, opts)", "resume the connector; opts.wait waits until it and its tasks are RUNNING" },
  offsets = { "offsets(name)", "the connector's current offsets" },
  alter_offsets = { "alter_offsets(name, offsets, opts)", "change offsets; opts.wait waits for the outcome" },
  reset_offsets = { "reset_offsets(name, ..., opts)", "reset offsets; opts.wait waits for the outcome" },
  output_stats = { "output_stats(pipeline, view, connector)", "a Feldera output connector's stats" },
  pipeline_stats = { "pipeline_stats(pipeline)", "every endpoint of a Feldera pipeline in one read" },
  pause_connector = { "pause_connector(pipeline, table, connector)", "pause a Feldera input connector" },
  start_connector = { "start_connector(pipeline, table, connector)", "start a Feldera input connector" },
  completion_token = { "completion_token(pipeline, table, connector)", "a token for what the connector has ingested" },
  completion_status = { "completion_status(pipeline, token)", "whether that token's input is processed" },
  wait_for_completion = { "wait_for_completion(pipeline, token, opts)", "wait until the token's input is processed" },
  info = { "info()", "the Kafka Connect worker's version, commit and cluster id" },
  connector = { "connector(name)", "the connector's info: config, tasks, type" },
  task_status = { "task_status(name, id)", "one task's state and trace" },
  topics = { "topics(name)", "the topics the connector has used" },
  restart = { "restart(name, opts)", "restart (include_tasks, only_failed); opts.wait waits for RUNNING" },
  restart_task = { "restart_task(name, id, opts)", "restart one task; opts.wait waits for it" },
  stop = { "stop(name, opts)", "stop the connector; opts.wait waits for STOPPED" },
}

-- Helpers the backends share among themselves, not meant to be called.
local INTERNAL = { act = true, get = true, describe = true, connector_path = true, change_offsets = true,
  gated_get = true, list_by_reads = true, refusal = true, remember = true, simple_action = true,
  until_state = true, worker_version = true }

-- Every method a client's class has, its own and inherited ones, by name.
local function methods_of(client)
  local found, mt = {}, getmetatable(client)
  local class = type(mt) == "table" and mt.__index
  while type(class) == "table" do
    for name, f in pairs(class) do
      if type(name) == "string" and type(f) == "function" and not name:find("^_") and not INTERNAL[name] then
        found[name] = true
      end
    end
    local up = getmetatable(class)
    class = type(up) == "table" and up.__index
  end
  return found
end

local function columns(rows)
  local width = 0
  for _, row in ipairs(rows) do width = math.max(width, #row[1]) end
  local lines = {}
  for i, row in ipairs(rows) do
    lines[i] = "  " .. row[1] .. (" "):rep(width - #row[1] + 2) .. row[2] .. (row[3] and "  [CLI: " .. row[3] .. "]"
      or "")
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The methods of a client's class, from its metatable, each with its line.
local function client_help(client)
  local rows = {}
  for _, name in ipairs(sorted_keys(methods_of(client))) do
    local h = METHOD_HELP[name]
    rows[#rows + 1] = h and { h[1], h[2], h[3] } or { name .. "(...)", "(undocumented)" }
  end
  return tostring(client) .. " methods (call as client:method(...)):\n" .. columns(rows)
end

function M.help_text(client)
  if client == nil then
    return "connectstatus " .. tostring(core.version) .. " (cs = require 'connectstatus'):\n" ..
      columns(MODULE_HELP) .. "cs.help(client) lists what a client can do.\n"
  end
  if type(client) ~= "table" then error("help expects a client, got " .. type(client), 3) end
  return client_help(client)
end

function M.help(client)
  io.stdout:write(M.help_text(client))
end

return M
