-- The shape of a connector status document, as Confluent Cloud and Kafka Connect both send it:
-- { name, type, connector = { state, worker_id, trace }, tasks = { { id, state, worker_id, msg, trace } } }.
-- Everything here reads data from the network, so nothing indexes what it has not checked is a
-- table, and nothing raises: an odd member reads as absent.
local M = {}

local MAX_LINE = 240 -- an informative line is a summary; a full trace stays in the document

local function str(v)
  if type(v) == "string" then return v end
  return nil
end

-- A task or connector id as the API sends it: a number (Confluent, Connect) or a string.
local function id(v)
  if type(v) == "number" or type(v) == "string" then return v end
  return nil
end

function M.is_status(st)
  return type(st) == "table"
end

-- The connector member as a table (an empty one when missing or odd).
function M.connector(st)
  if type(st) ~= "table" or type(st.connector) ~= "table" then return {} end
  return st.connector
end

-- The connector's state, or nil when there is none that is a string.
function M.state(st)
  return str(M.connector(st).state)
end

function M.trace(st)
  return str(M.connector(st).trace)
end

function M.worker(st)
  return str(M.connector(st).worker_id)
end

function M.name(st)
  return type(st) == "table" and str(st.name) or nil
end

function M.type(st)
  return type(st) == "table" and str(st.type) or nil
end

-- The tasks as a clean list: each { id, state, worker_id, msg, trace } with only well-typed
-- members kept, msg "" as nil, and an entry that is not an object as { unreadable = true }.
-- index is the entry's place in the document (from 1), for naming a task without an id.
function M.tasks(st)
  local list = {}
  local tasks = type(st) == "table" and st.tasks
  if type(tasks) ~= "table" then return list end
  for i, t in ipairs(tasks) do
    if type(t) == "table" then
      local msg = str(t.msg)
      list[i] = { index = i, id = id(t.id), state = str(t.state), worker_id = str(t.worker_id),
        msg = msg ~= "" and msg or nil, trace = str(t.trace) }
    else
      list[i] = { index = i, unreadable = true }
    end
  end
  return list
end

-- "task 1" (or "task #2" by place when the entry has no id).
function M.task_label(task)
  if task.id ~= nil then return "task " .. tostring(task.id) end
  return "task #" .. tostring(task.index)
end

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function is_frame(line)
  return line:find("^at [%w_$.<>]+%(") ~= nil or line:find("^%.%.%. %d+ more$") ~= nil
end

-- A heading introduces what follows ("There were some errors with your configuration:").
local function is_heading(line)
  return line:sub(-1) == ":"
end

local function shorten(line)
  if #line <= MAX_LINE then return line end
  return line:sub(1, MAX_LINE - 3) .. "..."
end

-- The line of a trace that says what is wrong: the innermost "Caused by:" of a Java trace, else
-- the first line that is neither a heading nor a stack frame, else the first non-blank line.
-- nil for a trace that is not a string or is blank.
function M.trace_line(trace)
  if type(trace) ~= "string" then return nil end
  local first, informative, cause
  for raw in trace:gmatch("[^\r\n]+") do
    local line = trim(raw)
    if line ~= "" then
      first = first or line
      local caused = line:match("^Caused by:%s*(.+)$")
      if caused then
        cause = caused
      elseif not informative and not is_heading(line) and not is_frame(line) then
        informative = line
      end
    end
  end
  local line = cause or informative or first
  return line and shorten(line) or nil
end

-- A task's one line: its message when it has one (Confluent's summary), else its trace's.
function M.task_line(task)
  if type(task) ~= "table" then return nil end
  return M.trace_line(task.msg) or M.trace_line(task.trace)
end

return M
