-- The waits against the fake API process over real libcurl, driven by a fake clock: sleeping
-- advances the clock instead of the wall, so minutes of waiting take milliseconds.
local cs = require "connectstatus"
local timefmt = require "connectstatus.timefmt"
local helpers = require "helpers"

local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"

-- A clock that only moves when slept on, recording each sleep.
local function fake_time()
  local t = { now = 1000, slept = {} }
  function t.clock() return t.now end
  function t.sleep(s)
    assert(s >= 0, "negative sleep")
    t.slept[#t.slept + 1] = s
    t.now = t.now + s
  end
  function t.total()
    local sum = 0
    for _, s in ipairs(t.slept) do sum = sum + s end
    return sum
  end
  return t
end

local function running(tasks)
  local list = {}
  for i, state in ipairs(tasks or { "RUNNING" }) do list[i] = { id = i - 1, state = state } end
  return { connector = { state = "RUNNING" }, tasks = list }
end

local function failed(trace)
  return { connector = { state = "FAILED", trace = trace } }
end

local function offsets(phase, requested_at, message)
  return { request = { id = "lcc-x", name = "pg-cdc", type = "PATCH", offsets = {}, requested_at = requested_at },
    status = { phase = phase, message = message } }
end

describe("waits", function()
  local fake, t, cc, fd

  setup(function() fake = helpers.start_fake() end)
  teardown(function() fake:stop() end)

  -- random = 0.5 puts the jitter in the middle: every sleep is exactly the interval.
  local function clients(retry)
    if cc then
      cc:close()
      fd:close()
    end
    t = fake_time()
    local common = { base_url = fake.url, sleep = t.sleep, clock = t.clock, random = function() return 0.5 end,
      retry = retry or { attempts = 1 }, timeout = 5 }
    local c = { api_key = "k", api_secret = "s", environment = "env-demo", cluster = "lkc-demo" }
    for k, v in pairs(common) do c[k] = v end
    cc = cs.confluent(c)
    fd = cs.feldera(common)
  end

  before_each(function()
    fake:reset()
    clients()
  end)

  after_each(function()
    cc:close()
    fd:close()
  end)

  local function polls(into)
    return function(status, elapsed, err)
      into[#into + 1] = { status = status, elapsed = elapsed, err = err }
    end
  end

  describe("wait_for_state", function()
    it("waits through PROVISIONING to RUNNING with a task", function()
      local seen = {}
      local status = assert(cc:wait_for_state("orders-sink", "RUNNING", { interval = 5, on_poll = polls(seen) }))
      assert.equal("RUNNING", status.connector.state)
      assert.equal("RUNNING", status.tasks[1].state)
      assert.same({ 5, 5 }, t.slept)
      assert.equal(3, #seen)
      assert.same({ 0, 5, 10 }, { seen[1].elapsed, seen[2].elapsed, seen[3].elapsed })
      assert.equal("PROVISIONING", seen[1].status.connector.state)
    end)

    it("is also cs.wait_for_state(client, ...) and takes a list of states", function()
      local status = assert(cs.wait_for_state(cc, "orders-sink", { "PAUSED", "RUNNING" }, { interval = 1 }))
      assert.equal("RUNNING", status.connector.state)
    end)

    it("fails fast on a FAILED connector, with its trace", function()
      local status, err = cc:wait_for_state("s3-archive", "RUNNING")
      assert.is_nil(status)
      assert.equal("failed", err.kind)
      assert.equal("FAILED", err.state)
      assert.matches("Provided Kafka ApiKey is invalid", err.trace, 1, true)
      assert.matches("s3-archive is FAILED: topics: Provided Kafka ApiKey is invalid", err.message, 1, true)
      assert.equal("FAILED", err.last.connector.state)
      assert.same({}, t.slept)
    end)

    it("fails fast on a FAILED task under a RUNNING connector, naming the task", function()
      local _, err = cc:wait_for_state("datagen-orders", "RUNNING")
      assert.equal("failed", err.kind)
      assert.equal(1, err.task)
      assert.equal("Task failed: RecordTooLargeException", err.msg)
      assert.matches("RecordTooLargeException", err.trace, 1, true)
      assert.matches("task 1 is FAILED", tostring(err), 1, true)
    end)

    it("judges only the connector with tasks = false", function()
      local status = assert(cc:wait_for_state("datagen-orders", "RUNNING", { tasks = false }))
      assert.equal("FAILED", status.tasks[2].state)
    end)

    it("waits for FAILED when FAILED is the target", function()
      assert(cc:wait_for_state("s3-archive", "FAILED"))
    end)

    it("tolerates a flap RUNNING -> FAILED -> RUNNING within failed_grace", function()
      fake:set { connector = "flappy", states = { "PROVISIONING", failed("broker gone"), failed("broker gone"),
        running() } }
      local status = assert(cc:wait_for_state("flappy", "RUNNING", { interval = 5, failed_grace = 30 }))
      assert.equal("RUNNING", status.connector.state)
      assert.same({ 5, 5, 5 }, t.slept)
    end)

    it("fails on the flap without failed_grace, with the trace", function()
      fake:set { connector = "flappy", states = { "PROVISIONING", failed("broker gone"), running() } }
      local _, err = cc:wait_for_state("flappy", "RUNNING", { interval = 5 })
      assert.equal("failed", err.kind)
      assert.equal("broker gone", err.trace)
      assert.same({ 5 }, t.slept)
    end)

    it("fails when a FAILED outlasts failed_grace, rechecking right when the grace ends", function()
      fake:set { connector = "stuck", states = { failed("still broken") } }
      local _, err = cc:wait_for_state("stuck", "RUNNING", { interval = 5, failed_grace = 12 })
      assert.equal("failed", err.kind)
      assert.same({ 5, 5, 2 }, t.slept)
    end)

    it("keeps the grace running through a failed read", function()
      fake:set { connector = "stuck", states = { failed("still broken") } }
      local reads = 0
      local function outage_after_first_poll()
        reads = reads + 1
        if reads == 1 then
          fake:script { method = "GET", path = PREFIX .. "/stuck/status", responses = { { status = 503 } } }
        end
      end
      local _, err = cc:wait_for_state("stuck", "RUNNING",
        { interval = 5, failed_grace = 8, on_poll = outage_after_first_poll })
      assert.equal("failed", err.kind)
      assert.same({ 5, 3 }, t.slept)
    end)

    it("treats DELETED as failed unless it is the target", function()
      fake:set { connector = "gone", states = { "DELETED" } }
      local _, err = cc:wait_for_state("gone", "RUNNING")
      assert.equal("failed", err.kind)
      assert.equal("DELETED", err.state)
      assert(cc:wait_for_state("gone", "DELETED"))
    end)

    local PENDING = { "PROVISIONING", "DEGRADED", "PAUSED", "UNASSIGNED", "RESTARTING", "NONE", "SOMETHING_NEW" }
    for _, state in ipairs(PENDING) do
      it("keeps waiting through " .. state, function()
        fake:set { connector = "c1", states = { state, running() } }
        local seen = {}
        assert(cc:wait_for_state("c1", "RUNNING", { interval = 2, on_poll = polls(seen) }))
        assert.equal(state, seen[1].status.connector.state)
        assert.same({ 2 }, t.slept)
      end)
    end

    it("needs at least one task for RUNNING, and every task in the target", function()
      fake:set { connector = "c1",
        states = { running {}, running { "RUNNING", "UNASSIGNED" }, running { "RUNNING", "RUNNING" } } }
      local status = assert(cc:wait_for_state("c1", "RUNNING", { interval = 1 }))
      assert.equal(2, #status.tasks)
      assert.same({ 1, 1 }, t.slept)
    end)

    it("times out with err.last, the last sleep clamped to the deadline", function()
      local status, err = cc:wait_for_state("orders-sink", "PAUSED", { interval = 5, timeout = 12 })
      assert.is_nil(status)
      assert.equal("timeout", err.kind)
      assert.equal("RUNNING", err.last.connector.state)
      assert.matches("orders-sink", err.message, 1, true)
      assert.same({ 5, 5, 2 }, t.slept)
    end)

    it("ends at once on not_found, unless allow_missing", function()
      local _, err = cc:wait_for_state("not-yet", "RUNNING")
      assert.equal("not_found", err.kind)
      assert.same({}, t.slept)
    end)

    it("keeps waiting for a missing connector with allow_missing", function()
      local seen = {}
      local function create_after_first_poll(status, _, e)
        seen[#seen + 1] = e and e.kind or status.connector.state
        if #seen == 1 then fake:set { connector = "not-yet", states = { "PROVISIONING", running() } } end
      end
      local status = assert(cc:wait_for_state("not-yet", "RUNNING",
        { interval = 1, allow_missing = true, on_poll = create_after_first_poll }))
      assert.equal("RUNNING", status.connector.state)
      assert.same({ "not_found", "PROVISIONING", "RUNNING" }, seen)
    end)

    it("times out with err.last_error when every read fails transiently", function()
      local _, err = cc:wait_for_state("not-yet", "RUNNING", { interval = 1, timeout = 3, allow_missing = true })
      assert.equal("timeout", err.kind)
      assert.is_nil(err.last)
      assert.equal("not_found", err.last_error.kind)
    end)

    it("keeps waiting through 500, 502, 503 and 504", function()
      local responses = {}
      for i, code in ipairs { 500, 502, 503, 504 } do
        responses[i] = { status = code, json = { error = { code = code } } }
      end
      fake:script { method = "GET", path = PREFIX .. "/orders-sink/status", responses = responses }
      local kinds = {}
      local status = assert(cc:wait_for_state("orders-sink", "RUNNING", { interval = 1,
        on_poll = function(_, _, e) kinds[#kinds + 1] = e and e.kind or "ok" end }))
      assert.equal("RUNNING", status.connector.state)
      assert.same({ "server", "server", "server", "server", "ok", "ok", "ok" }, kinds)
    end)

    for code, kind in pairs { [401] = "unauthorized", [403] = "forbidden", [400] = "bad_request" } do
      it("ends at once on " .. kind, function()
        fake:script { method = "GET", path = PREFIX .. "/orders-sink/status",
          responses = { { status = code, json = { error = { code = code, message = kind } } } } }
        local _, err = cc:wait_for_state("orders-sink", "RUNNING")
        assert.equal(kind, err.kind)
        assert.same({}, t.slept)
      end)
    end

    it("rides out a 429 storm without hammering, honouring Retry-After", function()
      clients { attempts = 4, base = 1, cap = 1 }
      local storm = {}
      for i = 1, 6 do
        storm[i] = { status = 429, json = { error = { code = 429, message = "Too Many Requests" } },
          headers = { ["Retry-After"] = "7", ["X-RateLimit-Limit"] = "10", ["X-RateLimit-Remaining"] = "0",
            ["X-RateLimit-Reset"] = "7" } }
      end
      local path = PREFIX .. "/orders-sink/status"
      fake:script { method = "GET", path = path, responses = storm }
      local status = assert(cc:wait_for_state("orders-sink", "RUNNING", { interval = 1 }))
      assert.equal("RUNNING", status.connector.state)
      local reads = 0
      for _, r in ipairs(fake:requests()) do
        if r.target == path then reads = reads + 1 end
      end
      assert.equal(6 + 3, reads) -- each 429 answered by one wait of 7 s, never by a quick retry
      for _, s in ipairs(t.slept) do assert.is_true(s == 1 or s >= 7, "slept " .. s) end
      assert.is_true(t.total() >= 6 * 7)
    end)

    it("never lets a read's retries run past the wait's deadline", function()
      clients { attempts = 10, base = 1, cap = 1 }
      local outage = {}
      for i = 1, 30 do outage[i] = { status = 503, json = { error = { code = 503 } } } end
      fake:script { method = "GET", path = PREFIX .. "/orders-sink/status", responses = outage }
      local _, err = cc:wait_for_state("orders-sink", "RUNNING", { interval = 1, timeout = 2.5 })
      assert.equal("timeout", err.kind)
      assert.equal("server", err.last_error.kind)
      assert.is_true(t.total() <= 2.5, "slept " .. t.total())
      assert.is_nil(cc.transport.retry.deadline)
    end)

    it("uses opts.sleep and opts.clock over the client's", function()
      local mine = fake_time()
      assert(cc:wait_for_state("orders-sink", "RUNNING", { interval = 3, sleep = mine.sleep, clock = mine.clock }))
      assert.same({ 3, 3 }, mine.slept)
      assert.same({}, t.slept)
    end)

    it("jitters the interval by +/- 10%", function()
      local r = 0
      clients()
      cc.transport.random = function()
        r = 1 - r
        return r
      end
      assert(cc:wait_for_state("orders-sink", "RUNNING", { interval = 10 }))
      assert.same({ 11, 9 }, t.slept)
    end)

    it("lets errors raised in on_poll and in sleep propagate", function()
      assert.has_error(function()
        cc:wait_for_state("orders-sink", "RUNNING", { on_poll = function() error("stop here", 0) end })
      end, "stop here")
      assert.has_error(function()
        cc:wait_for_state("orders-sink", "RUNNING", { sleep = function() error("no sleep", 0) end })
      end, "no sleep")
      assert.is_nil(cc.transport.retry.deadline)
    end)

    it("raises at once on wrong arguments", function()
      local bad = {
        function() cc:wait_for_state(42, "RUNNING") end,
        function() cc:wait_for_state("", "RUNNING") end,
        function() cc:wait_for_state("x", {}) end,
        function() cc:wait_for_state("x", 1) end,
        function() cc:wait_for_state("x", { "RUNNING", 2 }) end,
        function() cc:wait_for_state("x", "RUNNING", "fast") end,
        function() cc:wait_for_state("x", "RUNNING", { timeout = "10" }) end,
        function() cc:wait_for_state("x", "RUNNING", { timeout = -1 }) end,
        function() cc:wait_for_state("x", "RUNNING", { interval = 0 }) end,
        function() cc:wait_for_state("x", "RUNNING", { on_poll = true }) end,
        function() cc:wait_for_state("x", "RUNNING", { tasks = "no" }) end,
        function() cs.wait_for_state({}, "x", "RUNNING") end,
      }
      for i, f in ipairs(bad) do assert.has_error(f, nil, "case " .. i) end
      assert.equal(0, #fake:requests())
    end)

    it("takes states in any case, and refuses one no API knows (it would never match) unless forced", function()
      assert.equal("RUNNING", assert(cc:wait_for_state("orders-sink", "running", { interval = 1 })).connector.state)
      assert.has_error(function() cc:wait_for_state("orders-sink", "RUNING") end,
        "unknown state 'RUNING' (did you mean 'RUNNING'?); known states: " ..
        table.concat(require("connectstatus.options").CONNECTOR_STATES, ", ") .. " (force = true waits for it anyway)")
      assert.has_error(function() cc:wait_for_offset_phase("pg-cdc", "applyed") end)
      local _, err = cc:wait_for_state("orders-sink", "SOMETHING_NEW", { force = true, timeout = 1, interval = 1 })
      assert.equal("timeout", err.kind)
    end)

    it("refuses a misspelt option with a suggestion, before anything is sent", function()
      local before = #fake:requests()
      assert.has_error(function() cc:wait_for_state("orders-sink", "RUNNING", { intervall = 1 }) end,
        "unknown option 'intervall' for wait_for_state (did you mean 'interval'?)")
      assert.has_error(function() cc:wait_for_offset_phase("pg-cdc", "APPLIED", { snice = "x" }) end,
        "unknown option 'snice' for wait_for_offset_phase (did you mean 'since'?)")
      assert.equal(before, #fake:requests())
    end)

    it("raises at the caller's line however it is reached: a method, cs.*, a bad name found by the read", function()
      local function raised(fn)
        local ok, err = pcall(fn)
        assert.is_false(ok)
        assert.matches("^spec/wait_spec%.lua:%d+: ", err)
      end
      raised(function() cc:wait_for_state("orders-sink", 5) end)
      raised(function() cs.wait_for_state(cc, "orders-sink", 5) end)
      raised(function() cc:wait_for_state("..", "RUNNING") end)
      raised(function() cs.wait_for_offset_phase(cc, "pg-cdc", 5) end)
      raised(function() cc:wait_for_state("orders-sink", "RUNNING", { timeout = -1 }) end)
    end)
  end)

  describe("wait_for_offset_phase", function()
    local path = PREFIX .. "/pg-cdc/offsets/request/status"

    it("waits through PENDING and PENDING_VALIDATION to APPLIED", function()
      local phases = {}
      local st = assert(cc:wait_for_offset_phase("pg-cdc", nil, { interval = 2,
        on_poll = function(s) phases[#phases + 1] = s.status.phase end }))
      assert.equal("APPLIED", st.status.phase)
      assert.equal("2024-02-20T15:14:20+0000", st.applied_at)
      assert.same({ "PENDING", "PENDING_VALIDATION", "APPLIED" }, phases)
      assert.same({ 2, 2 }, t.slept)
    end)

    it("keeps waiting through phases it does not know", function()
      fake:set { connector = "pg-cdc", offsets = { offsets("PENDING", "2024-02-20T15:14:19Z"),
        offsets("REBALANCING", "2024-02-20T15:14:19Z"), offsets("APPLIED", "2024-02-20T15:14:19Z") } }
      assert(cs.wait_for_offset_phase(cc, "pg-cdc", "APPLIED", { interval = 1 }))
      assert.same({ 1, 1 }, t.slept)
    end)

    it("fails on FAILED with the request's message", function()
      fake:set { connector = "pg-cdc", offsets = { offsets("PENDING", "2024-02-20T15:14:19Z"),
        offsets("FAILED", "2024-02-20T15:14:19Z", "offset out of range for partition 3") } }
      local _, err = cc:wait_for_offset_phase("pg-cdc", "APPLIED", { interval = 1 })
      assert.equal("failed", err.kind)
      assert.equal("offset out of range for partition 3", err.message:match(": (.*)$"))
      assert.equal("FAILED", err.last.status.phase)
    end)

    it("ignores an APPLIED request older than since until the new one shows up", function()
      local old = offsets("APPLIED", "2024-02-20T15:00:00Z", "the previous change")
      fake:script { method = "GET", path = path, responses = { { json = old }, { json = old } } }
      local seen = {}
      local st = assert(cc:wait_for_offset_phase("pg-cdc", "APPLIED", { interval = 1,
        since = "2024-02-20 15:14:00+00:00", on_poll = function(s) seen[#seen + 1] = s.status.phase end }))
      assert.equal("2024-02-20T15:14:19Z", st.request.requested_at)
      assert.same({ "APPLIED", "APPLIED", "PENDING", "PENDING_VALIDATION", "APPLIED" }, seen)
    end)

    it("takes the old request for the new one without since (the race since prevents)", function()
      fake:script { method = "GET", path = path, responses = { { json = offsets("APPLIED", "2024-02-20T15:00:00Z") } } }
      local st = assert(cc:wait_for_offset_phase("pg-cdc", "APPLIED"))
      assert.equal("2024-02-20T15:00:00Z", st.request.requested_at)
    end)

    it("accepts since as epoch seconds, compared at whole seconds", function()
      local at = timefmt.parse("2024-02-20T15:14:19Z")
      fake:set { connector = "pg-cdc", offsets = { offsets("APPLIED", "2024-02-20 15:14:19+00:00") } }
      assert(cc:wait_for_offset_phase("pg-cdc", "APPLIED", { since = at + 0.6 }))
      local _, err = cc:wait_for_offset_phase("pg-cdc", "APPLIED", { since = at + 1, timeout = 2, interval = 1 })
      assert.equal("timeout", err.kind)
      assert.equal("APPLIED", err.last.status.phase)
    end)

    it("with request, waits for that request alone, whatever format and precision its stamp comes in", function()
      local mine = { requested_at = "2024-02-20T15:14:19.250Z", type = "PATCH" }
      local older = offsets("APPLIED", "2024-02-20T15:14:19.249Z")
      local other_type = offsets("APPLIED", "2024-02-20T15:14:19.250Z")
      other_type.request.type = "DELETE"
      fake:set { connector = "pg-cdc", offsets = { older, other_type,
        offsets("PENDING", "2024-02-20 15:14:19.25+00:00"), offsets("APPLIED", "2024-02-20T15:14:19Z") } }
      local seen = {}
      local st = assert(cc:wait_for_offset_phase("pg-cdc", "APPLIED", { request = mine, interval = 1,
        on_poll = function(s) seen[#seen + 1] = s.status.phase end }))
      assert.equal("2024-02-20T15:14:19Z", st.request.requested_at) -- whole seconds: the same instant
      assert.same({ "APPLIED", "APPLIED", "PENDING", "APPLIED" }, seen)
    end)

    it("raises at once on a bad request option", function()
      for _, bad in ipairs { "2024-02-20T15:14:19Z", {}, { requested_at = 5 }, { requested_at = "x", type = 1 } } do
        assert.has_error(function() cc:wait_for_offset_phase("pg-cdc", "APPLIED", { request = bad }) end)
      end
      assert.equal(0, #fake:requests())
    end)

    it("ends on not_found (no request yet) unless allow_missing", function()
      local _, err = cc:wait_for_offset_phase("orders-sink")
      assert.equal("not_found", err.kind)
      _, err = cc:wait_for_offset_phase("orders-sink", "APPLIED", { allow_missing = true, timeout = 2, interval = 1 })
      assert.equal("timeout", err.kind)
    end)

    it("raises at once on a bad phase or since", function()
      assert.has_error(function() cc:wait_for_offset_phase("pg-cdc", 5) end)
      assert.has_error(function() cc:wait_for_offset_phase("pg-cdc", "APPLIED", { since = "yesterday" }) end)
      assert.has_error(function() cc:wait_for_offset_phase("pg-cdc", "APPLIED", { since = {} }) end)
    end)
  end)

  describe("wait_for_end_of_input", function()
    it("waits until end of input with nothing buffered", function()
      local buffered = {}
      local stats = assert(fd:wait_for_end_of_input("demo-pipeline", "orders", "backfill", { interval = 0.5,
        on_poll = function(s) buffered[#buffered + 1] = s.metrics.buffered_records end }))
      assert.is_true(stats.metrics.end_of_input)
      assert.same({ 4096, 8192, 2048, 0 }, buffered)
      if math.type then
        assert.equal("integer", math.type(stats.metrics.total_records))
        assert.equal(9007199254740993, stats.metrics.total_records)
      end
    end)

    it("is pending while the pipeline answers 503", function()
      local not_deployed = { status = 503,
        json = { message = "not deployed", error_code = "PipelineInteractionNotDeployed" } }
      fake:script { method = "GET", path = "/v0/pipelines/demo-pipeline/tables/orders/connectors/backfill/stats",
        responses = { not_deployed, not_deployed } }
      local kinds = {}
      assert(cs.wait_for_end_of_input(fd, "demo-pipeline", "orders", "backfill", { interval = 1,
        on_poll = function(_, _, e) kinds[#kinds + 1] = e and e.kind or "ok" end }))
      assert.same({ "server", "server", "ok", "ok", "ok", "ok" }, kinds)
    end)

    it("fails on a fatal_error", function()
      fake:set { feldera = { pipeline = "p1", table = "t1", connector = "c1", stats = {
        { endpoint_name = "t1.c1", metrics = { end_of_input = false, buffered_records = 0 } },
        { endpoint_name = "t1.c1", fatal_error = "kafka: topic deleted", metrics = { end_of_input = false,
          buffered_records = 0 } } } } }
      local _, err = fd:wait_for_end_of_input("p1", "t1", "c1", { interval = 1 })
      assert.equal("failed", err.kind)
      assert.equal("kafka: topic deleted", err.fatal_error)
      assert.same({ 1 }, t.slept)
    end)

    it("ends at once on a Feldera 500, which the client does not retry either (one judgement)", function()
      local path = "/v0/pipelines/demo-pipeline/tables/orders/connectors/backfill/stats"
      fake:script { method = "GET", path = path, responses = { { status = 500,
        json = { message = "internal", error_code = "Internal", details = {} } } } }
      local _, err = fd:wait_for_end_of_input("demo-pipeline", "orders", "backfill", { interval = 1 })
      assert.equal("server", err.kind)
      assert.equal(1, helpers.count_requests(fake, path))
      assert.same({}, t.slept)
    end)

    it("ends on an unknown pipeline", function()
      local _, err = fd:wait_for_end_of_input("nope", "orders", "backfill")
      assert.equal("not_found", err.kind)
      assert.equal("UnknownPipelineName", err.code)
    end)

    it("raises at once on wrong arguments", function()
      assert.has_error(function() fd:wait_for_end_of_input("p", nil, "c") end)
      assert.has_error(function() cs.wait_for_end_of_input(cc, "p", "t", "c") end)
    end)
  end)
end)

describe("timefmt.parse", function()
  local base = 1708442059 -- 2024-02-20T15:14:19Z

  it("reads every format the APIs use", function()
    local cases = {
      ["2024-02-20T15:14:19Z"] = base,
      ["2024-02-20 15:14:19+00:00"] = base,
      ["2024-02-20T15:14:20+0000"] = base + 1,
      ["2024-02-20T15:14:19"] = base,
      ["2024-02-20t15:14:19z"] = base,
      ["2024-02-20T17:14:19+02:00"] = base,
      ["2024-02-20T10:14:19-0500"] = base,
      ["2024-02-20T20:44:19+0530"] = base,
      ["2024-02-20T16:14:19+01"] = base,
      ["2024-02-20T15:14:19.250Z"] = base + 0.25,
      ["2024-02-20 15:14:19.5+00:00"] = base + 0.5,
      ["2024-02-20T15:14:19.123456789Z"] = base + 0.123456789,
      ["1970-01-01T00:00:00Z"] = 0,
      ["2000-02-29T23:59:59Z"] = 951868799,
    }
    for s, want in pairs(cases) do
      assert.near(want, timefmt.parse(s), 1e-6, s)
    end
  end)

  it("rejects what is not a timestamp", function()
    for _, s in ipairs { "", "yesterday", "2024-02-20", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
      "2024-02-20T24:00:00Z", "2024-02-20T15:14:19+2500", "2024-02-20T15:14:19.Z", "2024-02-20T15:14:19 UTC" } do
      assert.is_nil(timefmt.parse(s), s)
    end
    assert.is_nil(timefmt.parse(42))
  end)
end)
