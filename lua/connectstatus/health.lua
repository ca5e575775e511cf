-- Health of one connector status and a summary of a fleet. The order of severity is
-- failed > degraded > pending > healthy; a connector gets the worst verdict any of its rules gives.
-- Statuses come from the network: one that is not an object, or a task entry that is not one,
-- gets a verdict with a reason instead of an error.
local core = require "connectstatus.core"
local status = require "connectstatus.status"
local options = require "connectstatus.options"

local M = {}

M.LEVELS = { "healthy", "pending", "degraded", "failed" }
local SEVERITY = { healthy = 1, pending = 2, degraded = 3, failed = 4 }

-- Connector states of Confluent Cloud and Kafka Connect, and what each says on its own (tasks are
-- judged separately). PAUSED and STOPPED are degraded: on purpose or not, they move no data.
-- Anything else (PROVISIONING, NONE, UNASSIGNED, RESTARTING, unknown states) is pending.
M.BY_STATE = {
  RUNNING = "healthy",
  FAILED = "failed",
  DELETED = "failed",
  DEGRADED = "degraded",
  PAUSED = "degraded",
  STOPPED = "degraded",
}
-- Task states that say "not there yet" rather than "broken", even under a RUNNING connector.
local TASK_PENDING = { UNASSIGNED = true, RESTARTING = true, PROVISIONING = true }

-- What a garbage status or list entry counts as: it cannot be shown to move data. A garbage task
-- entry counts as a FAILED task does.
M.UNREADABLE = "failed"
local UNREADABLE_TASK = "degraded"

local OPTIONS = { "ignore_states", "states" }

local function worse(a, b)
  return SEVERITY[b] > SEVERITY[a] and b or a
end

local function with_detail(reason, detail)
  return detail and reason .. ": " .. detail or reason
end

-- opts -> { STATE = level } overrides, checked (level is the user's call, seen from M.health).
local function policy(opts, level)
  if opts == nil then return {} end
  level = options.user_level(level + 1) - 1 -- errors below say level + 1
  if type(opts) ~= "table" then error("health options must be a table, got " .. type(opts), level + 1) end
  options.check(opts, OPTIONS, "connectstatus.health", level + 1)
  local overrides = {}
  if opts.states ~= nil then
    if type(opts.states) ~= "table" then error("option 'states' must be a table { STATE = level }", level + 1) end
    for state, verdict in pairs(opts.states) do
      if type(state) ~= "string" or not SEVERITY[verdict] then
        error("option 'states' maps a state name to healthy, pending, degraded or failed, got " ..
          tostring(state) .. " = " .. tostring(verdict), level + 1)
      end
      overrides[state:upper()] = verdict
    end
  end
  if opts.ignore_states ~= nil then
    if type(opts.ignore_states) ~= "table" then
      error("option 'ignore_states' must be a list of state names", level + 1)
    end
    for _, state in ipairs(opts.ignore_states) do
      if type(state) ~= "string" then error("option 'ignore_states' must be a list of state names", level + 1) end
      overrides[state:upper()] = "healthy"
    end
  end
  return overrides
end

local function state_verdict(state, overrides)
  if state and overrides[state] then return overrides[state] end
  return M.BY_STATE[state] or "pending"
end

local function task_verdict(task, connector_state, overrides)
  if task.unreadable then return UNREADABLE_TASK end
  local state = task.state
  if state and overrides[state] then return overrides[state] end
  if state == "RUNNING" then return "healthy" end
  if state == "FAILED" then return "degraded" end
  if TASK_PENDING[state] then return "pending" end
  -- A task that is not RUNNING under a RUNNING connector is the classic silent failure.
  if connector_state == "RUNNING" then return "degraded" end
  return "pending"
end

local function judge_tasks(state, tasks, overrides, reasons)
  local verdict = "healthy"
  for _, task in ipairs(tasks) do
    local v = task_verdict(task, state, overrides)
    if v ~= "healthy" then
      local what = task.unreadable and status.task_label(task) .. " unreadable (not an object)"
        or ("%s %s"):format(status.task_label(task), task.state or "has no state")
      reasons[#reasons + 1] = with_detail(what, status.task_line(task))
      verdict = worse(verdict, v)
    end
  end
  if state == "RUNNING" and #tasks == 0 and not overrides.RUNNING then
    reasons[#reasons + 1] = "RUNNING with no tasks yet"
    verdict = worse(verdict, "pending")
  end
  return verdict
end

-- ---- Feldera pipelines: the /stats document ({ global_metrics, inputs, outputs }) ----

local PIPELINE_STATES = { RUNNING = "healthy", PAUSED = "degraded", TERMINATED = "failed" }
local ENDPOINT_ERRORS = { "num_parse_errors", "num_encode_errors", "num_transport_errors" }

-- Inputs before outputs, in the document's order, so that reasons come out the same every time.
local function endpoints_of(st)
  local list = {}
  for _, part in ipairs { { "input", st.inputs }, { "output", st.outputs } } do
    for _, ep in ipairs(type(part[2]) == "table" and part[2] or {}) do list[#list + 1] = { part[1], ep } end
  end
  return list
end

local function is_pipeline(st)
  return type(st) == "table" and type(st.global_metrics) == "table"
end

local function pipeline_state(st)
  local state = st.global_metrics.state
  return type(state) == "string" and state or nil
end

local function counted(n)
  if type(n) ~= "number" or n ~= n or n <= 0 then return nil end
  return n == math.floor(n) and ("%.0f"):format(n) or tostring(n)
end

-- One endpoint: failed on a fatal error; degraded when paused or counting errors.
local function judge_endpoint(kind, ep, overrides, reasons)
  if type(ep) ~= "table" then
    reasons[#reasons + 1] = kind .. " endpoint unreadable (not an object)"
    return UNREADABLE_TASK
  end
  local name = kind .. " " .. (type(ep.endpoint_name) == "string" and ep.endpoint_name or "?")
  local fatal = status.trace_line(ep.fatal_error)
  if fatal then
    reasons[#reasons + 1] = name .. ": fatal error: " .. fatal
    return "failed"
  end
  local verdict = "healthy"
  if ep.paused == true then
    local v = overrides.PAUSED or "degraded"
    if v ~= "healthy" then reasons[#reasons + 1] = name .. " paused" end
    verdict = worse(verdict, v)
  end
  local m = type(ep.metrics) == "table" and ep.metrics or {}
  local errs = {}
  for _, k in ipairs(ENDPOINT_ERRORS) do
    local n = counted(m[k])
    if n then errs[#errs + 1] = k .. " " .. n end
  end
  if #errs > 0 then
    reasons[#reasons + 1] = name .. ": " .. table.concat(errs, ", ")
    verdict = worse(verdict, "degraded")
  end
  return verdict
end

local function judge_pipeline(st, overrides, reasons)
  local state = pipeline_state(st)
  local key = state and state:upper()
  local verdict = (key and overrides[key]) or PIPELINE_STATES[key] or "pending"
  if verdict ~= "healthy" then reasons[#reasons + 1] = "pipeline " .. (state or "has no state") end
  for _, e in ipairs(endpoints_of(st)) do
    verdict = worse(verdict, judge_endpoint(e[1], e[2], overrides, reasons))
  end
  return verdict
end

local function judge(st, overrides)
  local reasons = setmetatable({}, core.json_array_mt)
  if type(st) ~= "table" then
    reasons[1] = "unreadable status (a " .. type(st) .. ", not an object)"
    return M.UNREADABLE, reasons
  end
  if is_pipeline(st) then return judge_pipeline(st, overrides, reasons), reasons end
  local state = status.state(st)
  local verdict = state_verdict(state, overrides)
  if verdict ~= "healthy" then
    reasons[1] = with_detail("connector " .. (state or "has no state"), status.trace_line(status.trace(st)))
  end
  return worse(verdict, judge_tasks(state, status.tasks(st), overrides, reasons)), reasons
end

-- A client, as opposed to a document it read.
local function is_client(v)
  return type(v) == "table" and getmetatable(v) ~= nil and type(v.list) == "function"
end

-- health(status[, opts]) -> "healthy" | "degraded" | "failed" | "pending", reasons (a list of short
-- strings). opts.ignore_states = { "PAUSED", ... } rates those states healthy; opts.states =
-- { STATE = level } sets any state's level (both for the connector and its tasks). A Feldera
-- pipeline's stats document (GET /v0/pipelines/P/stats) is judged by its state (Running, Paused,
-- Terminated) and its endpoints: a fatal error fails it; a paused endpoint or counted parse,
-- encode or transport errors degrade it.
function M.health(st, opts)
  if st == nil then error("health expects a connector status, got nil (did the read fail?)", options.user_level(2)) end
  if is_client(st) then
    error("health expects a connector status (cc:status(name)), got a client: cs.summarize(client) rates them all",
      options.user_level(2))
  end
  return judge(st, policy(opts, 2))
end

-- The whole traces of an unhealthy connector, for machine output: its state and trace, and each
-- task that is not RUNNING with its state, message and trace.
local function pipeline_details(st)
  local endpoints = setmetatable({}, core.json_array_mt)
  for _, e in ipairs(endpoints_of(st)) do
    local ep = e[2]
    if type(ep) == "table" and type(ep.fatal_error) == "string" then
      endpoints[#endpoints + 1] = { kind = e[1], endpoint_name = ep.endpoint_name, fatal_error = ep.fatal_error }
    end
  end
  return { state = pipeline_state(st), endpoints = endpoints }
end

local function details(st)
  if is_pipeline(st) then return pipeline_details(st) end
  local tasks = setmetatable({}, core.json_array_mt)
  for _, t in ipairs(status.tasks(st)) do
    if t.state ~= "RUNNING" then
      tasks[#tasks + 1] = { id = t.id, index = t.index, state = t.state, msg = t.msg, trace = t.trace,
        unreadable = t.unreadable }
    end
  end
  return { state = status.state(st), trace = status.trace(st), tasks = tasks }
end

-- cc:list() (names) or cc:list{expand={"id"}} are not what summarize reads: a programmer error.
local function check_expanded(list_result, level)
  level = options.user_level(level + 1) - 1
  if type(list_result) ~= "table" then
    error("summarize expects the result of cc:list{expand={'status'}}, got " .. type(list_result), level + 1)
  end
  if list_result[1] ~= nil then
    error("summarize needs the list expanded with status: cc:list{expand={'status'}} (got a list of names)",
      level + 1)
  end
  local entries, with_status = 0, 0
  for _, entry in pairs(list_result) do
    entries = entries + 1
    if type(entry) ~= "table" or entry.status ~= nil or (entry.id == nil and entry.info == nil) then
      with_status = with_status + 1
    end
  end
  if entries > 0 and with_status == 0 then
    error("summarize needs the list expanded with status: cc:list{expand={'status'}}", level + 1)
  end
end

-- summarize(cc:list{expand={"status"}}[, opts]) -> { total, states = {STATE = n}, health = {level = n},
-- unhealthy = { {name, health, reasons, details}, ... } sorted by name }. opts as for health.
-- An entry whose status is not an object counts as M.UNREADABLE (failed), in state UNKNOWN.
-- What summarize reads of each entry of an expanded list: a read with this selection decodes
-- nothing else (configs, worker ids, ...), and summarizes exactly as the full list does.
M.SELECT = { "*.status.connector.state", "*.status.connector.trace", "*.status.tasks.*.id",
  "*.status.tasks.*.state", "*.status.tasks.*.msg", "*.status.tasks.*.trace" }

local selection -- compiled on first use

-- summarize(client[, opts]): reads the client's list expanded with status, with M.SELECT, then
-- summarizes it; nil, err when the read fails.
local function summarize_client(client, opts)
  selection = selection or core.json_selection(M.SELECT)
  local list, err = client:list { expand = { "status" }, select = selection }
  if not list then return nil, err end
  return M.summarize(list, opts)
end

function M.summarize(list_result, opts)
  if is_client(list_result) then
    policy(opts, 2) -- a wrong option raises before anything is read
    local summary, err = summarize_client(list_result, opts)
    return summary, err
  end
  check_expanded(list_result, 2)
  local overrides = policy(opts, 2)
  local summary = {
    total = 0, states = {}, health = { healthy = 0, pending = 0, degraded = 0, failed = 0 },
    unhealthy = setmetatable({}, core.json_array_mt),
  }
  for key, entry in pairs(list_result) do
    local st = type(entry) == "table" and entry.status or nil
    local verdict, reasons = judge(st, overrides)
    local state = (is_pipeline(st) and pipeline_state(st) or status.state(st)) or "UNKNOWN"
    summary.total = summary.total + 1
    summary.states[state] = (summary.states[state] or 0) + 1
    summary.health[verdict] = summary.health[verdict] + 1
    if verdict ~= "healthy" then
      summary.unhealthy[#summary.unhealthy + 1] = { name = tostring(key), health = verdict, reasons = reasons,
        details = details(st) }
    end
  end
  table.sort(summary.unhealthy, function(a, b) return a.name < b.name end)
  return summary
end

return M
