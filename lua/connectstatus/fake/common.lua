-- connectstatus.fake.common: what every API module of the fake shares: JSON with exact u64
-- counters, responses, target parsing, the fake's own clock and the demo sequences.
local socket = require "socket"
local core = require "connectstatus.core"

local M = {}

M.now = socket.gettime
M.null = core.null
M.MASKED = "****************"

-- Demo texts shaped like the real ones.
M.TRACE_CONFIG = "There were some errors with your configuration:\n" ..
  "topics: Provided Kafka ApiKey is invalid\nkafka.api.secret: Provided Kafka ApiKey is invalid\n"
M.TRACE_TASK = "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSourceTask due to " ..
  "unrecoverable exception.\n\tat org.apache.kafka.connect.runtime.WorkerTask.doRun(WorkerTask.java:210)\n" ..
  "\tat org.apache.kafka.connect.runtime.WorkerTask.run(WorkerTask.java:259)\n" ..
  "Caused by: org.apache.kafka.common.errors.RecordTooLargeException: The message is 1048677 bytes " ..
  "when serialized which is larger than 1048576, which is the value of the max.request.size configuration.\n"
M.OFFSETS_ALTERED = "The Connect framework-managed offsets for this connector have been altered " ..
  "successfully. However, if this connector manages offsets externally, they will need to be altered " ..
  "manually in the system that the connector uses."

function M.int(n)
  return ("%d"):format(n)
end

function M.array(t)
  return setmetatable(t or {}, core.json_array_mt)
end

-- Lua 5.1 and LuaJIT hold numbers as doubles, so counters beyond 2^53 are kept as marked strings
-- and spliced into the JSON text as bare digits.
local U64_PREFIX = "connectstatus.fake.u64:"
local U64_PATTERN = '"connectstatus%.fake%.u64:(%d+)"'

function M.u64(digits)
  return U64_PREFIX .. digits
end

-- The decimal digits of a counter given as a number or as a u64 marker.
local function digits(v)
  if type(v) == "string" then return v:match("^connectstatus%.fake%.u64:(%d+)$") or "0" end
  if type(v) == "number" and v >= 0 then return ("%.0f"):format(v) end
  return "0"
end

-- The exact sum of counters (numbers or u64 markers), as a u64 marker.
function M.u64_sum(values)
  local total = "0"
  for _, v in ipairs(values) do
    local a, b, out, carry = total:reverse(), digits(v):reverse(), {}, 0
    for i = 1, math.max(#a, #b) do
      local d = (tonumber(a:sub(i, i)) or 0) + (tonumber(b:sub(i, i)) or 0) + carry
      out[i], carry = d % 10, math.floor(d / 10)
    end
    if carry > 0 then out[#out + 1] = carry end
    total = table.concat(out):reverse()
  end
  return M.u64(total)
end

function M.encode(value)
  return (assert(core.json_encode(value)):gsub(U64_PATTERN, "%1"))
end

function M.decode(text)
  return core.json_decode(text)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local sextets = { math.floor(n / 262144), math.floor(n / 4096) % 64, math.floor(n / 64) % 64, n % 64 }
    local quad = {}
    for j, d in ipairs(sextets) do quad[j] = B64:sub(d + 1, d + 1) end
    if not b then quad[3] = "=" end
    if not c then quad[4] = "=" end
    out[#out + 1] = table.concat(quad)
  end
  return table.concat(out)
end

function M.percent_decode(s)
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

-- Splits a raw request target into percent-decoded path segments and the raw query.
function M.split_target(target)
  local path, query = target:match("^([^?]*)%??(.*)$")
  local segments = {}
  for segment in path:gmatch("[^/]+") do segments[#segments + 1] = M.percent_decode(segment) end
  return segments, query
end

-- The decoded values of one query parameter, in order. With form = true a "+" is a space, as
-- form decoders (serde_urlencoded, Jersey) read it.
function M.query_values(query, name, form)
  local values = {}
  for pair in query:gmatch("[^&]+") do
    local key, value = pair:match("^([^=]*)=?(.*)$")
    if form then key, value = key:gsub("%+", " "), (value:gsub("%+", " ")) end
    if M.percent_decode(key) == name then values[#values + 1] = M.percent_decode(value) end
  end
  return values
end

-- The set of ?expand= values, accepting both "expand=a,b" and repeated "expand=a&expand=b".
function M.expansions(query)
  local set
  for _, value in ipairs(M.query_values(query, "expand")) do
    set = set or {}
    for item in value:gmatch("[^,]+") do set[item] = true end
  end
  return set
end

-- An ISO 8601 UTC time with milliseconds ("2024-02-20T15:14:19.250Z").
function M.iso_time(t)
  local ms = math.floor(t * 1000 + 0.5) -- whole milliseconds first: t - floor(t) is not exact
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(ms / 1000)) .. (".%03dZ"):format(ms % 1000)
end

---------------------------------------------------------------------------------------------------
-- Responses: { status, headers = { {name, value}... }, body, and optional fault options }.

function M.json_response(status, value)
  return { status = status, headers = {}, body = M.encode(value) }
end

function M.empty_response(status)
  return { status = status, headers = {}, body = "" }
end

function M.confluent_error(status, message)
  return M.json_response(status, { error = { code = status, message = message } })
end

function M.find_header(headers, name)
  name = name:lower()
  for _, h in ipairs(headers) do
    if h[1]:lower() == name then return h[2] end
  end
end

---------------------------------------------------------------------------------------------------
-- Sequences: each read of a resource sees the next element, the last one for good.

function M.peek(seq, reads)
  return seq[math.min(reads + 1, #seq)]
end

function M.is_array(v)
  return type(v) == "table" and #v > 0
end

function M.is_object(v)
  return type(v) == "table" and (next(v) == nil or not M.is_list(v))
end

-- A decoded JSON array, empty or not (a decoded object has string keys only).
function M.is_list(v)
  if type(v) ~= "table" then return false end
  for k in pairs(v) do
    if type(k) ~= "number" then return false end
  end
  return true
end

-- Sets target[key] to value when it is a whole number 0..max (a control API count); a problem
-- naming it when it is not.
function M.set_count(target, key, value, max, name)
  local n = tonumber(value)
  if not (n and n >= 0 and n <= max and n % 1 == 0) then return ("%s must be an integer 0..%d"):format(name, max) end
  target[key] = n
end

function M.copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

-- A connector status snapshot: { connector = { state, trace }, tasks = { {id, state, trace, msg} } }.
function M.snapshot(state, trace, tasks)
  return { connector = { state = state, trace = trace }, tasks = tasks or {} }
end

-- The snapshot with the connector in state and, when task_state is given, every task in it
-- except FAILED ones, which only a restart brings back.
function M.with_states(snap, state, task_state)
  local tasks = {}
  for i, t in ipairs(snap.tasks or {}) do
    tasks[i] = M.copy(t)
    if task_state and t.state ~= "FAILED" then
      tasks[i].state, tasks[i].trace, tasks[i].msg = task_state, nil, nil
    end
  end
  return { connector = { state = state, worker_id = snap.connector.worker_id }, tasks = tasks }
end

-- Two steps of an asynchronous change: the connector first, its tasks one read later.
function M.transition(snap, state, task_state)
  return { M.with_states(snap, state), M.with_states(snap, state, task_state) }
end

local function valid_tasks(tasks)
  if tasks == nil then return true end
  if not M.is_list(tasks) then return false end
  for _, t in ipairs(tasks) do
    if type(t) ~= "table" or type(t.state) ~= "string" then return false end
  end
  return true
end

function M.normalize_state(state)
  if type(state) == "string" then return M.snapshot(state) end
  if type(state) == "table" and type(state.connector) == "table" and type(state.connector.state) == "string"
      and valid_tasks(state.tasks) then
    return state
  end
end

-- Validates a control API list of states; the snapshots, or nil and a problem.
function M.normalize_states(list)
  if not M.is_array(list) then return nil, "states must be a non-empty array" end
  local states = {}
  for i, state in ipairs(list) do
    states[i] = M.normalize_state(state)
    if not states[i] then
      return nil, "each state is a string or an object with connector.state (and tasks with a state each)"
    end
  end
  return states
end

---------------------------------------------------------------------------------------------------
-- Offsets, the same list of { partition = {...}, offset = {...} } in Confluent Cloud and Connect.

-- Deep equality of decoded JSON values (member order differs between tables built differently).
local function same_partition(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same_partition(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- The offsets after a PATCH (the partitions given replace or join) or a DELETE (those given go,
-- or all of them when none are given).
function M.altered_offsets(current, kind, given)
  local out = M.array()
  for _, entry in ipairs(current) do
    local touched = false
    for _, g in ipairs(given) do
      if same_partition(entry.partition, g.partition) then touched = true end
    end
    if not touched and not (kind == "DELETE" and #given == 0) then out[#out + 1] = entry end
  end
  if kind == "PATCH" then
    for _, g in ipairs(given) do out[#out + 1] = g end
  end
  return out
end

function M.entries_problem(list)
  if not M.is_list(list) then return "offsets must be an array" end
  for i, entry in ipairs(list) do
    if type(entry) ~= "table" or type(entry.partition) ~= "table" or type(entry.offset) ~= "table" then
      return ("offsets[%d] must be an object with partition and offset objects"):format(i - 1)
    end
  end
end

return M
