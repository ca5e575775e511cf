-- connectstatus.fake.feldera: the Feldera pipeline manager v0 under /v0/pipelines. Each read of an
-- endpoint's stats (or of its pipeline's stats) advances that endpoint's sequence, unless the
-- input connector is paused; completion tokens complete after a set number of status reads.
local common = require "connectstatus.fake.common"

local M = {}

local json_response, array, peek, u64 = common.json_response, common.array, common.peek, common.u64
local DEFAULT_COMPLETION_READS = 2
local INCARNATION = "7f1c5e2a-0b1d-4c5e-9a55-3d7e6f8a9b01"

local function feldera_error(status, message, error_code, details)
  return json_response(status, { message = message, error_code = error_code, details = details })
end

local function key(a, b)
  return a .. "\0" .. b
end

local function new_pipeline()
  return { inputs = {}, outputs = {}, input_order = {}, output_order = {} }
end

local function input_stats(endpoint, stream, records, buffered, end_of_input)
  return {
    endpoint_name = endpoint, config = { stream = stream }, paused = false, barrier = false,
    metrics = {
      total_bytes = u64(records .. "7"), total_records = u64(records), buffered_records = buffered,
      buffered_bytes = buffered * 70, num_transport_errors = 0, num_parse_errors = 0,
      end_of_input = end_of_input, processing_latency_p99_micros = 1830,
    },
  }
end

local function output_stats(endpoint, stream, transmitted, queued, steps)
  return {
    endpoint_name = endpoint, config = { stream = stream },
    metrics = {
      transmitted_records = transmitted, transmitted_bytes = transmitted * 48, queued_records = queued,
      queued_batches = queued > 0 and 1 or 0, buffered_records = 0, buffered_batches = 0, num_encode_errors = 0,
      num_transport_errors = 0, total_processed_input_records = transmitted, total_processed_steps = steps,
      memory = 4096,
    },
  }
end

local function add_endpoint(pipeline, side, name_a, name_b, stats)
  local k = key(name_a, name_b)
  local list, order = pipeline[side], pipeline[side == "inputs" and "input_order" or "output_order"]
  if not list[k] then order[#order + 1] = k end
  list[k] = { stats = stats, reads = 0 }
end

function M.new_model(scenario)
  local model = { pipelines = {}, tokens = {}, token_count = 0, completion_reads = DEFAULT_COMPLETION_READS }
  if scenario == "empty" then return model end
  local demo = new_pipeline()
  model.pipelines["demo-pipeline"] = demo
  add_endpoint(demo, "inputs", "orders", "backfill", {
    input_stats("orders.backfill", "orders", "9007199254700001", 4096, false),
    input_stats("orders.backfill", "orders", "9007199254720001", 8192, false),
    input_stats("orders.backfill", "orders", "9007199254740993", 2048, true),
    input_stats("orders.backfill", "orders", "9007199254740993", 0, true),
  })
  add_endpoint(demo, "outputs", "order_totals", "kafka_out", {
    output_stats("order_totals.kafka_out", "order_totals", 1200, 300, 11),
    output_stats("order_totals.kafka_out", "order_totals", 1500, 0, 12),
  })
  return model
end

-- What a read of the endpoint shows now (with its paused flag once an action set it); advances it.
local function read_endpoint(ep)
  local body = peek(ep.stats, ep.reads)
  if ep.paused ~= nil and type(body) == "table" then
    body = common.copy(body)
    body.paused = ep.paused
  end
  if not ep.paused then ep.reads = ep.reads + 1 end
  return body
end

local function metric(body, name)
  return type(body) == "table" and type(body.metrics) == "table" and body.metrics[name] or 0
end

local function global_metrics(server, inputs)
  local totals, bytes, buffered, buffered_bytes, complete = {}, {}, {}, {}, true
  for i, body in ipairs(inputs) do
    totals[i], bytes[i] = metric(body, "total_records"), metric(body, "total_bytes")
    buffered[i], buffered_bytes[i] = metric(body, "buffered_records"), metric(body, "buffered_bytes")
    complete = complete and metric(body, "end_of_input") == true and metric(body, "buffered_records") == 0
  end
  local uptime = math.floor((common.now() - server.started) * 1000)
  local total = common.u64_sum(totals)
  return {
    state = "Running", bootstrap_in_progress = false, transaction_status = "NoTransaction", transaction_id = 0,
    transaction_initiators = { initiated_by_connectors = {} }, concurrent_bootstrap_phase = "Inactive",
    rss_bytes = 268435456, memory_pressure = "low", memory_pressure_epoch = 0, cpu_msecs = uptime,
    uptime_msecs = uptime, start_time = math.floor(server.started), incarnation_uuid = INCARNATION,
    initial_start_time = math.floor(server.started), storage_bytes = 0, storage_mb_secs = 0,
    runtime_elapsed_msecs = uptime, buffered_input_records = common.u64_sum(buffered),
    buffered_input_bytes = common.u64_sum(buffered_bytes), total_input_records = total,
    total_input_bytes = common.u64_sum(bytes), total_processed_records = total, total_processed_bytes = 0,
    total_completed_records = total, output_stall_msecs = 0, total_initiated_steps = 12,
    total_completed_steps = 12, pipeline_complete = complete,
  }
end

local function pipeline_stats(server, pipeline)
  local inputs, outputs = array(), array()
  for _, k in ipairs(pipeline.input_order) do inputs[#inputs + 1] = read_endpoint(pipeline.inputs[k]) end
  for _, k in ipairs(pipeline.output_order) do outputs[#outputs + 1] = read_endpoint(pipeline.outputs[k]) end
  return json_response(200, { global_metrics = global_metrics(server, inputs), inputs = inputs, outputs = outputs })
end

local function unknown_endpoint(kind, seg)
  local name = seg[5] .. "." .. seg[7]
  return feldera_error(404, ("Unknown %s endpoint '%s'"):format(kind, name),
    kind == "input" and "UnknownInputEndpoint" or "UnknownOutputEndpoint", { endpoint_name = name })
end

local function completion_token(model, pipeline_name, ep, seg)
  model.token_count = model.token_count + 1
  -- Opaque, with the characters a client must percent-encode in a query ('+', '/', '=').
  local token = common.base64(("%s\0%s.%s\0%d"):format(pipeline_name, seg[5], seg[7], model.token_count))
  token = "ct+" .. token:gsub("=", "") .. "/" .. model.token_count .. "=="
  model.tokens[token] = { pipeline = pipeline_name, reads = 0, needed = model.completion_reads,
    step = 12 + model.token_count, endpoint = ep }
  return json_response(200, { token = token })
end

local function completion_status(model, pipeline_name, query)
  local given = common.query_values(query, "token", true)[1]
  local t = given and model.tokens[given]
  if not t or t.pipeline ~= pipeline_name then
    return feldera_error(400, "Invalid completion token", "InvalidCompletionToken", { token = given or "" })
  end
  t.reads = t.reads + 1
  if t.reads > t.needed then return json_response(200, { status = "complete", step = t.step }) end
  return json_response(202, { status = "inprogress", step = common.null })
end

local ACTIONS = { start = false, pause = true }

-- Connector routes (after /v0/pipelines/{p}/{tables|views}/{x}/connectors/{c}/): method, function.
local INPUT_ROUTES = {
  stats = { "GET", function(_, _, ep) return json_response(200, read_endpoint(ep)) end },
  completion_token = { "GET", function(model, seg, ep) return completion_token(model, seg[3], ep, seg) end },
}

local function connector_route(server, req, seg, pipeline)
  local model = server.model.feldera
  local route = seg[4] == "tables" and (INPUT_ROUTES[seg[8]] or { "POST", false })
    or seg[8] == "stats" and { "GET", false }
  if not route then return feldera_error(404, "Not Found", "NotFound", {}) end
  if req.method ~= route[1] then return feldera_error(405, "Method Not Allowed", "MethodNotAllowed", {}) end
  if not pipeline then
    return feldera_error(404, ("Unknown pipeline name '%s'"):format(seg[3]), "UnknownPipelineName",
      { pipeline_name = seg[3] })
  end
  if seg[4] == "views" then
    local ep = pipeline.outputs[key(seg[5], seg[7])]
    if not ep then return unknown_endpoint("output", seg) end
    return json_response(200, read_endpoint(ep))
  end
  local ep = pipeline.inputs[key(seg[5], seg[7])]
  if not ep then return unknown_endpoint("input", seg) end
  if route[2] then return route[2](model, seg, ep) end
  if ACTIONS[seg[8]] == nil then
    return feldera_error(404, ("Unknown action '%s' (start or pause)"):format(seg[8]), "NotFound", {})
  end
  ep.paused = ACTIONS[seg[8]]
  return common.empty_response(200)
end

local PIPELINE_ROUTES = { stats = true, completion_status = true }

local function route(server, req, seg, query)
  if seg[2] ~= "pipelines" or not seg[3] then return feldera_error(404, "Not Found", "NotFound", {}) end
  local model = server.model.feldera
  local pipeline = model.pipelines[seg[3]]
  if #seg == 8 and seg[6] == "connectors" and (seg[4] == "tables" or seg[4] == "views") then
    return connector_route(server, req, seg, pipeline)
  end
  if #seg ~= 4 or not PIPELINE_ROUTES[seg[4]] then return feldera_error(404, "Not Found", "NotFound", {}) end
  if req.method ~= "GET" then return feldera_error(405, "Method Not Allowed", "MethodNotAllowed", {}) end
  if not pipeline then
    return feldera_error(404, ("Unknown pipeline name '%s'"):format(seg[3]), "UnknownPipelineName",
      { pipeline_name = seg[3] })
  end
  if seg[4] == "stats" then return pipeline_stats(server, pipeline) end
  return completion_status(model, seg[3], query)
end

function M.matches(seg)
  return seg[1] == "v0"
end

function M.handle(server, req, seg, query)
  if not server:authorized(req, false) then
    return json_response(401, { message = "Unauthorized", error_code = "Unauthorized" })
  end
  return route(server, req, seg, query)
end

---------------------------------------------------------------------------------------------------
-- The control API: set { feldera = { pipeline =, table = | view =, connector =, stats = { ... } } }
-- and set { feldera = { completion_reads = N } }.


function M.set(server, spec)
  local model = server.model.feldera
  if spec.completion_reads ~= nil then
    local problem = common.set_count(model, "completion_reads", spec.completion_reads, 1000,
      "feldera.completion_reads")
    if problem then return problem end
    if spec.pipeline == nil then return nil end
  end
  local side = spec.view ~= nil and "view" or "table"
  for _, name in ipairs { "pipeline", side, "connector" } do
    if type(spec[name]) ~= "string" or spec[name] == "" then
      return "feldera." .. name .. " must be a non-empty string"
    end
  end
  if not common.is_array(spec.stats) then return "feldera.stats must be a non-empty array" end
  model.pipelines[spec.pipeline] = model.pipelines[spec.pipeline] or new_pipeline()
  add_endpoint(model.pipelines[spec.pipeline], side == "view" and "outputs" or "inputs", spec[side], spec.connector,
    spec.stats)
end

return M
