-- Waits: poll a status endpoint until it reaches a goal, fails, or the deadline passes. One loop
-- serves the three waits; each wait only says how to read and how to judge what it read.
-- Sleep, clock and jitter default to the client's own (one injection covers retries and waits).
local core = require "connectstatus.core"
local errors = require "connectstatus.errors"
local options = require "connectstatus.options"
local retry = require "connectstatus.retry"
local shape = require "connectstatus.status"
local timefmt = require "connectstatus.timefmt"

local M = {}

M.DEFAULT_TIMEOUT = 300
M.DEFAULT_INTERVAL = 5
local JITTER = 0.2 -- each sleep is the interval +/- 10%, so many waiters do not poll in lockstep

-- Read errors that end a wait at once: whatever the client itself would not read again (the
-- same judgement, so a Feldera 500 ends a wait as it ends a read); not_found is decided by
-- allow_missing.
local function ends_wait(s, err)
  if err.kind == "not_found" then return not s.allow_missing end
  return not retry.retryable(s.rules, "GET", err)
end

-- ---- argument checks (wrong arguments raise at once) ----

local raise = options.raise

local function check_opt(opts, name, expected)
  local v = opts[name]
  if v ~= nil and type(v) ~= expected then
    raise(("option '%s' must be a %s, got %s"):format(name, expected, type(v)))
  end
  return v
end

local function check_seconds(opts, name, default, positive)
  local v = check_opt(opts, name, "number")
  if v == nil then return default end
  if v ~= v or v < 0 or (positive and v == 0) then
    raise(("option '%s' must be a %s number of seconds"):format(name, positive and "positive" or "non-negative"))
  end
  return v
end

local function check_string(v, what)
  if type(v) ~= "string" or v == "" then
    raise(("%s must be a non-empty string, got %s"):format(what, type(v)))
  end
end

local function check_client(client, method)
  if type(client) ~= "table" or type(client[method]) ~= "function" then
    raise("first argument must be a client with a " .. method .. " method")
  end
end

-- What every wait takes; each wait adds its own (extra).
local COMMON_OPTIONS = { "timeout", "interval", "failed_grace", "sleep", "clock", "on_poll", "allow_missing", "force" }

-- The loop's settings from opts, falling back to the client's transport. A misspelt option
-- raises with a suggestion.
local function loop_settings(client, opts, what, extra)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then raise("opts must be a table, got " .. type(opts)) end
  local known = {}
  for _, name in ipairs(COMMON_OPTIONS) do known[#known + 1] = name end
  for _, name in ipairs(extra or {}) do known[#known + 1] = name end
  options.check(opts, known, what, options.outside_level())
  check_opt(opts, "force", "boolean")
  local t = client.transport
  return {
    timeout = check_seconds(opts, "timeout", M.DEFAULT_TIMEOUT),
    interval = check_seconds(opts, "interval", M.DEFAULT_INTERVAL, true),
    failed_grace = check_seconds(opts, "failed_grace", 0),
    sleep = check_opt(opts, "sleep", "function") or (t and t:sleeper()) or core.sleep,
    clock = check_opt(opts, "clock", "function") or (t and t.clock) or core.monotonic,
    random = t and t.random or math.random,
    on_poll = check_opt(opts, "on_poll", "function"),
    allow_missing = check_opt(opts, "allow_missing", "boolean") == true,
    rules = t and t.rules or {},
  }, opts
end

-- ---- the loop ----

-- The interval with jitter, stretched to a Retry-After the API asked for, shortened to recheck a
-- FAILED when its grace ends, and never past the deadline.
local function next_sleep(s, now, deadline, err, grace_end)
  local delay = s.interval * (1 - JITTER / 2 + JITTER * s.random())
  if err and err.retry_after then delay = math.max(delay, err.retry_after) end
  if grace_end and grace_end > now then delay = math.min(delay, grace_end - now) end
  return math.min(delay, deadline - now)
end

local function timeout_error(s, what, goal, last, last_err, describe)
  local seen = last and describe(last) or (last_err and tostring(last_err.kind)) or "nothing"
  return errors.new("timeout",
    ("gave up after %gs waiting for %s to be %s (last seen: %s)"):format(s.timeout, what, goal, seen),
    { last = last, last_error = last_err })
end

-- w: read(call) -> value | nil, err, where call = { timeout = the time left }: a read (and its
-- retries) never runs past the wait's deadline; judge(value) -> "done" | "pending" | "failed", failure (an Error);
-- describe(value) -> a few words for messages; what/goal name the wait in messages.
local function run(s, w)
  local started = s.clock()
  local deadline = started + s.timeout
  local last, last_err, failing_since
  local call = {} -- the first read gets the client's own timeout when the wait has none
  if s.timeout > 0 then call.timeout = s.timeout end
  while true do
    local value, err = w.read(call)
    local now = s.clock()
    if s.on_poll then s.on_poll(value, now - started, err) end
    local verdict, failure
    if value ~= nil then
      last, last_err = value, nil
      verdict, failure = w.judge(value)
    elseif ends_wait(s, err) then
      return nil, err
    else
      last_err = err
    end
    if verdict == "done" then return value end
    if verdict == "failed" then
      failing_since = failing_since or now
      if now - failing_since >= s.failed_grace or now >= deadline then return nil, failure end
    elseif verdict then
      failing_since = nil -- recovered; a failed read says nothing either way, so it keeps the grace running
    end
    if now >= deadline then return nil, timeout_error(s, w.what, w.goal, last, last_err, w.describe) end
    s.sleep(next_sleep(s, now, deadline, err, failing_since and failing_since + s.failed_grace))
    -- The next read, and its retries, get the time left; none left means no read.
    local left = deadline - s.clock()
    if left <= 0 then return nil, timeout_error(s, w.what, w.goal, last, last_err, w.describe) end
    call = { timeout = left }
  end
end

-- ---- connector state ----

-- The target as a set of state names, in any case; a state no backend knows raises (it would
-- never match) unless force is set.
local function as_set(target, force)
  if type(target) == "string" then target = { target } end
  if type(target) ~= "table" or #target == 0 then
    raise("target must be a state or a non-empty list of states")
  end
  local set, names = {}, {}
  for i, state in ipairs(target) do
    if type(state) ~= "string" then raise("target states must be strings") end
    local name, why = options.canonical(state, "state", force)
    if not name then raise(why .. " (force = true waits for it anyway)") end
    set[name], names[i] = true, name
  end
  return set, table.concat(names, "|")
end

local function connector_failed(name, status, state)
  local trace = shape.trace(status)
  local why = shape.trace_line(trace)
  return errors.new("failed", ("connector %s is %s%s"):format(name, state, why and ": " .. why or ""),
    { last = status, state = state, trace = trace })
end

local function task_failed(name, status, task)
  local why = shape.task_line(task)
  return errors.new("failed", ("connector %s task %s is FAILED%s"):format(name, tostring(task.id),
    why and ": " .. why or ""), { last = status, state = "FAILED", task = task.id, msg = task.msg, trace = task.trace })
end

-- The tasks of a status (status.lua reads the shape); an entry that is not an object is skipped.
local function tasks_of(status)
  local list = {}
  for _, task in ipairs(shape.tasks(status)) do
    if not task.unreadable then list[#list + 1] = task end
  end
  return list
end

local function describe_status(status)
  local tasks = tasks_of(status)
  local running = 0
  for _, task in ipairs(tasks) do
    if task.state == "RUNNING" then running = running + 1 end
  end
  return ("%s, %d/%d tasks running"):format(shape.state(status) or "no state", running, #tasks)
end

-- Only the task whose id is only_task, when it is given (a wait after restarting that one task).
local function tasks_judged(status, with_tasks, only_task)
  local tasks = with_tasks and tasks_of(status) or {}
  if only_task == nil then return tasks end
  local one = {}
  for _, task in ipairs(tasks) do
    if task.id == only_task then one[1] = task end
  end
  return one
end

-- RESTARTING and UNASSIGNED (Kafka Connect) are pending like any state not targeted; a STOPPED
-- connector has no tasks (or still lists them while it stops), so a wait for STOPPED ignores them.
local function judge_state(name, targets, with_tasks, only_task)
  return function(status)
    local state = shape.state(status)
    if (state == "FAILED" or state == "DELETED") and not targets[state] then
      return "failed", connector_failed(name, status, state)
    end
    if state == "STOPPED" and targets.STOPPED then return "done" end
    local tasks = tasks_judged(status, with_tasks, only_task)
    for _, task in ipairs(tasks) do
      if task.state == "FAILED" and not targets.FAILED then return "failed", task_failed(name, status, task) end
    end
    if not targets[state] then return "pending" end
    if with_tasks and state == "RUNNING" and #tasks == 0 then return "pending" end
    for _, task in ipairs(tasks) do
      if not targets[task.state] then return "pending" end
    end
    return "done"
  end
end

function M.wait_for_state(client, name, target, opts)
  check_client(client, "status")
  check_string(name, "connector name")
  local s
  s, opts = loop_settings(client, opts, "wait_for_state", { "tasks", "task" })
  local targets, goal = as_set(target, opts.force)
  local with_tasks = check_opt(opts, "tasks", "boolean") ~= false
  local only_task = check_opt(opts, "task", "number")
  return run(s, {
    read = function(call) return client:status(name, call) end,
    judge = judge_state(name, targets, with_tasks, only_task),
    describe = describe_status,
    what = "connector " .. name, goal = goal,
  })
end

-- ---- offsets request phase ----

-- A timestamp as whole epoch seconds and its fraction digits ("" when it has none), so that two
-- timestamps compare at the coarser of their two precisions.
local function instant(s)
  local at = timefmt.parse(s)
  if not at then return nil end
  return math.floor(at), s:match("%d%d:%d%d:%d%d[.,](%d+)") or ""
end

-- Epoch seconds as an instant to the microsecond (rounded first, so .9999999 carries over).
local function epoch_instant(t)
  local us = math.floor(t * 1e6 + 0.5)
  local whole = math.floor(us / 1e6)
  return whole, ("%06d"):format(us - whole * 1e6)
end

-- -1, 0 or 1 as instant a is before, at (at the coarser precision) or after instant b.
local function compare_instants(a_sec, a_frac, b_sec, b_frac)
  if a_sec ~= b_sec then return a_sec < b_sec and -1 or 1 end
  local n = math.min(#a_frac, #b_frac)
  local x, y = a_frac:sub(1, n), b_frac:sub(1, n)
  if x == y then return 0 end
  return x < y and -1 or 1
end

-- Whether the status shows another request than the one waited for: "older" keeps the wait
-- going (the API still shows the previous request), "newer" means ours was replaced.
local function other_request(mine, shown)
  local order = 0
  if shown.requested_at ~= mine.requested_at then
    local sec, frac = instant(shown.requested_at)
    if not sec or not mine.sec then return "older" end
    order = compare_instants(sec, frac, mine.sec, mine.frac)
  end
  if order > 0 then return "newer" end
  if order < 0 or (mine.type and shown.type ~= nil and shown.type ~= mine.type) then return "older" end
  return nil
end

-- A request older than since, at the precision its requested_at carries: a whole-second stamp
-- in the same second as since may be the one sent after it, so it counts as not older.
local function before_since(shown, since)
  local sec, frac = instant(shown.requested_at)
  return not sec or compare_instants(sec, frac, since.sec, since.frac) < 0
end

local function superseded(name, st, mine)
  return errors.new("failed", ("the offsets request of %s requested at %s was superseded by one requested at %s")
    :format(name, mine.requested_at, tostring(st.request.requested_at)), { last = st, superseded = true })
end

local function judge_phase(name, phase, since, mine)
  return function(st)
    local request = type(st.request) == "table" and st.request or {}
    if mine then
      local other = other_request(mine, request)
      if other == "newer" then return "failed", superseded(name, st, mine) end
      if other then return "pending" end
    end
    if since and before_since(request, since) then return "pending" end
    local status = type(st.status) == "table" and st.status or {}
    if status.phase == phase then return "done" end
    if status.phase == "FAILED" then
      return "failed", errors.new("failed", ("offsets request for %s FAILED%s"):format(name,
        status.message and ": " .. tostring(status.message) or ""), { last = st, message = status.message })
    end
    return "pending"
  end
end

local function describe_phase(st)
  local phase = type(st.status) == "table" and st.status.phase or "no phase"
  local at = type(st.request) == "table" and st.request.requested_at
  return tostring(phase) .. (at and " (requested at " .. tostring(at) .. ")" or "")
end

-- The request to match (option 'request': the accepted request, or { requested_at =, type = }).
local function check_request(request)
  if request == nil then return nil end
  if type(request) ~= "table" or type(request.requested_at) ~= "string" or request.requested_at == "" then
    raise("option 'request' must be a table with the requested_at the API answered, got " .. type(request))
  end
  if request.type ~= nil and type(request.type) ~= "string" then
    raise("option 'request': type must be a string, got " .. type(request.type))
  end
  local sec, frac = instant(request.requested_at)
  return { requested_at = request.requested_at, type = request.type, sec = sec, frac = frac }
end

local function check_since(since)
  if since == nil then return nil end
  local at = timefmt.to_epoch(since, "option 'since'", 3)
  local sec, frac
  if type(since) == "string" then sec, frac = instant(since) else sec, frac = epoch_instant(at) end
  return { sec = sec, frac = frac }
end

function M.wait_for_offset_phase(client, name, phase, opts)
  check_client(client, "offset_request_status")
  check_string(name, "connector name")
  if phase == nil then phase = "APPLIED" end
  check_string(phase, "phase")
  local s
  s, opts = loop_settings(client, opts, "wait_for_offset_phase", { "since", "request" })
  local why
  phase, why = options.canonical(phase, "phase", opts.force)
  if not phase then raise(why .. " (force = true waits for it anyway)") end
  local since = check_since(opts.since)
  local mine = check_request(opts.request)
  return run(s, {
    read = function(call) return client:offset_request_status(name, call) end,
    judge = judge_phase(name, phase, since, mine),
    describe = describe_phase,
    what = "the offsets request of " .. name, goal = phase,
  })
end

-- ---- Feldera end of input ----

local function judge_input(connector)
  return function(stats)
    if type(stats.fatal_error) == "string" and stats.fatal_error ~= "" then
      return "failed", errors.new("failed", ("input connector %s: %s"):format(connector, stats.fatal_error),
        { last = stats, fatal_error = stats.fatal_error })
    end
    local m = type(stats.metrics) == "table" and stats.metrics or {}
    if m.end_of_input == true and m.buffered_records == 0 then return "done" end
    return "pending"
  end
end

local function describe_input(stats)
  local m = type(stats.metrics) == "table" and stats.metrics or {}
  return ("end_of_input=%s, buffered_records=%s"):format(tostring(m.end_of_input), tostring(m.buffered_records))
end

function M.wait_for_end_of_input(client, pipeline, table_name, connector, opts)
  check_client(client, "input_stats")
  check_string(pipeline, "pipeline")
  check_string(table_name, "table name")
  check_string(connector, "connector name")
  local s = loop_settings(client, opts, "wait_for_end_of_input")
  return run(s, {
    read = function(call) return client:input_stats(pipeline, table_name, connector, call) end,
    judge = judge_input(connector),
    describe = describe_input,
    what = ("input connector %s.%s.%s"):format(pipeline, table_name, connector), goal = "at end of input",
  })
end

-- ---- Feldera completion token ----

local function judge_completion(answer)
  if answer.status == "complete" then return "done" end
  return "pending" -- "inprogress", and any status this library does not know yet
end

local function describe_completion(answer)
  return "status=" .. tostring(answer.status)
end

-- Done when everything the connector had ingested when the token was taken is processed. An
-- unknown or expired token (a 4xx) ends the wait at once, like any read the client would not repeat.
function M.wait_for_completion(client, pipeline, token, opts)
  check_client(client, "completion_status")
  check_string(pipeline, "pipeline")
  check_string(token, "completion token")
  local s = loop_settings(client, opts, "wait_for_completion")
  return run(s, {
    read = function(call) return client:completion_status(pipeline, token, call) end,
    judge = judge_completion,
    describe = describe_completion,
    what = "the completion token of pipeline " .. pipeline, goal = "complete",
  })
end

-- ---- checking a wait's arguments before acting ----

local STOP = setmetatable({}, { __tostring = function() return "connectstatus.wait: stopped before reading" end })

-- Raises, at level, what the wait named wait_name would raise for these arguments, and sends
-- nothing: the wait runs against a stand-in for the client whose first read stops it. An action
-- checks its wait this way before its write goes out, by the very checks the wait makes.
function M.check(level, wait_name, client, read_method, ...)
  local stand_in = client -- not a client: the wait raises on it before reading
  if type(client) == "table" and type(client[read_method]) == "function" then
    stand_in = setmetatable({ [read_method] = function() error(STOP, 0) end }, { __index = client })
  end
  local ok, err = pcall(M[wait_name], stand_in, ...)
  if ok or err == STOP then return end
  error((tostring(err):gsub("^[^\n]-:%d+: ", "")), level + 1)
end

return M
