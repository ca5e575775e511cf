-- Waits: poll a status endpoint until it reaches a goal, fails, or the deadline passes. One loop
-- serves the three waits; each wait only says how to read and how to judge what it read.
-- Sleep, clock and jitter default to the client's own (one injection covers retries and waits).
local core = require "connectstatus.core"
local errors = require "connectstatus.errors"
local retry = require "connectstatus.retry"
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

local function check_opt(opts, name, expected)
  local v = opts[name]
  if v ~= nil and type(v) ~= expected then
    error(("option '%s' must be a %s, got %s"):format(name, expected, type(v)), 4)
  end
  return v
end

local function check_seconds(opts, name, default, positive)
  local v = check_opt(opts, name, "number")
  if v == nil then return default end
  if v ~= v or v < 0 or (positive and v == 0) then
    error(("option '%s' must be a %s number of seconds"):format(name, positive and "positive" or "non-negative"), 4)
  end
  return v
end

local function check_string(v, what)
  if type(v) ~= "string" or v == "" then
    error(("%s must be a non-empty string, got %s"):format(what, type(v)), 3)
  end
end

local function check_client(client, method)
  if type(client) ~= "table" or type(client[method]) ~= "function" then
    error("first argument must be a client with a " .. method .. " method", 3)
  end
end

-- The loop's settings from opts, falling back to the client's transport.
local function loop_settings(client, opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then error("opts must be a table, got " .. type(opts), 3) end
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
  while true do
    local value, err = w.read { timeout = math.max(deadline - s.clock(), 0.001) }
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
  end
end

-- ---- connector state ----

local function as_set(target)
  if type(target) == "string" and target ~= "" then return { [target] = true }, target end
  if type(target) ~= "table" or #target == 0 then
    error("target must be a state or a non-empty list of states", 3)
  end
  local set = {}
  for _, state in ipairs(target) do
    if type(state) ~= "string" then error("target states must be strings", 3) end
    set[state] = true
  end
  return set, table.concat(target, "|")
end

local function first_line(s)
  if type(s) ~= "string" then return nil end
  return s:match("^%s*([^\r\n]*%S)")
end

local function connector_failed(name, status, state)
  local trace = status.connector.trace
  local why = first_line(trace)
  return errors.new("failed", ("connector %s is %s%s"):format(name, state, why and ": " .. why or ""),
    { last = status, state = state, trace = trace })
end

local function task_failed(name, status, task)
  local why = first_line(task.msg) or first_line(task.trace)
  return errors.new("failed", ("connector %s task %s is FAILED%s"):format(name, tostring(task.id),
    why and ": " .. why or ""), { last = status, state = "FAILED", task = task.id, msg = task.msg, trace = task.trace })
end

local function describe_status(status)
  local c = type(status.connector) == "table" and status.connector or {}
  local tasks = type(status.tasks) == "table" and status.tasks or {}
  local running = 0
  for _, task in ipairs(tasks) do
    if task.state == "RUNNING" then running = running + 1 end
  end
  return ("%s, %d/%d tasks running"):format(tostring(c.state or "no state"), running, #tasks)
end

-- Only the task whose id is only_task, when it is given (a wait after restarting that one task).
local function tasks_judged(status, with_tasks, only_task)
  local tasks = with_tasks and type(status.tasks) == "table" and status.tasks or {}
  if only_task == nil then return tasks end
  local one = {}
  for _, task in ipairs(tasks) do
    if type(task) == "table" and task.id == only_task then one[1] = task end
  end
  return one
end

-- RESTARTING and UNASSIGNED (Kafka Connect) are pending like any state not targeted; a STOPPED
-- connector has no tasks (or still lists them while it stops), so a wait for STOPPED ignores them.
local function judge_state(name, targets, with_tasks, only_task)
  return function(status)
    local c = type(status.connector) == "table" and status.connector or {}
    local state = c.state
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
  local targets, goal = as_set(target)
  local s
  s, opts = loop_settings(client, opts)
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

local function judge_phase(name, phase, since)
  return function(st)
    local request = type(st.request) == "table" and st.request or {}
    if since then
      -- Timestamps come at whole-second precision, so `since` is compared at that precision too.
      local at = timefmt.parse(request.requested_at)
      if not at or at < math.floor(since) then return "pending" end
    end
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

function M.wait_for_offset_phase(client, name, phase, opts)
  check_client(client, "offset_request_status")
  check_string(name, "connector name")
  if phase == nil then phase = "APPLIED" end
  check_string(phase, "phase")
  local s
  s, opts = loop_settings(client, opts)
  local since = opts.since ~= nil and timefmt.to_epoch(opts.since, "option 'since'", 2) or nil
  return run(s, {
    read = function(call) return client:offset_request_status(name, call) end,
    judge = judge_phase(name, phase, since),
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
  local s = loop_settings(client, opts)
  return run(s, {
    read = function(call) return client:input_stats(pipeline, table_name, connector, call) end,
    judge = judge_input(connector),
    describe = describe_input,
    what = ("input connector %s.%s.%s"):format(pipeline, table_name, connector), goal = "at end of input",
  })
end

return M
