-- Backend for a self-managed Apache Kafka Connect worker's REST API: status, tasks, connector info,
-- the list with expansions, offsets, topics and the worker's own info; restart, pause, resume, stop
-- and offsets changes, each with an optional wait. A feature newer than the worker is refused
-- before anything is sent, judged by the version its GET / reports (asked once per client).
local backend = require "connectstatus.backend"
local core = require "connectstatus.core"
local errors = require "connectstatus.errors"
local loop = require "connectstatus.loop"
local path = require "connectstatus.path"
local transport = require "connectstatus.transport"

local M = {}

local KafkaConnect = backend.class("connectstatus.KafkaConnect")

-- The Kafka version each feature appeared in: expand KIP-465, topics KIP-558, restart flags
-- KIP-745, stop and GET offsets KIP-875, whose PATCH and DELETE of offsets came one release later.
local NEEDS = {
  expand = { 2, 3, "list{expand = ...}" },
  topics = { 2, 5, "topics()" },
  restart_flags = { 3, 0, "restart with include_tasks or only_failed" },
  stop = { 3, 5, "stop()" },
  offsets = { 3, 5, "offsets()" },
  alter_offsets = { 3, 6, "alter_offsets() and reset_offsets()" },
}
M.NEEDS = NEEDS

-- Confluent Platform workers report the platform's version ("7.5.0-ccs" ships Kafka 3.5): the
-- Kafka release each platform major starts from.
local PLATFORM = { [4] = { 1, 0 }, [5] = { 2, 0 }, [6] = { 2, 6 }, [7] = { 3, 0 }, [8] = { 4, 0 } }

-- The Kafka major and minor a worker's version string stands for; nil when it is unreadable.
function M.kafka_version(text)
  if type(text) ~= "string" then return nil end
  local major, minor = text:match("^(%d+)%.(%d+)")
  major, minor = tonumber(major), tonumber(minor)
  if not major then return nil end
  local suffix = text:match("^%d+%.%d+[%.%d]*%-(%a+)")
  local base = (suffix == "ccs" or suffix == "ce") and PLATFORM[major]
  if base then return base[1], base[2] + minor end
  return major, minor
end

-- A rebalance's 409 is retried for every method: Connect refuses the request before acting on it.
-- A 500 is not: Connect sends it for an exception in the worker or a connector (which a retry
-- meets again) and for a request that timed out inside the worker but may still take effect.
local RULES = { retry_409 = true, retry_500 = false }

local RESERVED_HEADERS = {
  authorization = true, host = true, ["content-length"] = true, ["content-type"] = true,
  ["transfer-encoding"] = true,
}

-- headers = { ["X-Name"] = "value" } as the transport's "Name: value" lines (sorted, so every
-- request carries them in one order) and the values, which errors treat as secrets.
local function header_lines(headers)
  if headers == nil then return nil, nil end
  if type(headers) ~= "table" then error("option 'headers' must be a table of name = value strings", 4) end
  local names, values = {}, {}
  for name, value in pairs(headers) do
    if type(name) ~= "string" or not name:match("^[A-Za-z0-9!#$%%&'*+.^_`|~-]+$") then
      error("option 'headers': names must be HTTP header names, got " .. tostring(name), 4)
    end
    if RESERVED_HEADERS[name:lower()] then
      error(("option 'headers' must not set %s (use username/password or token for credentials)"):format(name), 4)
    end
    if type(value) ~= "string" or value:find("%c") then
      error(("option 'headers': %s must be a string without control characters"):format(name), 4)
    end
    names[#names + 1] = name
  end
  table.sort(names)
  local lines = {}
  for i, name in ipairs(names) do
    lines[i] = name .. ": " .. headers[name]
    values[i] = headers[name]
  end
  return lines, values
end

local function check_credentials(opts)
  local basic = opts.username ~= nil or opts.password ~= nil
  if basic and opts.token ~= nil then error("give either username/password or token, not both", 4) end
  if basic and (type(opts.username) ~= "string" or type(opts.password) ~= "string") then
    error("username and password must both be strings", 4)
  end
  if basic and opts.username:find(":", 1, true) then error("username must not contain ':' (Basic auth)", 4) end
  if opts.token ~= nil and type(opts.token) ~= "string" then error("option 'token' must be a string", 4) end
end

local OWN = { username = true, password = true, token = true, headers = true }

function M.new(opts)
  if type(opts) ~= "table" then error("kafka_connect{...} expects a table of options", 3) end
  if opts.base_url == nil then error("option 'base_url' is required (e.g. http://127.0.0.1:8083)", 3) end
  check_credentials(opts)
  local lines, values = header_lines(opts.headers)
  local self = backend.new(KafkaConnect, opts, {
    what = "cs.kafka_connect", own = OWN,
    transport = { username = opts.username, password = opts.password, token = opts.token, headers = lines,
      secrets = values, rules = RULES },
  }, 3)
  self.base_url = self.transport.base_url
  return self
end

-- ---- the worker's version ----

local ASK_POLL = 0.005 -- seconds between looks at another task's pending GET /

-- The worker's version string, asked once per client: a task that finds another task of its
-- loop asking already waits for that answer instead of asking again.
function KafkaConnect:worker_version(call)
  local task = loop.current()
  while self.version == nil and task and self.asking and self.asking.loop == task.loop and not self.asking:done() do
    task.loop:sleep(ASK_POLL)
  end
  if self.version ~= nil then return self.version end
  self.asking = task
  local info, err = self:get("/", { expect = "object", timeout = call.timeout })
  if self.asking == task then self.asking = nil end
  if not info then return nil, err end
  self:remember(info)
  return self.version
end

function KafkaConnect:remember(info)
  -- An unreadable version counts as the newest: the worker's own answer then decides.
  self.version = type(info.version) == "string" and info.version or ""
end

-- nil when the worker has the feature, else an Error: "unsupported" (nothing was sent for the
-- feature), or why the version could not be asked. The call's timeout shrinks by the time spent.
function KafkaConnect:refusal(feature, call)
  local started = self.transport.clock()
  local version, err = self:worker_version(call)
  if call.timeout then call.timeout = math.max(call.timeout - (self.transport.clock() - started), 0.001) end
  if not version then return err end
  local major, minor = M.kafka_version(version)
  local need = NEEDS[feature]
  if not major or major > need[1] or (major == need[1] and minor >= need[2]) then return nil end
  return errors.new("unsupported", ("%s needs Kafka Connect %d.%d or later; the worker runs %s"):format(need[3],
    need[1], need[2], transport.clean(version)), { version = transport.clean(version),
    needs = ("%d.%d"):format(need[1], need[2]), url = self.base_url })
end

-- ---- reads ----

local function connector_path(name, suffix)
  return "/connectors/" .. path.segment(name, "connector name") .. suffix
end

local function task_segment(id)
  local text = type(id) == "number" and id == math.floor(id) and id >= 0 and id < 2 ^ 31 and ("%d"):format(id)
    or type(id) == "string" and #id <= 10 and id:match("^%d+$")
  if not text then error("task id must be a whole number from 0, got " .. tostring(id), 3) end
  return text
end

-- GET of a gated endpoint: its refusal, or the document.
function KafkaConnect:gated_get(feature, target, call)
  local refused = self:refusal(feature, call)
  if refused then return nil, refused end
  return self:get(target, call)
end

function KafkaConnect:info(opts)
  local info, err = self:get("/", backend.call(opts, "object", 2))
  if info then self:remember(info) end
  return info, err
end

function KafkaConnect:status(name, opts)
  return self:get(connector_path(name, "/status"), backend.call(opts, "object", 2))
end

function KafkaConnect:tasks(name, opts)
  return self:get(connector_path(name, "/tasks"), backend.call(opts, "array", 2))
end

function KafkaConnect:task_status(name, id, opts)
  local target = connector_path(name, "/tasks/" .. task_segment(id) .. "/status")
  return self:get(target, backend.call(opts, "object", 2))
end

function KafkaConnect:connector(name, opts)
  return self:get(connector_path(name, ""), backend.call(opts, "object", 2))
end

function KafkaConnect:offsets(name, opts)
  return self:gated_get("offsets", connector_path(name, "/offsets"), backend.call(opts, "object", 2))
end

function KafkaConnect:topics(name, opts)
  return self:gated_get("topics", connector_path(name, "/topics"), backend.call(opts, "object", 2))
end

-- ---- the list ----

local EXPANSIONS = { status = true, info = true }

-- The expansions asked for, once each and in the order given.
local function expansions(expand)
  if expand == nil then return {} end
  if type(expand) == "string" then expand = { expand } end
  if type(expand) ~= "table" then error("expand must be a list of 'status', 'info'", 3) end
  local list, seen = {}, {}
  for _, e in ipairs(expand) do
    if not EXPANSIONS[e] then error("expand must be a list of 'status', 'info', got " .. tostring(e), 3) end
    if not seen[e] then list[#list + 1], seen[e] = e, true end
  end
  return list
end

local function valid_name(name)
  return type(name) == "string" and name ~= "" and name ~= "." and name ~= ".." and not name:find("%c")
end

local FALLBACK_PARALLEL = 8

-- The assembled list with only what the call's selection asks for, as an expanded list decoded
-- with it would be: through the same C decoder, so the two paths cannot disagree. (Old workers
-- only; a value the encoder refuses, such as inf, leaves the list whole.)
local function selected(map, sel)
  local ok, text = pcall(core.json_encode, map)
  if not ok then return map end
  return core.json_decode(text, { select = sel, max_depth = 100000 }) or map
end

-- What an old worker's list cannot expand: the names, then one read per connector and expansion,
-- run in parallel. A connector deleted between the list and its read is left out, as Connect's own
-- expansion leaves it; any other failure fails the call.
function KafkaConnect:list_by_reads(wanted, call)
  local clock = self.transport.clock
  local deadline = call.timeout and clock() + call.timeout
  local names, err = self:get("/connectors", { expect = "array", timeout = call.timeout })
  if not names then return nil, err end
  local jobs = {}
  for _, name in ipairs(names) do
    if not valid_name(name) then
      return nil, errors.new("decode", "the worker listed a connector name that is not one", { url = self.base_url })
    end
    for _, what in ipairs(wanted) do jobs[#jobs + 1] = { name = name, what = what } end
  end
  local values, errs = loop.map(jobs, function(job)
    local sub = { timeout = deadline and math.max(deadline - clock(), 0.001) }
    if job.what == "status" then return self:status(job.name, sub) end
    return self:connector(job.name, sub)
  end, { parallel = FALLBACK_PARALLEL }, 2)
  local map, gone = {}, {}
  for i, job in ipairs(jobs) do
    local e = errs[i]
    if values[i] == nil and not errors.is_error(e) then error(e, 0) end -- a raise inside a read stays a raise
    if values[i] == nil and e.kind ~= "not_found" then return nil, e end
    if values[i] == nil then gone[job.name] = true end
    map[job.name] = map[job.name] or {}
    map[job.name][job.what] = values[i]
  end
  for name in pairs(gone) do map[name] = nil end
  return call.select and selected(map, call.select) or map
end

-- Without expand: an array of names. With expand: a map name -> { status =, info = }, from one
-- request (expand=status&expand=info, repeated) or, on a worker older than 2.3, from list_by_reads.
function KafkaConnect:list(opts)
  if opts ~= nil and type(opts) ~= "table" then error("list{...} expects a table of options", 2) end
  local rest = {}
  for k, v in pairs(opts or {}) do if k ~= "expand" then rest[k] = v end end
  local wanted = expansions(opts and opts.expand)
  if #wanted == 0 then return self:get("/connectors", backend.call(rest, "array", 2)) end
  local call = backend.call(rest, "object", 2)
  local refused = self:refusal("expand", call)
  if refused and refused.kind == "unsupported" then return self:list_by_reads(wanted, call) end
  if refused then return nil, refused end
  return self:get("/connectors?expand=" .. table.concat(wanted, "&expand="), call)
end

-- ---- actions ----

-- An action's call and wait options (backend.action_options), a wait's checked as
-- wait_for_state(name, state) checks them, before anything is sent.
local function action_options(self, opts, own, what, name, state, level)
  level = level + 1
  local call, wait_opts = backend.action_options(opts, own, what, level)
  if wait_opts then
    require("connectstatus.wait").check(level, "wait_for_state", self, "status", name, state, wait_opts)
  end
  return call, wait_opts
end

-- The outcome of an action: the wait for name to reach state (wait_for_state's judgement).
function KafkaConnect:until_state(name, state, extra)
  return function(_, wait_opts)
    for k, v in pairs(extra or {}) do wait_opts[k] = v end
    return require("connectstatus.wait").wait_for_state(self, name, state, wait_opts)
  end
end

-- PUT or POST with no body, after the gate of feature (when given), then the wait for state.
function KafkaConnect:simple_action(method, target, feature, call, wait_opts, outcome)
  if feature then
    local refused = self:refusal(feature, {})
    if refused then return nil, refused end
  end
  return self:act(method, target, nil, call, wait_opts, outcome)
end

local RESTART_OWN = { include_tasks = "boolean", only_failed = "boolean" }

-- POST restart: true (204) without flags; with either flag, the 202 status body in which the
-- restarting instances show RESTARTING. With wait: the connector and every task RUNNING.
-- only_failed restarts the failed tasks too unless include_tasks = false: a FAILED task under a
-- RUNNING connector is what "restart what failed" is for.
function KafkaConnect:restart(name, opts)
  local target = connector_path(name, "/restart")
  local call, wait_opts = action_options(self, opts, RESTART_OWN, "restart", name, "RUNNING", 2)
  opts = opts or {}
  local include_tasks = opts.include_tasks
  if include_tasks == nil then include_tasks = opts.only_failed end
  local query = {}
  if include_tasks then query[#query + 1] = "includeTasks=true" end
  if opts.only_failed then query[#query + 1] = "onlyFailed=true" end
  if #query > 0 then target = target .. "?" .. table.concat(query, "&") end
  return self:simple_action("POST", target, #query > 0 and "restart_flags" or nil, call, wait_opts,
    self:until_state(name, "RUNNING"))
end

-- POST restart of one task: true. With wait: the connector and that task RUNNING.
function KafkaConnect:restart_task(name, id, opts)
  local target = connector_path(name, "/tasks/" .. task_segment(id) .. "/restart")
  local call, wait_opts = action_options(self, opts, nil, "restart_task", name, "RUNNING", 2)
  local outcome = self:until_state(name, "RUNNING", { task = tonumber(id) })
  return self:simple_action("POST", target, nil, call, wait_opts, outcome)
end

-- PUT pause, resume or stop: true; with wait, the status once the connector is in state (a
-- stopped connector has no tasks).
local function state_action(self, verb, name, state, feature, opts)
  local target = connector_path(name, "/" .. verb)
  local call, wait_opts = action_options(self, opts, nil, verb, name, state, 3)
  return self:simple_action("PUT", target, feature, call, wait_opts, self:until_state(name, state))
end

function KafkaConnect:pause(name, opts)
  local result, err = state_action(self, "pause", name, "PAUSED", nil, opts)
  return result, err
end

function KafkaConnect:resume(name, opts)
  local result, err = state_action(self, "resume", name, "RUNNING", nil, opts)
  return result, err
end

function KafkaConnect:stop(name, opts)
  local result, err = state_action(self, "stop", name, "STOPPED", "stop", opts)
  return result, err
end

local function is_object(v)
  return type(v) == "table" and v[1] == nil and getmetatable(v) ~= core.json_array_mt
end

-- The PATCH body { offsets = [ { partition = {...}, offset = {...} }, ... ] }.
local function offsets_body(offsets)
  local problem = "offsets must be a non-empty list of { partition = {...}, offset = {...} }"
  if type(offsets) ~= "table" or #offsets == 0 then error(problem, 3) end
  local list = setmetatable({}, core.json_array_mt)
  for key in pairs(offsets) do
    if type(key) ~= "number" or key < 1 or key > #offsets or key ~= math.floor(key) then error(problem, 3) end
  end
  for i, entry in ipairs(offsets) do
    local ok = type(entry) == "table" and is_object(entry.partition) and is_object(entry.offset)
    for key in pairs(type(entry) == "table" and entry or {}) do
      ok = ok and (key == "partition" or key == "offset")
    end
    if not ok then error(("%s (entry %d is not)"):format(problem, i), 3) end
    list[i] = { partition = entry.partition, offset = entry.offset }
  end
  return { offsets = list }
end

-- Connect changes offsets only while the connector is STOPPED; its 400 says so in its own words.
local function stop_first(name, err)
  if err.kind == "bad_request" and type(err.message) == "string" and err.message:find("STOPPED", 1, true) then
    err.message = ("connector %s must be STOPPED before its offsets can change: stop it first (stop(%q)); %s")
      :format(name, name, err.message)
  end
  return err
end

-- PATCH or DELETE of the offsets (synchronous in Connect): the worker's answer; with wait, the
-- offsets read back after the change.
function KafkaConnect:change_offsets(method, name, target, body, call, wait_opts)
  local refused = self:refusal("alter_offsets", {})
  if refused then return nil, refused end
  local answer, err = self:act(method, target, body, call, wait_opts, function(_, w)
    return self:get(target, { expect = "object", timeout = w.timeout > 0 and w.timeout or nil })
  end)
  if answer == nil then return nil, stop_first(name, err) end
  return answer
end

function KafkaConnect:alter_offsets(name, offsets, opts)
  local target = connector_path(name, "/offsets")
  local body = offsets_body(offsets)
  local call, wait_opts = action_options(self, opts, nil, "alter_offsets", name, "STOPPED", 2)
  return self:change_offsets("PATCH", name, target, body, call, wait_opts)
end

function KafkaConnect:reset_offsets(name, opts)
  local target = connector_path(name, "/offsets")
  local call, wait_opts = action_options(self, opts, nil, "reset_offsets", name, "STOPPED", 2)
  return self:change_offsets("DELETE", name, target, nil, call, wait_opts)
end

-- ---- waits ----

function KafkaConnect:wait_for_state(name, target, opts)
  return require("connectstatus.wait").wait_for_state(self, name, target, opts)
end

function KafkaConnect:describe()
  return self.base_url
end

M.KafkaConnect = KafkaConnect
return M
