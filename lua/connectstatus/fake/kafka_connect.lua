-- connectstatus.fake.kafka_connect: a self-managed Apache Kafka Connect worker's REST API (GET / and
-- /connectors...). Status reads advance each connector's sequence of snapshots; actions replace
-- it with their change (a restart goes RESTARTING, then RUNNING). A rebalance answers 409 to the
-- next requests; an older worker version lacks the endpoints it did not have yet.
local common = require "connectstatus.fake.common"

local M = {}

local json_response, array, peek, snapshot, copy = common.json_response, common.array, common.peek,
  common.snapshot, common.copy
local WORKER = "connect-1:8083"
local DEFAULT_VERSION = "3.9.0"
local COMMIT = "c9d3b8a5e1f04a27"
local CLUSTER_ID = "kafka-demo-cluster-0001"
-- The worker version each feature appeared in (expand: KIP-465, topics: KIP-558, restart flags:
-- KIP-745, stop and GET offsets: KIP-875, which altered and reset offsets one release later).
local SINCE = { expand = "2.3", topics = "2.5", restart_flags = "3.0", stop = "3.5", offsets = "3.5",
  alter_offsets = "3.6" }

local function connect_error(status, message)
  return json_response(status, { error_code = status, message = message })
end

local function parse_version(v)
  local major, minor = tostring(v):match("^(%d+)%.(%d+)")
  return tonumber(major), tonumber(minor)
end

local function has(model, feature)
  local major, minor = parse_version(model.version)
  local need_major, need_minor = parse_version(SINCE[feature])
  return major > need_major or (major == need_major and minor >= need_minor)
end

local function new_connector(name, kind, config, states)
  return { name = name, type = kind, config = config, states = states, reads = 0, offsets = array(),
    topics = array() }
end

local function config(name, class, extra)
  local c = { name = name, ["connector.class"] = class, ["tasks.max"] = "1" }
  for k, v in pairs(extra) do c[k] = v end
  return c
end

local function tasks_in(state, n)
  local tasks = {}
  for i = 1, n do tasks[i] = { id = i - 1, state = state } end
  return tasks
end

local function demo_connectors()
  local c = {}
  local inventory = new_connector("inventory-source", "source",
    config("inventory-source", "io.confluent.connect.jdbc.JdbcSourceConnector", {
      ["connection.url"] = "jdbc:postgresql://pg.demo.internal/inventory", ["connection.password"] = common.MASKED,
      ["tasks.max"] = "2", ["topic.prefix"] = "inventory." }),
    { snapshot("RUNNING", nil, { { id = 0, state = "RUNNING" },
      { id = 1, state = "FAILED", trace = common.TRACE_TASK } }) })
  inventory.offsets = array { { partition = { protocol = "1", table = "inventory.items" },
    offset = { incrementing = 4211, timestamp = 1700000000000 } } }
  inventory.topics = array { "inventory.items" }
  c[inventory.name] = inventory
  local search = new_connector("search-sink", "sink",
    config("search-sink", "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector", {
      topics = "orders", ["connection.url"] = "http://es.demo.internal:9200", ["tasks.max"] = "2" }),
    { snapshot("RUNNING", nil, tasks_in("RUNNING", 2)) })
  search.offsets = array {
    { partition = { kafka_topic = "orders", kafka_partition = 0 }, offset = { kafka_offset = 5120 } },
    { partition = { kafka_topic = "orders", kafka_partition = 1 }, offset = { kafka_offset = 4988 } },
  }
  search.topics = array { "orders" }
  c[search.name] = search
  local audit = new_connector("audit-sink", "sink",
    config("audit-sink", "io.confluent.connect.s3.S3SinkConnector", {
      topics = "audit", ["s3.bucket.name"] = "demo-audit", ["aws.secret.access.key"] = common.MASKED }),
    { snapshot("PAUSED", nil, tasks_in("PAUSED", 1)) })
  audit.offsets = array { { partition = { kafka_topic = "audit", kafka_partition = 0 },
    offset = { kafka_offset = 77 } } }
  audit.topics = array { "audit" }
  c[audit.name] = audit
  return c
end

function M.new_model(scenario)
  return { connectors = scenario == "empty" and {} or demo_connectors(), version = DEFAULT_VERSION, rebalance = 0 }
end

-- Connect leaves out an empty trace, and never sends msg.
local function state_body(s, id)
  return { id = id, state = s.state, worker_id = s.worker_id or WORKER,
    trace = s.trace ~= "" and s.trace or nil }
end

local function status_body(c, snap)
  local tasks = array()
  for i, t in ipairs(snap.tasks or {}) do tasks[i] = state_body(t, t.id or i - 1) end
  local connector = state_body(snap.connector)
  connector.id = nil
  return { name = c.name, type = c.type, connector = connector, tasks = tasks }
end

local function current(c)
  return peek(c.states, c.reads)
end

local function info_body(c)
  local tasks = array()
  for i, t in ipairs(current(c).tasks or {}) do tasks[i] = { connector = c.name, task = t.id or i - 1 } end
  return { name = c.name, config = c.config, tasks = tasks, type = c.type }
end

local function find_task(c, id)
  for i, t in ipairs(current(c).tasks or {}) do
    if tostring(t.id or i - 1) == id then return t, i end
  end
end

local function flag(query, name)
  return common.query_values(query, name, true)[1] == "true"
end

---------------------------------------------------------------------------------------------------
-- Restarts (KIP-745): which instances restart, the 202 body that shows them RESTARTING, and the
-- sequence that brings them back (to PAUSED under a paused connector, FAILED when scripted so).

local function restarted(snap, restart_connector, restart_task)
  local connector = copy(snap.connector)
  if restart_connector then connector.state, connector.trace = "RESTARTING", nil end
  local tasks = {}
  for i, t in ipairs(snap.tasks or {}) do
    tasks[i] = copy(t)
    if restart_task(t) then tasks[i].state, tasks[i].trace = "RESTARTING", nil end
  end
  return { connector = connector, tasks = tasks }
end

local function settled(c, snap, before)
  local target = before.connector.state == "PAUSED" and "PAUSED" or "RUNNING"
  local out = { connector = copy(snap.connector), tasks = {} }
  if out.connector.state == "RESTARTING" then out.connector.state = target end
  for i, t in ipairs(snap.tasks) do
    out.tasks[i] = copy(t)
    if t.state == "RESTARTING" then
      out.tasks[i].state = c.restart_fails and "FAILED" or target
      out.tasks[i].trace = c.restart_fails and common.TRACE_TASK or nil
    end
  end
  return out
end

local function restart(c, restart_connector, restart_task)
  local before = current(c)
  local during = restarted(before, restart_connector, restart_task)
  c.states, c.reads = { during, settled(c, during, before) }, 0
  return during
end

local function never() return false end

local ROUTES = {}

ROUTES["POST restart"] = function(model, c, query)
  local include_tasks, only_failed = flag(query, "includeTasks"), flag(query, "onlyFailed")
  if not has(model, "restart_flags") or not (include_tasks or only_failed) then
    restart(c, true, never)
    return common.empty_response(204)
  end
  local function failed(s) return s.state == "FAILED" end
  local restart_connector = not only_failed or failed(current(c).connector)
  local restart_task = never
  if include_tasks then restart_task = only_failed and failed or function() return true end end
  return json_response(202, status_body(c, restart(c, restart_connector, restart_task)))
end

ROUTES["GET status"] = function(_, c)
  local snap = current(c)
  c.reads = c.reads + 1
  return json_response(200, status_body(c, snap))
end

ROUTES["GET "] = function(_, c) return json_response(200, info_body(c)) end

ROUTES["GET config"] = function(_, c) return json_response(200, c.config) end

ROUTES["GET tasks"] = function(_, c)
  local tasks = array()
  for i, t in ipairs(current(c).tasks or {}) do
    local task_config = copy(c.config)
    task_config["task.class"] = tostring(c.config["connector.class"] or "Unknown") .. "Task"
    tasks[i] = { id = { connector = c.name, task = t.id or i - 1 }, config = task_config }
  end
  return json_response(200, tasks)
end

ROUTES["PUT pause"] = function(_, c)
  c.states, c.reads = common.transition(current(c), "PAUSED", "PAUSED"), 0
  return common.empty_response(202)
end

ROUTES["PUT resume"] = function(_, c)
  local snap = current(c)
  if snap.connector.state == "STOPPED" then
    local tasks = c.stopped_tasks or tasks_in("RUNNING", tonumber(c.config["tasks.max"]) or 1)
    c.states = { common.with_states({ connector = {}, tasks = tasks }, "RUNNING", "UNASSIGNED"),
      common.with_states({ connector = {}, tasks = tasks }, "RUNNING", "RUNNING") }
    c.reads = 0
  elseif snap.connector.state == "PAUSED" then
    c.states, c.reads = common.transition(snap, "RUNNING", "RUNNING"), 0
  end
  return common.empty_response(202)
end

-- A stopped connector has no tasks; they come back, as they were configured, on resume.
ROUTES["PUT stop"] = function(_, c)
  local snap = current(c)
  if snap.connector.state ~= "STOPPED" then c.stopped_tasks = tasks_in("RUNNING", #(snap.tasks or {})) end
  c.states, c.reads = { snapshot("STOPPED") }, 0
  return common.empty_response(204)
end

ROUTES["GET offsets"] = function(_, c) return json_response(200, { offsets = c.offsets }) end

local function must_be_stopped(c)
  if current(c).connector.state ~= "STOPPED" then
    return connect_error(400, ("Connector %s must be in the STOPPED state to have its offsets changed; stop it " ..
      "first with PUT /connectors/%s/stop"):format(c.name, c.name))
  end
end

ROUTES["PATCH offsets"] = function(_, c, _, req)
  local refusal = must_be_stopped(c)
  if refusal then return refusal end
  local body = common.decode(req.body)
  if type(body) ~= "table" or not common.is_array(body.offsets) then
    return connect_error(400, "the body must be an object with a non-empty offsets array")
  end
  local problem = common.entries_problem(body.offsets)
  if problem then return connect_error(400, problem) end
  c.offsets = common.altered_offsets(c.offsets, "PATCH", body.offsets)
  return json_response(200, { message = common.OFFSETS_ALTERED })
end

ROUTES["DELETE offsets"] = function(_, c)
  local refusal = must_be_stopped(c)
  if refusal then return refusal end
  c.offsets = array()
  return json_response(200, { message = common.OFFSETS_ALTERED:gsub("altered", "reset") })
end

ROUTES["GET topics"] = function(_, c)
  return json_response(200, { [c.name] = { topics = c.topics } })
end

local GATES = { ["GET topics"] = "topics", ["PUT stop"] = "stop", ["GET offsets"] = "offsets",
  ["PATCH offsets"] = "alter_offsets", ["DELETE offsets"] = "alter_offsets" }

local function task_route(c, req, seg)
  local t, index = find_task(c, seg[4])
  local action = seg[5]
  if (action ~= "status" and action ~= "restart") or #seg ~= 5 then return connect_error(404, "HTTP 404 Not Found") end
  if req.method ~= (action == "status" and "GET" or "POST") then
    return connect_error(405, "HTTP 405 Method Not Allowed")
  end
  if not t then return connect_error(404, ("Task %s-%s not found"):format(c.name, seg[4])) end
  if action == "status" then return json_response(200, state_body(t, t.id or index - 1)) end
  restart(c, false, function(task) return task == t end)
  return common.empty_response(204)
end

local function list_connectors(model, query)
  local names = array()
  for name in pairs(model.connectors) do names[#names + 1] = name end
  table.sort(names)
  local wanted = common.query_values(query, "expand", true)
  -- Connect reads each expand value whole (a comma-joined one is unknown and ignored).
  if not has(model, "expand") or #wanted == 0 then return json_response(200, names) end
  local map = {}
  for _, name in ipairs(names) do
    local c, entry = model.connectors[name], {}
    for _, item in ipairs(wanted) do
      if item == "status" then entry.status = status_body(c, current(c)) end
      if item == "info" then entry.info = info_body(c) end
    end
    map[name] = entry
  end
  return json_response(200, map)
end

local function connector_route(model, req, seg, query)
  local c = model.connectors[seg[2]]
  local suffix = table.concat(seg, "/", 3)
  local key = req.method .. " " .. suffix
  local known = ROUTES[key] or seg[3] == "tasks" and #seg >= 4
  if not known or (GATES[key] and not has(model, GATES[key])) then
    for k in pairs(ROUTES) do
      if k:match("^%u+ (.*)$") == suffix and not (GATES[k] and not has(model, GATES[k])) then
        return connect_error(405, "HTTP 405 Method Not Allowed")
      end
    end
    return connect_error(404, "HTTP 404 Not Found")
  end
  if not c then return connect_error(404, ("Connector %s not found"):format(seg[2])) end
  if seg[3] == "tasks" and #seg >= 4 then return task_route(c, req, seg) end
  return ROUTES[key](model, c, query, req)
end

local function route(model, req, seg, query)
  if #seg == 0 then
    if req.method ~= "GET" then return connect_error(405, "HTTP 405 Method Not Allowed") end
    return json_response(200, { version = model.version, commit = COMMIT, kafka_cluster_id = CLUSTER_ID })
  end
  if model.rebalance > 0 then
    model.rebalance = model.rebalance - 1
    return connect_error(409, "Cannot complete the request because a rebalance is in progress")
  end
  if #seg == 1 then
    if req.method ~= "GET" then return connect_error(405, "HTTP 405 Method Not Allowed") end
    return list_connectors(model, query)
  end
  return connector_route(model, req, seg, query)
end

function M.matches(seg)
  return #seg == 0 or seg[1] == "connectors"
end

function M.handle(server, req, seg, query)
  if not server:authorized(req, true) then return connect_error(401, "Unauthorized") end
  return route(server.model.kafka_connect, req, seg, query)
end

---------------------------------------------------------------------------------------------------
-- The control API: set { kafka_connect = { version =, rebalance = N, connector = name, states =,
-- config =, type =, offsets =, topics =, restart_fails = true } }.

local function set_modes(model, spec)
  if spec.version ~= nil then
    if not parse_version(spec.version) then return "kafka_connect.version must look like 3.9.0" end
    model.version = tostring(spec.version)
  end
  if spec.rebalance ~= nil then
    return common.set_count(model, "rebalance", spec.rebalance, 1000, "kafka_connect.rebalance")
  end
end

local function set_connector(model, spec)
  local name = spec.connector
  if type(name) ~= "string" or name == "" then return "kafka_connect.connector must be a non-empty string" end
  local c = model.connectors[name]
  if not c and spec.states == nil then return "a new kafka_connect connector needs states" end
  c = c or new_connector(name, "source", config(name, "org.apache.kafka.connect.file.FileStreamSourceConnector", {}),
    {})
  if common.is_object(spec.config) then c.config = spec.config end
  if spec.type == "source" or spec.type == "sink" then c.type = spec.type end
  if spec.states ~= nil then
    local states, problem = common.normalize_states(spec.states)
    if not states then return "kafka_connect." .. problem end
    c.states, c.reads = states, 0
  end
  if spec.offsets ~= nil then
    if common.entries_problem(spec.offsets) then return "kafka_connect.offsets must be an array of offsets" end
    c.offsets = array(spec.offsets)
  end
  if spec.topics ~= nil then
    if not common.is_list(spec.topics) then return "kafka_connect.topics must be an array" end
    c.topics = array(spec.topics)
  end
  if spec.restart_fails ~= nil then c.restart_fails = spec.restart_fails == true end
  model.connectors[name] = c
end

function M.set(server, spec)
  local model = server.model.kafka_connect
  local problem = set_modes(model, spec)
  if not problem and spec.connector ~= nil then problem = set_connector(model, spec) end
  return problem
end

return M
