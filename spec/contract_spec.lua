-- Every route of the fake API, over real HTTP (luasocket's client, never connectstatus's), checked
-- against the official OpenAPI documents: each answer against the schema documented for its
-- status, each request body the fake accepts against the request schema; and what each new route
-- does to the model (pause, offsets requests, connector actions, completion, restarts, modes).
local cjson = require "cjson"
local helpers = require "helpers"
local openapi = require "openapi"

local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"
local PIPELINE = "/v0/pipelines/demo-pipeline"
local INPUT = PIPELINE .. "/tables/orders/connectors/backfill"

local docs = {
  confluent = openapi.load("confluent"),
  feldera = openapi.load("feldera"),
  kafka_connect = openapi.load("kafka_connect"),
}

local srv

local function percent_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function fail_with(what, violations)
  error(what .. ":\n  " .. table.concat(violations, "\n  "), 3)
end

-- One exchange, checked both ways (the request only when it is meant to be accepted); returns the
-- status, the decoded answer and its text.
local function call(api, method, target, body, expected_status, headers)
  local text = body ~= nil and cjson.encode(body) or nil
  if not expected_status or expected_status < 400 then
    local ok, violations = docs[api]:check_request(method, target, text and cjson.decode(text))
    if not ok then fail_with("request " .. method .. " " .. target, violations) end
  end
  local status, answer = helpers.http(srv.url, method, target, text, headers)
  local value = answer ~= "" and cjson.decode(answer) or nil
  if expected_status then assert.equal(expected_status, status, method .. " " .. target .. ": " .. answer) end
  local ok, violations = docs[api]:check_response(method, target, status, value)
  if not ok then fail_with(("response %s %s %d"):format(method, target, status), violations) end
  return status, value, answer
end

local states = helpers.states

setup(function() srv = helpers.start_fake() end)
teardown(function() srv:stop() end)
before_each(function() srv:reset() end)

describe("Confluent Cloud routes", function()
  local function cc(...) return call("confluent", ...) end

  it("list, expansions, status, tasks and their errors match the document", function()
    assert.same({ "datagen-orders", "orders-sink", "pg-cdc", "s3-archive" }, select(2, cc("GET", PREFIX, nil, 200)))
    cc("GET", PREFIX .. "?expand=id,info,status", nil, 200)
    cc("GET", PREFIX .. "?expand=status&expand=id", nil, 200)
    -- Undocumented: the document lists no 400 here; the fake refuses an unknown expansion anyway.
    assert.equal(400, (helpers.http(srv.url, "GET", PREFIX .. "?expand=everything")))
    cc("GET", "/connect/v1/environments/env-x/clusters/lkc-demo/connectors", nil, 404)
    for _, name in ipairs { "orders-sink", "orders-sink", "orders-sink", "datagen-orders", "s3-archive" } do
      cc("GET", PREFIX .. "/" .. name .. "/status", nil, 200)
      cc("GET", PREFIX .. "/" .. name .. "/tasks", nil, 200)
    end
    cc("GET", PREFIX .. "/nope/status", nil, 404)
    cc("GET", PREFIX .. "/nope/tasks", nil, 404)
  end)

  it("pause goes PAUSED on the next read and its tasks one read later; resume comes back the same way", function()
    cc("PUT", PREFIX .. "/pg-cdc/pause", nil, 202)
    local seen = {}
    for i = 1, 3 do seen[i] = states(select(2, cc("GET", PREFIX .. "/pg-cdc/status", nil, 200))) end
    assert.same({ "PAUSED RUNNING", "PAUSED PAUSED", "PAUSED PAUSED" }, seen)
    cc("PUT", PREFIX .. "/pg-cdc/resume", nil, 202)
    for i = 1, 3 do seen[i] = states(select(2, cc("GET", PREFIX .. "/pg-cdc/status", nil, 200))) end
    assert.same({ "RUNNING PAUSED", "RUNNING RUNNING", "RUNNING RUNNING" }, seen)
    cc("PUT", PREFIX .. "/pg-cdc/resume", nil, 202) -- not paused: nothing changes
    assert.equal("RUNNING RUNNING", states(select(2, cc("GET", PREFIX .. "/pg-cdc/status", nil, 200))))
    cc("PUT", PREFIX .. "/nope/pause", nil, 404)
    cc("PUT", PREFIX .. "/nope/resume", nil, 404)
  end)

  it("a FAILED task stays FAILED through pause and resume", function()
    cc("PUT", PREFIX .. "/datagen-orders/pause", nil, 202)
    cc("GET", PREFIX .. "/datagen-orders/status", nil, 200)
    assert.equal("PAUSED PAUSED FAILED", states(select(2, cc("GET", PREFIX .. "/datagen-orders/status", nil, 200))))
  end)

  it("serves current offsets observed at the fake's clock", function()
    local _, body = cc("GET", PREFIX .. "/pg-cdc/offsets", nil, 200)
    assert.same({ id = "lcc-demo4pgcdc", name = "pg-cdc" }, { id = body.id, name = body.name })
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", body.metadata.observed_at)
    cc("GET", PREFIX .. "/nope/offsets", nil, 404)
  end)

  it("the demo offsets request walks its phases; a connector without one answers 404", function()
    local phases = {}
    for i = 1, 4 do
      phases[i] = select(2, cc("GET", PREFIX .. "/pg-cdc/offsets/request/status", nil, 200)).status.phase
    end
    assert.same({ "PENDING", "PENDING_VALIDATION", "APPLIED", "APPLIED" }, phases)
    cc("GET", PREFIX .. "/s3-archive/offsets/request/status", nil, 404)
  end)

  it("a PATCH request is accepted with the fake's requested_at, goes PENDING to APPLIED, and alters the offsets",
    function()
      local t0 = os.time()
      local given = { { partition = { kafka_partition = 0, kafka_topic = "orders" }, offset = { kafka_offset = 7 } } }
      local _, info = cc("POST", PREFIX .. "/orders-sink/offsets/request", { type = "PATCH", offsets = given }, 202)
      assert.same({ "lcc-demo1ords", "orders-sink", "PATCH" }, { info.id, info.name, info.type })
      assert.same(given, info.offsets)
      local y, mo, d, h, mi, s = info.requested_at:match("^(%d+)%-(%d+)%-(%d+)T(%d+):(%d+):(%d+)%.%d%d%dZ$")
      assert.truthy(y, info.requested_at)
      local stamped = os.time { year = y, month = mo, day = d, hour = h, min = mi, sec = s, isdst = false }
      local skew = os.time(os.date("*t", t0)) - os.time(os.date("!*t", t0))
      assert.truthy(math.abs(stamped + skew - t0) <= 2, info.requested_at)
      local seen = {}
      for i = 1, 4 do
        local _, body = cc("GET", PREFIX .. "/orders-sink/offsets/request/status", nil, 200)
        assert.equal(info.requested_at, body.request.requested_at)
        seen[i] = body
      end
      assert.same({ "PENDING", "PENDING_VALIDATION", "APPLIED", "APPLIED" },
        { seen[1].status.phase, seen[2].status.phase, seen[3].status.phase, seen[4].status.phase })
      assert.equal(1042, seen[3].previous_offsets[1].offset.kafka_offset)
      assert.equal(seen[3].applied_at, seen[4].applied_at)
      assert.equal(7, select(2, cc("GET", PREFIX .. "/orders-sink/offsets", nil, 200)).offsets[1].offset.kafka_offset)
    end)

  it("an older request stays visible for a read after a new one; requests are one at a time", function()
    cc("POST", PREFIX .. "/s3-archive/offsets/request", { type = "DELETE" }, 202)
    local first
    for _ = 1, 3 do first = select(2, cc("GET", PREFIX .. "/s3-archive/offsets/request/status", nil, 200)) end
    assert.equal("APPLIED", first.status.phase)
    assert.same({}, select(2, cc("GET", PREFIX .. "/s3-archive/offsets", nil, 200)).offsets)
    local given = { { partition = { kafka_partition = 0, kafka_topic = "orders" }, offset = { kafka_offset = 1 } } }
    local _, second = cc("POST", PREFIX .. "/s3-archive/offsets/request", { type = "PATCH", offsets = given }, 202)
    assert.truthy(second.requested_at > first.request.requested_at)
    cc("POST", PREFIX .. "/s3-archive/offsets/request", { type = "DELETE" }, 400)
    local stale = select(2, cc("GET", PREFIX .. "/s3-archive/offsets/request/status", nil, 200))
    assert.same({ first.request.requested_at, "APPLIED" }, { stale.request.requested_at, stale.status.phase })
    local fresh = select(2, cc("GET", PREFIX .. "/s3-archive/offsets/request/status", nil, 200))
    assert.same({ second.requested_at, "PENDING" }, { fresh.request.requested_at, fresh.status.phase })
  end)

  it("stamps requests strictly increasing at millisecond precision", function()
    local server = require("connectstatus.fake").new { scenario = "empty" }
    local iso_time = require("connectstatus.fake.common").iso_time
    local last = ""
    for _ = 1, 3000 do
      local stamp = iso_time(server:stamp())
      assert(stamp > last, stamp .. " after " .. last)
      last = stamp
    end
    server:stop()
  end)

  it("a scripted FAILED outcome, a shifted clock, and refused bodies", function()
    srv:set { connector = "orders-sink", offsets_outcome = "FAILED", offsets_lag = 0, clock_offset = -86400 * 400 }
    local _, info = cc("POST", PREFIX .. "/orders-sink/offsets/request", { type = "DELETE" }, 202)
    assert.truthy(info.requested_at < os.date("!%Y-%m-%d", os.time() - 86400 * 399), info.requested_at)
    local last
    for _ = 1, 4 do last = select(2, cc("GET", PREFIX .. "/orders-sink/offsets/request/status", nil, 200)) end
    assert.equal("FAILED", last.status.phase)
    assert.truthy(#last.status.message > 0)
    assert.equal(1042, select(2, cc("GET", PREFIX .. "/orders-sink/offsets", nil, 200)).offsets[1].offset.kafka_offset)
    local status = helpers.http(srv.url, "POST", PREFIX .. "/pg-cdc/offsets/request", '{"type":"MOVE"}')
    assert.equal(400, status)
    assert.equal(400, (helpers.http(srv.url, "POST", PREFIX .. "/pg-cdc/offsets/request", '{"type":"PATCH"}')))
    assert.equal(400, (helpers.http(srv.url, "POST", PREFIX .. "/pg-cdc/offsets/request", "not json")))
    cc("POST", PREFIX .. "/nope/offsets/request", { type = "DELETE" }, 404)
  end)

  it("answers 401 in the documented shape when credentials are wrong", function()
    local secured = helpers.start_fake { api_key = "KEY", api_secret = "SECRET" }
    local ok, err = pcall(function()
      local status, body = helpers.http(secured.url, "PUT", PREFIX .. "/pg-cdc/pause")
      assert.equal(401, status)
      local good, violations = docs.confluent:check_response("PUT", PREFIX .. "/pg-cdc/pause", 401, cjson.decode(body))
      assert(good, table.concat(violations, "\n"))
    end)
    secured:stop()
    assert(ok, err)
  end)
end)

describe("Feldera routes", function()
  local function fd(...) return call("feldera", ...) end

  it("input, output and pipeline stats, and their 404s, match the document", function()
    for _ = 1, 5 do fd("GET", INPUT .. "/stats", nil, 200) end
    fd("GET", PIPELINE .. "/views/order_totals/connectors/kafka_out/stats", nil, 200)
    local _, stats = fd("GET", PIPELINE .. "/stats", nil, 200)
    assert.equal(1, #stats.inputs)
    assert.equal("order_totals.kafka_out", stats.outputs[1].endpoint_name)
    fd("GET", "/v0/pipelines/x/stats", nil, 404)
    fd("GET", "/v0/pipelines/x/tables/orders/connectors/backfill/stats", nil, 404)
    fd("GET", PIPELINE .. "/tables/orders/connectors/nope/stats", nil, 404)
    fd("GET", PIPELINE .. "/views/order_totals/connectors/nope/stats", nil, 404)
  end)

  it("pipeline stats count as reads of each endpoint; global metrics sum the inputs exactly", function()
    local _, _, first = fd("GET", PIPELINE .. "/stats", nil, 200)
    assert.matches('"total_input_records":9007199254700001[,}]', first)
    local _, second = fd("GET", PIPELINE .. "/stats", nil, 200)
    assert.equal(1500, second.outputs[1].metrics.transmitted_records)
    assert.equal(8192, second.inputs[1].metrics.buffered_records)
  end)

  it("pause shows in the connector's stats and in the pipeline's, and holds its progress; start resumes", function()
    fd("POST", INPUT .. "/pause", nil, 200)
    local a = select(2, fd("GET", INPUT .. "/stats", nil, 200))
    local b = select(2, fd("GET", PIPELINE .. "/stats", nil, 200)).inputs[1]
    assert.is_true(a.paused)
    assert.is_true(b.paused)
    assert.equal(a.metrics.buffered_records, b.metrics.buffered_records)
    fd("POST", INPUT .. "/start", nil, 200)
    assert.is_false(select(2, fd("GET", INPUT .. "/stats", nil, 200)).paused)
    fd("POST", INPUT .. "/rewind", nil, 404)
    fd("POST", PIPELINE .. "/tables/orders/connectors/nope/pause", nil, 404)
    fd("POST", "/v0/pipelines/x/tables/orders/connectors/backfill/pause", nil, 404)
  end)

  it("a completion token completes after the set number of reads; an unknown one is a 400", function()
    srv:set { feldera = { completion_reads = 3 } }
    local _, body = fd("GET", INPUT .. "/completion_token", nil, 200)
    assert.matches("[+/=]", body.token) -- a client has to percent-encode it
    local target = PIPELINE .. "/completion_status?token=" .. percent_encode(body.token)
    local seen = {}
    for i = 1, 5 do
      local status, answer = fd("GET", target)
      seen[i] = status .. " " .. answer.status
    end
    assert.same({ "202 inprogress", "202 inprogress", "202 inprogress", "200 complete", "200 complete" }, seen)
    fd("GET", PIPELINE .. "/completion_status?token=" .. body.token, nil, 400) -- '+' read as a space
    fd("GET", PIPELINE .. "/completion_status?token=nope", nil, 400)
    fd("GET", PIPELINE .. "/completion_status", nil, 400)
    fd("GET", "/v0/pipelines/x/completion_status?token=" .. percent_encode(body.token), nil, 404)
    fd("GET", PIPELINE .. "/tables/orders/connectors/nope/completion_token", nil, 404)
  end)
end)

describe("Kafka Connect routes", function()
  local function kc(...) return call("kafka_connect", ...) end
  local C = "/connectors"

  it("info, list, expansions, status, tasks, config, offsets and topics match the document", function()
    local _, info = kc("GET", "/", nil, 200)
    assert.same({ "3.9.0", true, true }, { info.version, #info.commit > 0, #info.kafka_cluster_id > 0 })
    assert.same({ "audit-sink", "inventory-source", "search-sink" }, select(2, kc("GET", C, nil, 200)))
    local _, map = kc("GET", C .. "?expand=status&expand=info", nil, 200)
    assert.equal("FAILED", map["inventory-source"].status.tasks[2].state)
    assert.equal("sink", map["audit-sink"].info.type)
    assert.same({}, select(2, kc("GET", C .. "?expand=status,info", nil, 200))["search-sink"])
    for _, name in ipairs { "inventory-source", "search-sink", "audit-sink" } do
      for _, suffix in ipairs { "", "/status", "/tasks", "/config", "/offsets", "/topics", "/tasks/0/status" } do
        kc("GET", C .. "/" .. name .. suffix, nil, 200)
      end
    end
    local _, status = kc("GET", C .. "/inventory-source/status", nil, 200)
    assert.is_nil(status.tasks[1].trace) -- left out when empty
    assert.matches("^org%.apache%.kafka", status.tasks[2].trace)
    assert.same({ "inventory.items" }, select(2, kc("GET", C .. "/inventory-source/topics", nil, 200))
      ["inventory-source"].topics)
    local _, err = kc("GET", C .. "/nope/status", nil, 404)
    assert.same({ 404, "Connector nope not found" }, { err.error_code, err.message })
    kc("GET", C .. "/inventory-source/tasks/9/status", nil, 404)
    local code, body = helpers.http(srv.url, "GET", C .. "/inventory-source/whatever") -- no such operation
    assert.same({ 404, 404 }, { code, cjson.decode(body).error_code })
  end)

  it("restart with only_failed and include_tasks answers 202 showing RESTARTING, then RUNNING", function()
    local _, body = kc("POST", C .. "/inventory-source/restart?includeTasks=true&onlyFailed=true", nil, 202)
    assert.equal("RUNNING RUNNING RESTARTING", states(body))
    local seen = {}
    for i = 1, 3 do seen[i] = states(select(2, kc("GET", C .. "/inventory-source/status", nil, 200))) end
    assert.same({ "RUNNING RUNNING RESTARTING", "RUNNING RUNNING RUNNING", "RUNNING RUNNING RUNNING" }, seen)
  end)

  it("a FAILED task stays FAILED unless restarted; a plain restart is a 204 for the connector only", function()
    kc("POST", C .. "/inventory-source/restart", nil, 204)
    local seen = {}
    for i = 1, 2 do seen[i] = states(select(2, kc("GET", C .. "/inventory-source/status", nil, 200))) end
    assert.same({ "RESTARTING RUNNING FAILED", "RUNNING RUNNING FAILED" }, seen)
    local _, body = kc("POST", C .. "/inventory-source/restart?includeTasks=true", nil, 202)
    assert.equal("RESTARTING RESTARTING RESTARTING", states(body))
    kc("POST", C .. "/search-sink/restart?onlyFailed=true", nil, 202) -- nothing failed: nothing restarts
    assert.equal("RUNNING RUNNING RUNNING", states(select(2, kc("GET", C .. "/search-sink/status", nil, 200))))
    kc("POST", C .. "/nope/restart", nil, 404)
  end)

  it("restarts one task; restart_fails keeps a restarted task FAILED", function()
    kc("POST", C .. "/inventory-source/tasks/1/restart", nil, 204)
    kc("GET", C .. "/inventory-source/tasks/1/status", nil, 200)
    assert.equal("RESTARTING", select(2, kc("GET", C .. "/inventory-source/tasks/1/status", nil, 200)).state)
    kc("GET", C .. "/inventory-source/status", nil, 200)
    assert.equal("RUNNING", select(2, kc("GET", C .. "/inventory-source/tasks/1/status", nil, 200)).state)
    srv:set { kafka_connect = { connector = "search-sink", restart_fails = true } }
    kc("POST", C .. "/search-sink/tasks/0/restart", nil, 204)
    kc("GET", C .. "/search-sink/status", nil, 200)
    assert.equal("RUNNING FAILED RUNNING", states(select(2, kc("GET", C .. "/search-sink/status", nil, 200))))
    kc("POST", C .. "/search-sink/tasks/7/restart", nil, 404)
  end)

  it("pause, resume and stop; offsets change only while STOPPED", function()
    kc("PUT", C .. "/search-sink/pause", nil, 202)
    kc("GET", C .. "/search-sink/status", nil, 200)
    assert.equal("PAUSED PAUSED PAUSED", states(select(2, kc("GET", C .. "/search-sink/status", nil, 200))))
    local offsets = { offsets = { { partition = { kafka_topic = "orders", kafka_partition = 0 },
      offset = { kafka_offset = 10 } } } }
    local _, refused = kc("PATCH", C .. "/search-sink/offsets", offsets, 400)
    assert.same({ 400, true }, { refused.error_code, refused.message:find("STOPPED", 1, true) ~= nil })
    kc("DELETE", C .. "/search-sink/offsets", nil, 400)
    kc("PUT", C .. "/search-sink/stop", nil, 204)
    assert.equal("STOPPED", states(select(2, kc("GET", C .. "/search-sink/status", nil, 200))))
    kc("PATCH", C .. "/search-sink/offsets", offsets, 200)
    local _, now = kc("GET", C .. "/search-sink/offsets", nil, 200)
    assert.equal(10, now.offsets[2].offset.kafka_offset)
    kc("DELETE", C .. "/search-sink/offsets", nil, 200)
    assert.same({}, select(2, kc("GET", C .. "/search-sink/offsets", nil, 200)).offsets)
    kc("PUT", C .. "/search-sink/resume", nil, 202)
    local seen = {}
    for i = 1, 2 do seen[i] = states(select(2, kc("GET", C .. "/search-sink/status", nil, 200))) end
    assert.same({ "RUNNING UNASSIGNED UNASSIGNED", "RUNNING RUNNING RUNNING" }, seen)
    kc("PUT", C .. "/audit-sink/resume", nil, 202)
    kc("GET", C .. "/audit-sink/status", nil, 200)
    assert.equal("RUNNING RUNNING", states(select(2, kc("GET", C .. "/audit-sink/status", nil, 200))))
  end)

  it("a rebalance answers 409 to the next N requests, then the worker answers again", function()
    srv:set { kafka_connect = { rebalance = 2 } }
    local _, first = kc("GET", C .. "/search-sink/status", nil, 409)
    assert.equal(409, first.error_code)
    kc("PUT", C .. "/search-sink/pause", nil, 409)
    kc("GET", C .. "/search-sink/status", nil, 200)
    assert.equal("RUNNING RUNNING RUNNING", states(select(2, kc("GET", C .. "/search-sink/status", nil, 200))))
  end)

  it("an old worker ignores expand and restart flags and lacks stop, offsets and topics", function()
    srv:set { kafka_connect = { version = "2.2.0" } }
    assert.equal("2.2.0", select(2, kc("GET", "/", nil, 200)).version)
    assert.same({ "audit-sink", "inventory-source", "search-sink" },
      select(2, kc("GET", C .. "?expand=status&expand=info", nil, 200)))
    kc("GET", C .. "/search-sink/offsets", nil, 404)
    kc("GET", C .. "/search-sink/topics", nil, 404)
    kc("PUT", C .. "/search-sink/stop", nil, 404)
    kc("POST", C .. "/inventory-source/restart?includeTasks=true&onlyFailed=true", nil, 204)
  end)

  it("checks Basic and Bearer credentials like the other APIs", function()
    local secured = helpers.start_fake { api_key = "user", api_secret = "pa:ss", token = "tok" }
    local ok, err = pcall(function()
      local status, body = helpers.http(secured.url, "GET", C)
      assert.same({ 401, 401 }, { status, cjson.decode(body).error_code })
      assert.equal(200, (helpers.http(secured.url, "GET", C, nil,
        { Authorization = "Basic " .. helpers.base64("user:pa:ss") })))
      assert.equal(200, (helpers.http(secured.url, "GET", "/", nil, { Authorization = "Bearer tok" })))
      assert.equal(401, (helpers.http(secured.url, "GET", C, nil, { Authorization = "Bearer nope" })))
    end)
    secured:stop()
    assert(ok, err)
  end)
end)

describe("the documents' known defects", function()
  it("the raw Kafka Connect document rejects real offsets, which is why the erratum exists", function()
    local _, text = helpers.http(srv.url, "GET", "/connectors/search-sink/offsets")
    local raw = openapi.load("kafka_connect", { raw = true })
    local ok, violations = raw:check_response("GET", "/connectors/search-sink/offsets", 200, cjson.decode(text))
    assert.is_false(ok)
    local text_of = table.concat(violations, "\n")
    assert.matches("/offsets/0/offset/kafka_offset: expected object, got 5120", text_of, 1, true)
    assert.matches("/offsets/0/partition/kafka_topic: expected object", text_of, 1, true)
  end)

  it("the raw Confluent document refuses the comma-joined expand that its own path shows", function()
    local target = PREFIX .. "?expand=id,info,status"
    assert.is_false((openapi.load("confluent", { raw = true }):check_request("GET", target)))
    assert.is_true((docs.confluent:check_request("GET", target)))
  end)
end)

describe("hostile input", function()
  it("refuses malformed control parts and bodies with a 400, and keeps serving", function()
    for _, spec in ipairs {
      { connector = "x", states = { { connector = { state = "RUNNING" }, tasks = "none" } } },
      { connector = "pg-cdc", current_offsets = { a = 1 } },
      { connector = "pg-cdc", offsets_lag = -1 },
      { connector = "pg-cdc", offsets_outcome = "MAYBE" },
      { feldera = { completion_reads = 1.5 } },
      { kafka_connect = { rebalance = "many" } },
      { kafka_connect = { version = "new" } },
      { kafka_connect = { connector = "search-sink", offsets = { { partition = 1 } } } },
      { kafka_connect = { connector = "search-sink", topics = { a = 1 } } },
      { clock_offset = "soon" },
    } do
      local status, body = helpers.http(srv.url, "POST", "/_fake/set", cjson.encode(spec))
      assert.equal(400, status, cjson.encode(spec) .. " -> " .. body)
    end
    for _, case in ipairs {
      { "POST", PREFIX .. "/pg-cdc/offsets/request", '{"type":"DELETE","offsets":{"a":1}}' },
      { "POST", PREFIX .. "/pg-cdc/offsets/request", '{"type":"PATCH","offsets":[1]}' },
      { "POST", PREFIX .. "/pg-cdc/offsets/request", "[]" },
      { "PATCH", "/connectors/search-sink/offsets", '{"offsets":{"a":1}}' },
    } do
      if case[2]:find("search-sink", 1, true) then helpers.http(srv.url, "PUT", "/connectors/search-sink/stop") end
      assert.equal(400, (helpers.http(srv.url, case[1], case[2], case[3])), case[3])
    end
    local running = { connector = { state = "RUNNING" }, tasks = { { id = 0, state = "RUNNING" } } }
    srv:set { kafka_connect = { connector = "odd", states = { running }, config = { 1, 2 } } }
    assert.equal(200, (helpers.http(srv.url, "GET", "/connectors/odd/tasks")))
    srv:set { kafka_connect = { connector = "odd", config = { note = "no connector.class" } } }
    assert.equal(200, (helpers.http(srv.url, "GET", "/connectors/odd/tasks")))
    assert.equal(200, (helpers.http(srv.url, "GET", PREFIX .. "/pg-cdc/status")))
    -- Nothing above raised inside the server: it would have written a traceback to its log.
    assert.equal("", (helpers.read_file(srv.log):gsub("^listening [^\n]*\n", "")))
  end)
end)
