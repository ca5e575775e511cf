-- The actions (Confluent pause, resume, alter and reset offsets; Feldera connector control and
-- completion), with and without their waits, against the fake API process over real libcurl:
-- what the fake did, what it received, and how writes are retried. Requests and answers are
-- checked against the OpenAPI documents.
local cs = require "connectstatus"
local cjson = require "cjson"
local helpers = require "helpers"
local openapi = require "openapi"

local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"
local PIPELINE = "/v0/pipelines/demo-pipeline"
local INPUT = PIPELINE .. "/tables/orders/connectors/backfill"
local FAST = { interval = 0.01, timeout = 10 }

local function sink_offsets(offset)
  return { { partition = { kafka_partition = 0, kafka_topic = "orders" }, offset = { kafka_offset = offset } } }
end

local function with(base, extra)
  local out = {}
  for k, v in pairs(base) do out[k] = v end
  for k, v in pairs(extra or {}) do out[k] = v end
  return out
end

local function states(status)
  local out = { status.connector.state }
  for _, t in ipairs(status.tasks) do out[#out + 1] = t.state end
  return table.concat(out, " ")
end

-- The recorded requests as "METHOD target" (control requests are not recorded).
local function sent(server)
  local out = {}
  for i, r in ipairs(server:requests()) do out[i] = r.method .. " " .. r.target end
  return out
end

local function count(server, method, target)
  local n = 0
  for _, r in ipairs(server:requests()) do
    if r.method == method and r.target == target then n = n + 1 end
  end
  return n
end

-- Each of the functions raises, naming its own line in this file (the caller's), and server
-- received nothing.
local function raise_here(functions, server)
  for i, f in ipairs(functions) do
    local ok, msg = pcall(f)
    assert.is_false(ok, "case " .. i)
    assert.matches("actions_spec%.lua:%d+: ", msg, nil, false, "case " .. i)
  end
  assert.equal(0, #server:requests())
end

-- A clock that only moves when slept on.
local function fake_time()
  local t = { now = 1000 }
  function t.clock() return t.now end
  function t.sleep(s) t.now = t.now + s end
  return t
end

describe("actions", function()
  local fake, cc, fd

  local function confluent(extra)
    return cs.confluent(with({ api_key = "k", api_secret = "s", environment = "env-demo", cluster = "lkc-demo",
      base_url = fake.url, sleep = function() end, timeout = 10 }, extra))
  end

  setup(function() fake = helpers.start_fake() end)
  teardown(function() fake:stop() end)

  before_each(function()
    fake:reset()
    cc = confluent()
    fd = cs.feldera { base_url = fake.url, sleep = function() end, timeout = 10 }
  end)

  after_each(function()
    cc:close()
    fd:close()
  end)

  describe("Confluent pause and resume", function()
    it("without a wait, send one PUT and return true; the connector changes on the following reads", function()
      assert.is_true(cc:pause("pg-cdc"))
      assert.same({ "PUT " .. PREFIX .. "/pg-cdc/pause" }, sent(fake))
      assert.equal("PAUSED RUNNING", states(cc:status("pg-cdc")))
      assert.equal("PAUSED PAUSED", states(cc:status("pg-cdc")))
      assert.is_true(cc:resume("pg-cdc", { timeout = 5 }))
      assert.equal("RUNNING PAUSED", states(cc:status("pg-cdc")))
    end)

    it("with wait = true, return the status once the connector and every task are PAUSED", function()
      local polls = {}
      local status = assert(cc:pause("pg-cdc", { wait = true, interval = 0.01,
        on_poll = function(s) polls[#polls + 1] = states(s) end }))
      assert.equal("PAUSED PAUSED", states(status))
      assert.same({ "PAUSED RUNNING", "PAUSED PAUSED" }, polls)
      assert.same({ "PUT " .. PREFIX .. "/pg-cdc/pause", "GET " .. PREFIX .. "/pg-cdc/status",
        "GET " .. PREFIX .. "/pg-cdc/status" }, sent(fake))
    end)

    it("with wait = { ... }, take the wait's options apart, and resume waits for RUNNING", function()
      assert(cc:pause("pg-cdc", { wait = FAST }))
      local status = assert(cc:resume("pg-cdc", { wait = FAST }))
      assert.equal("RUNNING RUNNING", states(status))
    end)

    it("fail as the wait does when a task is FAILED", function()
      local _, err = cc:pause("datagen-orders", { wait = FAST })
      assert.equal("failed", err.kind)
      assert.equal(1, err.task)
      assert.equal("PAUSED", err.last.connector.state)
    end)

    it("time out as the wait does, one timeout bounding the write and the wait", function()
      local t = fake_time()
      local slow = confluent { clock = t.clock, sleep = t.sleep, random = function() return 0.5 end }
      -- The PUT is answered 503 with Retry-After 2 once: its retry spends 2 of the 3 seconds.
      fake:script { method = "PUT", path = PREFIX .. "/pg-cdc/pause",
        responses = { { status = 503, headers = { ["Retry-After"] = "2" }, json = { error = { code = 503 } } } } }
      local stuck = { name = "pg-cdc", type = "source", connector = { state = "RUNNING", worker_id = "w", trace = "" },
        tasks = { { id = 0, state = "RUNNING", worker_id = "w", msg = "" } } }
      fake:script { method = "GET", path = PREFIX .. "/pg-cdc/status", responses = { { json = stuck }, { json = stuck },
        { json = stuck }, { json = stuck }, { json = stuck } } }
      local _, err = slow:pause("pg-cdc", { wait = true, timeout = 3, interval = 1 })
      assert.equal("timeout", err.kind)
      assert.equal(1003, t.now)
      assert.equal(2, count(fake, "PUT", PREFIX .. "/pg-cdc/pause"))
      -- At 1002; at 1003 no time is left for another read, and none goes out for 3 s more.
      assert.equal(1, count(fake, "GET", PREFIX .. "/pg-cdc/status"))
      assert.equal("RUNNING", err.last.connector.state)
      slow:close()
    end)
  end)

  describe("Confluent offsets", function()
    it("read the current offsets with the time the API observed them", function()
      local offsets = assert(cc:offsets("orders-sink"))
      assert.equal(1042, offsets.offsets[1].offset.kafka_offset)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT", offsets.metadata.observed_at)
    end)

    it("without a wait, return the accepted request with the server's requested_at", function()
      local accepted = assert(cc:alter_offsets("orders-sink", sink_offsets(7)))
      assert.same({ "orders-sink", "PATCH" }, { accepted.name, accepted.type })
      assert.is_string(accepted.requested_at)
      local r = fake:requests()[1]
      assert.same({ "POST", PREFIX .. "/orders-sink/offsets/request" }, { r.method, r.target })
      assert.same({ type = "PATCH", offsets = sink_offsets(7) }, cjson.decode(r.body))
      local reset = assert(cc:reset_offsets("pg-cdc"))
      assert.same({ "pg-cdc", "DELETE" }, { reset.name, reset.type })
      assert.same({ type = "DELETE" }, cjson.decode(fake:requests()[2].body))
    end)

    it("with a wait, return the APPLIED status of this request, and the offsets are altered", function()
      local st = assert(cc:alter_offsets("orders-sink", sink_offsets(7), with(FAST, { wait = true })))
      assert.equal("APPLIED", st.status.phase)
      assert.equal(1042, st.previous_offsets[1].offset.kafka_offset)
      assert.equal(7, cc:offsets("orders-sink").offsets[1].offset.kafka_offset)
      st = assert(cc:reset_offsets("orders-sink", nil, { wait = FAST }))
      assert.same({ "APPLIED", "DELETE" }, { st.status.phase, st.request.type })
      assert.same({}, cc:offsets("orders-sink").offsets)
    end)

    it("keep waiting while the status still shows the older request", function()
      for _ = 1, 3 do assert(cc:offset_request_status("pg-cdc")) end -- the previous request is APPLIED
      fake:set { connector = "pg-cdc", offsets_lag = 3 }
      local seen = {}
      local st = assert(cc:alter_offsets("pg-cdc", { { partition = { server = "pg-demo" },
        offset = { lsn = 1, txId = 1 } } }, with(FAST, { wait = true,
        on_poll = function(s) seen[#seen + 1] = s.status.phase .. " " .. s.request.requested_at end })))
      local old = "APPLIED 2024-02-20T15:14:19Z"
      assert.same({ old, old, old }, { seen[1], seen[2], seen[3] })
      assert.equal("APPLIED", st.status.phase)
      assert.equal(st.request.requested_at, seen[#seen]:match(" (.*)$"))
      assert.same({ "PENDING", "PENDING_VALIDATION", "APPLIED" },
        { seen[4]:match("^%S+"), seen[5]:match("^%S+"), seen[6]:match("^%S+") })
    end)

    it("match the request by the fake's clock, never the client's", function()
      for _, offset in ipairs { -86400 * 400, 86400 * 400 } do
        fake:reset()
        fake:set { clock_offset = offset }
        local st = assert(cc:alter_offsets("orders-sink", sink_offsets(5), { wait = FAST }))
        assert.equal("APPLIED", st.status.phase)
        assert.equal(offset < 0 and "2025" or "2028", st.request.requested_at:sub(1, 4))
      end
      -- The guard the issue replaces: since, taken from the client's clock, misses a request stamped
      -- by a server clock that is behind.
      fake:reset()
      fake:set { clock_offset = -3600 }
      local since = os.time()
      assert(cc:alter_offsets("orders-sink", sink_offsets(5)))
      local _, err = cc:wait_for_offset_phase("orders-sink", "APPLIED", { since = since, interval = 0.01,
        timeout = 0.3 })
      assert.equal("timeout", err.kind)
      assert.equal("APPLIED", err.last.status.phase)
    end)

    it("fail when this request FAILED, with its message", function()
      fake:set { connector = "orders-sink", offsets_outcome = "FAILED" }
      local _, err = cc:alter_offsets("orders-sink", sink_offsets(7), { wait = FAST })
      assert.equal("failed", err.kind)
      assert.matches("could not be altered", err.message, 1, true)
      assert.equal("FAILED", err.last.status.phase)
      assert.equal(1042, cc:offsets("orders-sink").offsets[1].offset.kafka_offset)
    end)

    it("fail when a newer request replaced this one", function()
      local accepted = assert(cc:alter_offsets("orders-sink", sink_offsets(7)))
      local newer = { request = { id = "x", name = "orders-sink", type = "DELETE",
        requested_at = "2099-01-01T00:00:00Z" },
        status = { phase = "PENDING" } }
      fake:script { method = "GET", path = PREFIX .. "/orders-sink/offsets/request/status",
        responses = { { json = newer } } }
      local _, err = cc:wait_for_offset_phase("orders-sink", "APPLIED", with(FAST, { request = accepted }))
      assert.same({ "failed", true }, { err.kind, err.superseded })
      assert.matches("superseded", err.message)
    end)

    it("time out when the request stays PENDING", function()
      local t = fake_time()
      local slow = confluent { clock = t.clock, sleep = t.sleep, random = function() return 0.5 end }
      fake:set { connector = "orders-sink", offsets_lag = 0 }
      local _, err = slow:reset_offsets("orders-sink", nil, { wait = true, timeout = 1, interval = 1 })
      assert.equal("timeout", err.kind)
      assert.equal("PENDING", err.last.status.phase) -- one read: the second would be at the deadline
      slow:close()
    end)

    it("compare since at the precision of requested_at, not at whole seconds", function()
      local at = require("connectstatus.timefmt").parse("2024-02-20T15:14:19.250Z")
      local old = { request = { id = "x", name = "pg-cdc", type = "PATCH", requested_at = "2024-02-20T15:14:19.250Z" },
        status = { phase = "APPLIED" } }
      fake:set { connector = "pg-cdc", offsets = { old } }
      local _, err = cc:wait_for_offset_phase("pg-cdc", "APPLIED", { since = at + 0.5, interval = 0.01, timeout = 0.1 })
      assert.equal("timeout", err.kind) -- 19.250 is before 19.750, though in the same second
      assert(cc:wait_for_offset_phase("pg-cdc", "APPLIED", { since = at, interval = 0.01 }))
      assert(cc:wait_for_offset_phase("pg-cdc", "APPLIED", { since = "2024-02-20T15:14:19.25Z" }))
    end)
  end)

  describe("Confluent writes are careful", function()
    local function script(method, name, suffix, responses)
      fake:script { method = method, path = PREFIX .. "/" .. name .. suffix, responses = responses }
    end
    local UNAVAILABLE = { status = 503, json = { error = { code = 503, message = "busy" } } }

    it("retry a PUT after a 503 and a reset connection", function()
      script("PUT", "pg-cdc", "/pause", { UNAVAILABLE, { reset = "before_headers" } })
      assert.is_true(cc:pause("pg-cdc"))
      assert.equal(3, count(fake, "PUT", PREFIX .. "/pg-cdc/pause"))
      assert.equal("PAUSED", cc:status("pg-cdc").connector.state)
    end)

    it("never retry a POST that reached the server: 503 and a reset connection come back at once", function()
      script("POST", "orders-sink", "/offsets/request", { UNAVAILABLE, { reset = "before_headers" } })
      local _, err = cc:alter_offsets("orders-sink", sink_offsets(7), { wait = FAST })
      assert.same({ "server", 1 }, { err.kind, err.attempts })
      _, err = cc:reset_offsets("orders-sink")
      assert.same({ "transport", 1 }, { err.kind, err.attempts })
      assert.equal(2, count(fake, "POST", PREFIX .. "/orders-sink/offsets/request"))
      assert.equal(0, count(fake, "GET", PREFIX .. "/orders-sink/offsets/request/status"))
    end)

    it("retry a POST that provably never reached the server (connection refused)", function()
      local nowhere = cs.confluent { api_key = "k", api_secret = "s", environment = "env-demo", cluster = "lkc-demo",
        base_url = "http://127.0.0.1:" .. helpers.free_port(), sleep = function() end, retry = { attempts = 3 } }
      local _, err = nowhere:alter_offsets("orders-sink", sink_offsets(7))
      assert.same({ "connect", 3 }, { err.kind, err.attempts })
      nowhere:close()
    end)

    it("return a 409 or any other 4xx at once, for PUT and POST", function()
      local conflict = { status = 409, json = { error = { code = 409, message = "in progress" } } }
      script("PUT", "pg-cdc", "/pause", { conflict })
      local _, err = cc:pause("pg-cdc", { wait = FAST })
      assert.same({ "conflict", 1 }, { err.kind, err.attempts })
      _, err = cc:resume("nope")
      assert.same({ "not_found", 1 }, { err.kind, err.attempts })
      assert(cc:alter_offsets("orders-sink", sink_offsets(7)))
      _, err = cc:alter_offsets("orders-sink", sink_offsets(8)) -- one request at a time: 400
      assert.same({ "bad_request", 1 }, { err.kind, err.attempts })
      assert.equal(1, count(fake, "PUT", PREFIX .. "/pg-cdc/pause"))
      assert.equal(2, count(fake, "POST", PREFIX .. "/orders-sink/offsets/request"))
    end)

    it("never follow a redirect, to the same origin or another, and the other location receives nothing", function()
      local other = helpers.start_fake()
      local ok, problem = pcall(function()
        script("PUT", "pg-cdc", "/pause", { { status = 307, redirect = other.url .. PREFIX .. "/pg-cdc/pause" } })
        local _, err = cc:pause("pg-cdc", { wait = FAST })
        assert.same({ "http", 307, 1 }, { err.kind, err.status, err.attempts })
        script("POST", "orders-sink", "/offsets/request",
          { { status = 308, redirect = fake.url .. PREFIX .. "/pg-cdc/offsets/request" } })
        _, err = cc:alter_offsets("orders-sink", sink_offsets(7))
        assert.same({ "http", 308 }, { err.kind, err.status })
        assert.same({ "PUT " .. PREFIX .. "/pg-cdc/pause", "POST " .. PREFIX .. "/orders-sink/offsets/request" },
          sent(fake))
        assert.equal(0, #other:requests())
      end)
      other:stop()
      assert(ok, problem)
    end)

    it("raise on bad arguments, naming the caller's line, before anything is sent", function()
      local entry = { partition = { kafka_topic = "t", kafka_partition = 0 }, offset = { kafka_offset = 1 } }
      local bad = {
        function() cc:pause("") end,
        function() cc:pause(nil) end,
        function() cc:resume("a/..", 5) end,
        function() cc:pause("pg-cdc", { wait = "yes" }) end,
        function() cc:pause("pg-cdc", { wait = { interval = 0 } }) end,
        function() cc:pause("pg-cdc", { wait = { interval = 1 }, interval = 1 }) end,
        function() cc:resume("pg-cdc", { wait = true, timeout = "soon" }) end,
        function() cc:pause("pg-cdc", { wait = true, tasks = "no" }) end,
        function() cc:pause("pg-cdc", { timout = 5 }) end,
        function() cc:alter_offsets("orders-sink") end,
        function() cc:alter_offsets("orders-sink", {}) end,
        function() cc:alter_offsets("orders-sink", entry) end,
        function() cc:alter_offsets("orders-sink", { entry, nil, entry }) end,
        function() cc:alter_offsets("orders-sink", { { partition = 0, offset = 5 } }) end,
        function() cc:alter_offsets("orders-sink", { { partition = {}, offset = { kafka_offset = 1 } } }) end,
        function() cc:alter_offsets("orders-sink", { { partition = { 1 }, offset = { kafka_offset = 1 } } }) end,
        function() cc:alter_offsets("orders-sink", { with(entry, { x = 1 }) }) end,
        function() cc:alter_offsets("orders-sink", { { partition = { f = print }, offset = entry.offset } }) end,
        function() cc:alter_offsets("", { entry }) end,
        function() cc:alter_offsets("orders-sink", { entry }, { wait = true, since = "yesterday" }) end,
        function() cc:reset_offsets("orders-sink", { wait = true }) end,
        function() cc:reset_offsets("orders-sink", {}) end,
        function() cc:reset_offsets("orders-sink", nil, { wait = { on_poll = 1 } }) end,
      }
      raise_here(bad, fake)
    end)
  end)

  describe("Feldera", function()
    it("reads output connector stats and a pipeline's stats", function()
      local out = assert(fd:output_stats("demo-pipeline", "order_totals", "kafka_out"))
      assert.same({ "order_totals.kafka_out", 300 }, { out.endpoint_name, out.metrics.queued_records })
      local stats = assert(fd:pipeline_stats("demo-pipeline"))
      assert.same({ "Running", 1, 1 }, { stats.global_metrics.state, #stats.inputs, #stats.outputs })
      local _, err = fd:output_stats("demo-pipeline", "order_totals", "nope")
      assert.equal("not_found", err.kind)
    end)

    it("pauses an input connector, which then holds its progress, and starts it again", function()
      assert.is_true(fd:pause_connector("demo-pipeline", "orders", "backfill"))
      local a = assert(fd:input_stats("demo-pipeline", "orders", "backfill"))
      local b = assert(fd:input_stats("demo-pipeline", "orders", "backfill"))
      assert.same({ true, a.metrics.total_records }, { b.paused, b.metrics.total_records })
      assert.is_true(fd:start_connector("demo-pipeline", "orders", "backfill", { timeout = 5 }))
      local c = assert(fd:input_stats("demo-pipeline", "orders", "backfill"))
      assert.is_false(c.paused)
      assert.equal("POST " .. INPUT .. "/pause", sent(fake)[1])
      local _, err = fd:pause_connector("demo-pipeline", "orders", "nope")
      assert.same({ "not_found", 1 }, { err.kind, err.attempts })
    end)

    it("waits for a completion token, percent-encoded in the query, and returns the last answer", function()
      fake:set { feldera = { completion_reads = 3 } }
      local token = assert(fd:completion_token("demo-pipeline", "orders", "backfill"))
      assert.matches("[+/=]", token)
      local seen = {}
      local answer = assert(fd:wait_for_completion("demo-pipeline", token, with(FAST, {
        on_poll = function(a) seen[#seen + 1] = a.status end })))
      assert.same({ "complete", "number" }, { answer.status, type(answer.step) })
      assert.same({ "inprogress", "inprogress", "inprogress", "complete" }, seen)
      local target = PIPELINE .. "/completion_status?token=" .. require("connectstatus.path").encode(token)
      assert.equal(4, count(fake, "GET", target))
      assert.is_nil(target:find("+", 1, true))
    end)

    it("ends the wait at once on an unknown token, with its kind; also as cs.wait_for_completion", function()
      local _, err = cs.wait_for_completion(fd, "demo-pipeline", "ct+unknown/1==", FAST)
      assert.same({ "bad_request", 400 }, { err.kind, err.status })
      assert.equal(1, #fake:requests())
      _, err = fd:wait_for_completion("nope", "t", FAST)
      assert.equal("not_found", err.kind)
    end)

    it("times out on a token that stays in progress", function()
      fake:set { feldera = { completion_reads = 1000 } }
      local token = assert(fd:completion_token("demo-pipeline", "orders", "backfill"))
      local t = fake_time() -- this client's own sleep returns at once: the wait's clock moves with its sleeps
      local _, err = fd:wait_for_completion("demo-pipeline", token,
        { interval = 1, timeout = 5, sleep = t.sleep, clock = t.clock })
      assert.same({ "timeout", "inprogress" }, { err.kind, err.last.status })
    end)

    it("never retries a POST that reached the server, and never follows its redirect", function()
      fake:script { method = "POST", path = INPUT .. "/pause", responses = {
        { status = 503, json = { message = "not deployed", error_code = "NotDeployed" } },
        { status = 307, redirect = fake.url .. INPUT .. "/start" },
        { status = 409, json = { message = "busy", error_code = "Conflict" } },
      } }
      for _, kind in ipairs { "server", "http", "conflict" } do
        local _, err = fd:pause_connector("demo-pipeline", "orders", "backfill")
        assert.same({ kind, 1 }, { err.kind, err.attempts })
      end
      assert.equal(3, #fake:requests())
    end)

    it("raises on bad arguments, naming the caller's line, before anything is sent", function()
      local bad = {
        function() fd:output_stats("demo-pipeline", "", "kafka_out") end,
        function() fd:pipeline_stats(nil) end,
        function() fd:pause_connector("demo-pipeline", "orders", "") end,
        function() fd:start_connector("demo-pipeline", 1, "backfill") end,
        function() fd:start_connector("demo-pipeline", "orders", "backfill", { wait = true }) end,
        function() fd:completion_token("..", "orders", "backfill") end,
        function() fd:completion_status("demo-pipeline", "") end,
        function() fd:wait_for_completion("demo-pipeline", nil) end,
        function() fd:wait_for_completion("demo-pipeline", "t", { interval = -1 }) end,
        function() cs.wait_for_completion(fd, "", "t") end,
        function() cs.wait_for_completion({}, "p", "t") end,
      }
      raise_here(bad, fake)
    end)
  end)

  describe("inside a cs.loop task", function()
    it("cs.map pauses two connectors at once, each waiting for PAUSED", function()
      -- Each connector's first status read is held back, so both waits are seen polling at once.
      for _, name in ipairs { "pg-cdc", "orders-sink" } do
        fake:script { method = "GET", path = PREFIX .. "/" .. name .. "/status", responses = {
          { json = { name = name, type = "sink", connector = { state = "RUNNING", worker_id = "w", trace = "" },
            tasks = {} }, delay = 0.3 } } }
      end
      local loop_cc = confluent { sleep = nil }
      local values, errs = cs.map({ "pg-cdc", "orders-sink" }, function(name)
        return loop_cc:pause(name, { wait = FAST })
      end, { parallel = 2 })
      assert.same({}, errs)
      assert.same({ "PAUSED", "PAUSED" }, { values[1].connector.state, values[2].connector.state })
      local most = 0
      for _, r in ipairs(fake:requests()) do
        if r.method == "GET" then most = math.max(most, r.in_flight) end
      end
      assert.equal(2, most)
      loop_cc:close()
    end)
  end)
end)

describe("the actions' requests and answers match the OpenAPI documents", function()
  local fake, cc, fd
  local docs = { confluent = openapi.load("confluent"), feldera = openapi.load("feldera") }

  setup(function()
    fake = helpers.start_fake()
    cc = cs.confluent { api_key = "k", api_secret = "s", environment = "env-demo", cluster = "lkc-demo",
      base_url = fake.url }
    fd = cs.feldera { base_url = fake.url }
  end)
  teardown(function()
    cc:close()
    fd:close()
    fake:stop()
  end)
  before_each(function() fake:reset() end)

  local function check(ok, violations, what)
    assert(ok, what .. ":\n  " .. table.concat(violations or {}, "\n  "))
  end

  -- Every request the fake recorded, checked against api's document.
  local function check_requests(api)
    local reqs = fake:requests()
    assert.is_true(#reqs > 0)
    for _, r in ipairs(reqs) do
      local body = r.body ~= nil and r.body ~= "" and cjson.decode(r.body) or nil
      check(docs[api]:check_request(r.method, r.target, body), nil, r.method .. " " .. r.target)
    end
    return reqs
  end

  local function check_answer(api, method, target, status, value)
    local ok, violations = docs[api]:check_response(method, target, status, value)
    check(ok, violations, ("answer to %s %s"):format(method, target))
  end

  it("Confluent: pause, resume, offsets, alter and reset offsets", function()
    assert(cc:pause("pg-cdc"))
    assert(cc:resume("pg-cdc"))
    check_answer("confluent", "GET", PREFIX .. "/pg-cdc/offsets", 200, assert(cc:offsets("pg-cdc")))
    local accepted = assert(cc:alter_offsets("orders-sink", sink_offsets(3)))
    check_answer("confluent", "POST", PREFIX .. "/orders-sink/offsets/request", 202, accepted)
    local st = assert(cc:wait_for_offset_phase("orders-sink", "APPLIED", { request = accepted, interval = 0.01 }))
    check_answer("confluent", "GET", PREFIX .. "/orders-sink/offsets/request/status", 200, st)
    check_answer("confluent", "POST", PREFIX .. "/pg-cdc/offsets/request", 202, assert(cc:reset_offsets("pg-cdc")))
    local reqs = check_requests("confluent")
    assert.same({ "PUT", "PUT", "GET", "POST" }, { reqs[1].method, reqs[2].method, reqs[3].method, reqs[4].method })
    assert.same({ "", "" }, { reqs[1].body or "", reqs[2].body or "" })
  end)

  it("Feldera: stats, connector actions, completion token and status", function()
    check_answer("feldera", "GET", INPUT:gsub("tables/orders", "views/order_totals"):gsub("backfill", "kafka_out")
      .. "/stats", 200, assert(fd:output_stats("demo-pipeline", "order_totals", "kafka_out")))
    check_answer("feldera", "GET", PIPELINE .. "/stats", 200, assert(fd:pipeline_stats("demo-pipeline")))
    assert(fd:pause_connector("demo-pipeline", "orders", "backfill"))
    assert(fd:start_connector("demo-pipeline", "orders", "backfill"))
    local token = assert(fd:completion_token("demo-pipeline", "orders", "backfill"))
    check_answer("feldera", "GET", INPUT .. "/completion_token", 200, { token = token })
    local target = PIPELINE .. "/completion_status?token=" .. require("connectstatus.path").encode(token)
    check_answer("feldera", "GET", target, 202, assert(fd:completion_status("demo-pipeline", token)))
    check_answer("feldera", "GET", target, 200, assert(fd:wait_for_completion("demo-pipeline", token,
      { interval = 0.01 })))
    local reqs = check_requests("feldera")
    assert.same({ "POST " .. INPUT .. "/pause", "POST " .. INPUT .. "/start" },
      { reqs[3].method .. " " .. reqs[3].target, reqs[4].method .. " " .. reqs[4].target })
  end)
end)
