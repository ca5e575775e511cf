-- connectstatus.fake.confluent: Confluent Cloud Connect v1 under /connect/v1/environments/{env}/
-- clusters/{cluster}/connectors. Status reads advance each connector's sequence of snapshots;
-- pause and resume replace it with the change, and an offsets request walks its phases on the
-- status reads of its own, stamped with the fake's clock.
local common = require "connectstatus.fake.common"

local M = {}

local DEMO_ENV, DEMO_CLUSTER = "env-demo", "lkc-demo"
local json_response, confluent_error, array, peek = common.json_response, common.confluent_error, common.array,
  common.peek
local snapshot, null = common.snapshot, common.null
local OFFSETS_RESET = "The Connect framework-managed offsets for this connector have been reset successfully. " ..
  "However, if this connector manages offsets externally, they will need to be reset manually in the system " ..
  "that the connector uses."
local OFFSETS_FAILED = "The offsets could not be altered: the connector rejected them"
local OUTCOMES = { APPLIED = true, FAILED = true }

local function connector_config(name, class, kind, extra)
  local config = {
    ["cloud.environment"] = "prod", ["cloud.provider"] = "aws", ["connector.class"] = class,
    ["kafka.api.key"] = common.MASKED, ["kafka.api.secret"] = common.MASKED, ["kafka.auth.mode"] = "KAFKA_API_KEY",
    ["kafka.endpoint"] = "SASL_SSL://pkc-demo.us-west-2.aws.confluent.cloud:9092",
    ["kafka.region"] = "us-west-2", name = name, ["tasks.max"] = "1", type = kind,
  }
  for k, v in pairs(extra) do config[k] = v end
  return config
end

local function new_connector(name, kind, id, config, states)
  return { name = name, type = kind, id = id, config = config, states = states, reads = 0, offset_reads = 0,
    current_offsets = array(), offsets_outcome = "APPLIED", offsets_lag = 1 }
end

local function sink_offsets(topic, offset)
  return array { { partition = { kafka_partition = 0, kafka_topic = topic }, offset = { kafka_offset = offset } } }
end

local function pg_cdc_offsets()
  local request = {
    id = "lcc-demo4pgcdc", name = "pg-cdc", requested_at = "2024-02-20T15:14:19Z", type = "PATCH",
    offsets = { { partition = { server = "pg-demo" }, offset = { lsn = 24023128, txId = 1045 } } },
  }
  return {
    { request = request, status = { phase = "PENDING" }, applied_at = null },
    { request = request, status = { phase = "PENDING_VALIDATION" }, applied_at = null },
    {
      request = request, status = { phase = "APPLIED", message = common.OFFSETS_ALTERED },
      previous_offsets = { { partition = { server = "pg-demo" }, offset = { lsn = 23998720, txId = 1039 } } },
      applied_at = "2024-02-20T15:14:20+0000",
    },
  }
end

local function demo_connectors()
  local running_task = { { id = 0, state = "RUNNING" } }
  local c = {}
  c["orders-sink"] = new_connector("orders-sink", "sink", "lcc-demo1ords",
    connector_config("orders-sink", "PostgresSink", "sink", {
      topics = "orders", ["connection.host"] = "pg.demo.internal", ["connection.password"] = common.MASKED,
      ["input.data.format"] = "AVRO" }),
    { snapshot("PROVISIONING"), snapshot("PROVISIONING"), snapshot("RUNNING", nil, running_task) })
  c["orders-sink"].current_offsets = sink_offsets("orders", 1042)
  c["s3-archive"] = new_connector("s3-archive", "sink", "lcc-demo2s3ar",
    connector_config("s3-archive", "S3_SINK", "sink", {
      topics = "orders", ["s3.bucket.name"] = "demo-archive", ["aws.secret.access.key"] = common.MASKED,
      ["time.interval"] = "HOURLY" }),
    { snapshot("FAILED", common.TRACE_CONFIG) })
  c["s3-archive"].current_offsets = sink_offsets("orders", 977)
  c["datagen-orders"] = new_connector("datagen-orders", "source", "lcc-demo3dgen",
    connector_config("datagen-orders", "DatagenSource", "source", {
      ["kafka.topic"] = "orders", quickstart = "ORDERS", ["output.data.format"] = "JSON", ["tasks.max"] = "2" }),
    { snapshot("RUNNING", nil, { { id = 0, state = "RUNNING" },
      { id = 1, state = "FAILED", trace = common.TRACE_TASK, msg = "Task failed: RecordTooLargeException" } }) })
  c["pg-cdc"] = new_connector("pg-cdc", "source", "lcc-demo4pgcdc",
    connector_config("pg-cdc", "PostgresCdcSourceV2", "source", {
      ["database.hostname"] = "pg.demo.internal", ["database.password"] = common.MASKED,
      ["topic.prefix"] = "pg-demo", ["output.data.format"] = "AVRO" }),
    { snapshot("RUNNING", nil, running_task) })
  c["pg-cdc"].offsets = pg_cdc_offsets()
  c["pg-cdc"].current_offsets = array { { partition = { server = "pg-demo" },
    offset = { lsn = 24023128, txId = 1045 } } }
  return c
end

function M.new_model(scenario)
  return { connectors = scenario == "empty" and {} or demo_connectors() }
end

local function status_body(c, snap)
  local tasks = array()
  for i, t in ipairs(snap.tasks or {}) do
    tasks[i] = { id = t.id or i - 1, state = t.state, worker_id = t.worker_id or c.name, msg = t.msg or "",
      trace = t.trace }
  end
  return {
    name = c.name, type = c.type, tasks = tasks,
    connector = { state = snap.connector.state, worker_id = snap.connector.worker_id or c.name,
      trace = snap.connector.trace or "" },
  }
end

---------------------------------------------------------------------------------------------------
-- Routes: "METHOD suffix" after .../connectors/{name}/, each function(server, c, req) -> response.

local ROUTES = {}

ROUTES["GET status"] = function(_, c)
  local snap = peek(c.states, c.reads)
  c.reads = c.reads + 1
  return json_response(200, status_body(c, snap))
end

ROUTES["GET tasks"] = function(_, c)
  local tasks = array()
  for i, t in ipairs(peek(c.states, c.reads).tasks or {}) do
    tasks[i] = { id = { connector = c.name, task = t.id or i - 1 }, config = c.config }
  end
  return json_response(200, tasks)
end

-- Pause and resume are asynchronous: the connector changes on the next read, its tasks one later.
ROUTES["PUT pause"] = function(_, c)
  c.states, c.reads = common.transition(peek(c.states, c.reads), "PAUSED", "PAUSED"), 0
  return common.empty_response(202)
end

ROUTES["PUT resume"] = function(_, c)
  local snap = peek(c.states, c.reads)
  if snap.connector.state == "PAUSED" then c.states, c.reads = common.transition(snap, "RUNNING", "RUNNING"), 0 end
  return common.empty_response(202)
end

ROUTES["GET offsets"] = function(server, c)
  return json_response(200, { id = c.id, name = c.name, offsets = c.current_offsets,
    metadata = { observed_at = common.iso_time(server:clock()) } })
end

ROUTES["GET offsets/request/status"] = function(_, c)
  if not c.offsets then
    return confluent_error(404, ("No offsets request found for connector %s"):format(c.name))
  end
  local i = math.min(c.offset_reads + 1, #c.offsets)
  local hook = c.offsets_hooks and c.offsets_hooks[i]
  if hook then
    c.offsets_hooks[i] = nil
    hook(c.offsets[i])
  end
  c.offset_reads = c.offset_reads + 1
  if i == #c.offsets then c.request_pending = nil end
  return json_response(200, c.offsets[i])
end

local function offsets_problem(body)
  if type(body) ~= "table" then return "the body must be a JSON object" end
  if body.type ~= "PATCH" and body.type ~= "DELETE" then return "type must be PATCH or DELETE" end
  if body.offsets == nil and body.type == "DELETE" then return nil end
  if type(body.offsets) ~= "table" or (body.type == "PATCH" and #body.offsets == 0) then
    return "offsets must be a non-empty array for PATCH"
  end
  return common.entries_problem(body.offsets)
end

-- The phases of a new request; the previous request's answer stays visible for c.offsets_lag reads.
local function request_sequence(server, c, info)
  local seq, hooks = {}, {}
  local previous = c.offsets and peek(c.offsets, c.offset_reads)
  for _ = 1, previous and c.offsets_lag or 0 do seq[#seq + 1] = previous end
  seq[#seq + 1] = { request = info, status = { phase = "PENDING" }, applied_at = null }
  seq[#seq + 1] = { request = info, status = { phase = "PENDING_VALIDATION" }, applied_at = null }
  if c.offsets_outcome == "FAILED" then
    seq[#seq + 1] = { request = info, status = { phase = "FAILED", message = OFFSETS_FAILED }, applied_at = null }
  else
    local message = info.type == "DELETE" and OFFSETS_RESET or common.OFFSETS_ALTERED
    seq[#seq + 1] = { request = info, status = { phase = "APPLIED", message = message } }
    hooks[#seq] = function(body)
      body.previous_offsets = c.current_offsets
      body.applied_at = common.iso_time(server:clock())
      c.current_offsets = common.altered_offsets(c.current_offsets, info.type, info.offsets)
    end
  end
  return seq, hooks
end

ROUTES["POST offsets/request"] = function(server, c, req)
  local body = common.decode(req.body)
  local problem = offsets_problem(body)
  if problem then return confluent_error(400, problem) end
  if c.request_pending then
    return confluent_error(400, "an alter offsets request is already in progress for connector " .. c.name)
  end
  local info = { id = c.id, name = c.name, offsets = array(body.offsets or {}), type = body.type,
    requested_at = common.iso_time(server:stamp()) }
  c.offsets, c.offsets_hooks = request_sequence(server, c, info)
  c.offset_reads, c.request_pending = 0, true
  return json_response(202, info)
end

local function list_connectors(model, query)
  local want = common.expansions(query)
  local names = array()
  for name in pairs(model.connectors) do names[#names + 1] = name end
  table.sort(names)
  if not want then return json_response(200, names) end
  for item in pairs(want) do
    if item ~= "id" and item ~= "info" and item ~= "status" then
      return confluent_error(400, "invalid expand value: " .. item)
    end
  end
  local map = {}
  for _, name in ipairs(names) do
    local c = model.connectors[name]
    map[name] = {
      id = want.id and { id = c.id, id_type = "ID" } or nil,
      info = want.info and { name = name, config = c.config, type = c.type } or nil,
      status = want.status and status_body(c, peek(c.states, c.reads)) or nil,
    }
  end
  return json_response(200, map)
end

function M.matches(seg)
  return seg[1] == "connect" and seg[2] == "v1"
end

local function route(server, req, seg, query)
  if seg[3] ~= "environments" or seg[5] ~= "clusters" or seg[7] ~= "connectors" then
    return confluent_error(404, "Not Found")
  end
  if seg[4] ~= DEMO_ENV or seg[6] ~= DEMO_CLUSTER then return confluent_error(404, "account not found") end
  local model = server.model.confluent
  if #seg == 7 then
    if req.method ~= "GET" then return confluent_error(405, "Method Not Allowed") end
    return list_connectors(model, query)
  end
  local c = model.connectors[seg[8]]
  if not c then return confluent_error(404, ("Connector %s not found"):format(seg[8])) end
  local suffix = table.concat(seg, "/", 9)
  local handler = ROUTES[req.method .. " " .. suffix]
  if handler then return handler(server, c, req) end
  for key in pairs(ROUTES) do
    if key:match("^%u+ (.*)$") == suffix then return confluent_error(405, "Method Not Allowed") end
  end
  return confluent_error(404, "Not Found")
end

function M.handle(server, req, seg, query)
  if not server:authorized(req, true) then return confluent_error(401, "Unauthorized") end
  local limited, limit_headers = server:take_rate_limit()
  local r = limited or route(server, req, seg, query)
  for _, h in ipairs(limit_headers or {}) do r.headers[#r.headers + 1] = h end
  return r
end

---------------------------------------------------------------------------------------------------
-- The control API: set { connector = name, states =, config =, type =, offsets =, current_offsets =,
-- offsets_outcome = "APPLIED" | "FAILED", offsets_lag = N }.

local function set_offsets(c, spec)
  if spec.offsets ~= nil then
    if not common.is_array(spec.offsets) then return "offsets must be a non-empty array" end
    c.offsets, c.offset_reads, c.offsets_hooks, c.request_pending = spec.offsets, 0, nil, nil
  end
  if spec.current_offsets ~= nil then
    if not common.is_list(spec.current_offsets) or common.entries_problem(spec.current_offsets) then
      return "current_offsets must be an array of { partition = {...}, offset = {...} }"
    end
    c.current_offsets = array(spec.current_offsets)
  end
  if spec.offsets_outcome ~= nil then
    if not OUTCOMES[spec.offsets_outcome] then return "offsets_outcome must be APPLIED or FAILED" end
    c.offsets_outcome = spec.offsets_outcome
  end
  if spec.offsets_lag ~= nil then return common.set_count(c, "offsets_lag", spec.offsets_lag, 100, "offsets_lag") end
end

function M.set(server, spec)
  local name = spec.connector
  if type(name) ~= "string" or name == "" then return "connector must be a non-empty string" end
  local connectors = server.model.confluent.connectors
  local c = connectors[name]
  if not c and not common.is_array(spec.states) then return "a new connector needs states" end
  c = c or new_connector(name, "sink", "lcc-fake" .. name:gsub("%W", ""):sub(1, 8):lower(), {}, {})
  c.config = common.is_object(spec.config) and spec.config or c.config
  c.type = type(spec.type) == "string" and spec.type or c.type
  if next(c.config) == nil then c.config = connector_config(name, "DatagenSource", c.type, {}) end
  if spec.states ~= nil then
    local states, problem = common.normalize_states(spec.states)
    if not states then return problem end
    c.states, c.reads = states, 0
  end
  local problem = set_offsets(c, spec)
  if problem then return problem end
  connectors[name] = c
end

M.DEMO_ENV, M.DEMO_CLUSTER = DEMO_ENV, DEMO_CLUSTER

return M
