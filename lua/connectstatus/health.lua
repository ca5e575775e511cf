-- Health of one connector status and a summary of a fleet. The order of severity is
-- failed > degraded > pending > healthy; a connector gets the worst verdict any of its rules gives.
local core = require "connectstatus.core"

local M = {}

M.LEVELS = { "healthy", "pending", "degraded", "failed" }
local SEVERITY = { healthy = 1, pending = 2, degraded = 3, failed = 4 }

-- Connector states and what they say about health on their own (tasks are judged separately).
-- PAUSED is degraded: paused on purpose or not, the connector moves no data.
local BY_STATE = {
  RUNNING = "healthy",
  FAILED = "failed",
  DELETED = "failed",
  DEGRADED = "degraded",
  PAUSED = "degraded",
}

local function first_line(s)
  return type(s) == "string" and s:match("^%s*([^\r\n]*%S)") or nil
end

local function with_detail(reason, detail)
  detail = first_line(detail)
  return detail and reason .. ": " .. detail or reason
end

local function task_reasons(state, tasks, reasons)
  local verdict = "healthy"
  for _, task in ipairs(tasks) do
    if task.state ~= "RUNNING" then
      local what = ("task %s %s"):format(tostring(task.id), tostring(task.state))
      reasons[#reasons + 1] = with_detail(what, first_line(task.msg) or task.trace)
      -- A task that is not RUNNING under a RUNNING connector is the classic silent failure.
      if task.state == "FAILED" or state == "RUNNING" then verdict = "degraded" end
    end
  end
  if state == "RUNNING" and #tasks == 0 then
    reasons[#reasons + 1] = "RUNNING with no tasks yet"
    verdict = "pending"
  end
  return verdict
end

-- health(status) -> "healthy" | "degraded" | "failed" | "pending", reasons (a list of short strings)
function M.health(status)
  if type(status) ~= "table" then error("health expects a connector status table, got " .. type(status), 2) end
  local connector = type(status.connector) == "table" and status.connector or {}
  local state = connector.state
  local reasons = {}
  local verdict = BY_STATE[state] or "pending"
  if verdict ~= "healthy" then
    reasons[1] = with_detail("connector " .. tostring(state or "has no state"), connector.trace)
  end
  local tasks = type(status.tasks) == "table" and status.tasks or {}
  local from_tasks = task_reasons(state, tasks, reasons)
  if SEVERITY[from_tasks] > SEVERITY[verdict] then verdict = from_tasks end
  return verdict, setmetatable(reasons, core.json_array_mt)
end

-- summarize(cc:list{expand={"status"}}) -> { total, states = {STATE = n}, health = {level = n},
-- unhealthy = { {name, health, reasons}, ... } sorted by name }
function M.summarize(list_result)
  if type(list_result) ~= "table" then
    error("summarize expects the result of cc:list{expand={'status'}}, got " .. type(list_result), 2)
  end
  local summary = {
    total = 0, states = {}, health = { healthy = 0, pending = 0, degraded = 0, failed = 0 },
    unhealthy = setmetatable({}, core.json_array_mt),
  }
  for name, entry in pairs(list_result) do
    if type(name) ~= "string" or type(entry) ~= "table" or type(entry.status) ~= "table" then
      error("summarize needs the list expanded with status: cc:list{expand={'status'}}", 2)
    end
    local state = type(entry.status.connector) == "table" and entry.status.connector.state or "UNKNOWN"
    local verdict, reasons = M.health(entry.status)
    summary.total = summary.total + 1
    summary.states[state] = (summary.states[state] or 0) + 1
    summary.health[verdict] = summary.health[verdict] + 1
    if verdict ~= "healthy" then
      summary.unhealthy[#summary.unhealthy + 1] = { name = name, health = verdict, reasons = reasons }
    end
  end
  table.sort(summary.unhealthy, function(a, b) return a.name < b.name end)
  return summary
end

return M
