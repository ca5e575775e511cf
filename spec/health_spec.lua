-- Health of one status and of a fleet: the verdict rules, and summarize over the fake's demo fleet.
local cs = require "connectstatus"
local helpers = require "helpers"

local function status(state, tasks, trace)
  local list = {}
  for i, task in ipairs(tasks or {}) do
    list[i] = type(task) == "table" and task or { id = i - 1, state = task }
  end
  return { name = "c", type = "sink", connector = { state = state, trace = trace, worker_id = "w" }, tasks = list }
end

describe("health", function()
  it("is healthy when the connector and every task are RUNNING", function()
    local verdict, reasons = cs.health(status("RUNNING", { "RUNNING", "RUNNING" }))
    assert.equal("healthy", verdict)
    assert.same({}, reasons)
  end)

  it("is never healthy with a FAILED task under a RUNNING connector", function()
    local verdict, reasons = cs.health(status("RUNNING", {
      "RUNNING", { id = 1, state = "FAILED", msg = "Task failed: boom", trace = "java.lang.Exception\n\tat x" } }))
    assert.equal("degraded", verdict)
    assert.same({ "task 1 FAILED: Task failed: boom" }, reasons)
  end)

  it("takes a task's trace when it has no message", function()
    local task = { id = 0, state = "FAILED", msg = "", trace = "\njava.lang.Oops\n" }
    local _, reasons = cs.health(status("RUNNING", { task }))
    assert.same({ "task 0 FAILED: java.lang.Oops" }, reasons)
  end)

  it("is degraded when a task under a RUNNING connector is not RUNNING", function()
    local verdict, reasons = cs.health(status("RUNNING", { "RUNNING", "PAUSED" }))
    assert.equal("degraded", verdict)
    assert.same({ "task 1 PAUSED" }, reasons)
  end)

  it("is failed for FAILED and DELETED connectors, with the trace's informative line", function()
    local verdict, reasons = cs.health(status("FAILED", {}, "There were some errors:\ntopics: invalid\n"))
    assert.equal("failed", verdict)
    assert.same({ "connector FAILED: topics: invalid" }, reasons)
    assert.equal("failed", (cs.health(status("DELETED"))))
  end)

  it("is degraded for DEGRADED and PAUSED connectors", function()
    assert.equal("degraded", (cs.health(status("DEGRADED", { "RUNNING" }))))
    local verdict, reasons = cs.health(status("PAUSED", { "PAUSED" }))
    assert.equal("degraded", verdict)
    assert.same({ "connector PAUSED", "task 0 PAUSED" }, reasons)
  end)

  it("is pending while PROVISIONING, without tasks yet, or in a state it does not know", function()
    assert.equal("pending", (cs.health(status("PROVISIONING"))))
    assert.equal("pending", (cs.health(status("NONE"))))
    assert.equal("pending", (cs.health(status("SOMETHING_NEW", { "RUNNING" }))))
    local verdict, reasons = cs.health(status("RUNNING"))
    assert.equal("pending", verdict)
    assert.same({ "RUNNING with no tasks yet" }, reasons)
    assert.equal("pending", (cs.health({})))
  end)

  it("lets a FAILED task outrank a pending connector", function()
    assert.equal("degraded", (cs.health(status("PROVISIONING", { "FAILED" }))))
  end)

  it("raises on nil (a read whose error was not checked)", function()
    assert.has_error(function() cs.health(nil) end, "health expects a connector status, got nil (did the read fail?)")
  end)
end)

describe("summarize", function()
  local fake, cc

  setup(function()
    fake = helpers.start_fake()
    cc = cs.confluent { api_key = "k", api_secret = "s", environment = "env-demo", cluster = "lkc-demo",
      base_url = fake.url, retry = { attempts = 1 } }
  end)

  teardown(function()
    cc:close()
    fake:stop()
  end)

  it("counts states and health and lists the unhealthy connectors by name", function()
    local summary = cs.summarize(assert(cc:list { expand = { "status" } }))
    assert.equal(4, summary.total)
    assert.same({ RUNNING = 2, PROVISIONING = 1, FAILED = 1 }, summary.states)
    assert.same({ healthy = 1, degraded = 1, failed = 1, pending = 1 }, summary.health)
    local names, verdicts = {}, {}
    for i, u in ipairs(summary.unhealthy) do names[i], verdicts[i] = u.name, u.health end
    assert.same({ "datagen-orders", "orders-sink", "s3-archive" }, names)
    assert.same({ "degraded", "pending", "failed" }, verdicts)
    assert.same({ "task 1 FAILED: Task failed: RecordTooLargeException" }, summary.unhealthy[1].reasons)
  end)

  it("encodes to JSON with exact integers", function()
    local summary = cs.summarize(assert(cc:list { expand = { "status" } }))
    local text = assert(cs.json.encode(summary))
    assert.matches('"total":4', text, 1, true)
    assert.matches('"failed":1', text, 1, true)
  end)

  it("summarizes an empty fleet", function()
    local summary = cs.summarize({})
    assert.equal(0, summary.total)
    assert.same({}, summary.unhealthy)
  end)

  it("raises on a list without the status expansion", function()
    local names = assert(cc:list())
    assert.has_error(function() cs.summarize(names) end)
    assert.has_error(function() cs.summarize(assert(cc:list { expand = { "id" } })) end)
    assert.has_error(function() cs.summarize("x") end)
  end)
end)

describe("health of odd statuses (data from the network)", function()
  it("rates a status that is not an object failed, saying so", function()
    for _, v in ipairs { 42, true, false, cs.null, "RUNNING" } do
      local verdict, reasons = cs.health(v)
      assert.equal("failed", verdict)
      assert.matches("^unreadable status %(a %a+, not an object%)$", reasons[1])
    end
  end)

  it("rates a task entry that is not an object as a FAILED task", function()
    for _, entry in ipairs { cs.null, 1, "x", true } do
      local verdict, reasons = cs.health { connector = { state = "RUNNING" }, tasks = { entry } }
      assert.equal("degraded", verdict)
      assert.same({ "task #1 unreadable (not an object)" }, reasons)
    end
  end)

  it("tolerates odd members", function()
    assert.equal("pending", (cs.health { connector = 42, tasks = "x" }))
    assert.equal("pending", (cs.health { connector = { state = {} } }))
    local verdict, reasons = cs.health { connector = { state = "RUNNING", trace = 5 },
      tasks = { { id = {}, state = 3, msg = {}, trace = 1 } } }
    assert.equal("degraded", verdict)
    assert.same({ "task #1 has no state" }, reasons)
  end)
end)

describe("health of Kafka Connect states", function()
  it("rates STOPPED and PAUSED connectors degraded", function()
    assert.equal("degraded", (cs.health(status("STOPPED"))))
    assert.equal("degraded", (cs.health(status("PAUSED", { "PAUSED" }))))
  end)

  it("rates UNASSIGNED and RESTARTING, connector or task, pending", function()
    assert.equal("pending", (cs.health(status("UNASSIGNED"))))
    assert.equal("pending", (cs.health(status("RESTARTING", { "RESTARTING" }))))
    local verdict, reasons = cs.health(status("RUNNING", { "RUNNING", "UNASSIGNED" }))
    assert.equal("pending", verdict)
    assert.same({ "task 1 UNASSIGNED" }, reasons)
    assert.equal("pending", (cs.health(status("RUNNING", { "RESTARTING" }))))
  end)

  it("rates a FAILED task under a RUNNING connector degraded, with the trace's cause", function()
    local trace = "org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded\n\tat x.y(Z.java:1)\n" ..
      "Caused by: org.apache.kafka.connect.errors.DataException: Converting byte[] to Kafka Connect data failed\n"
    local verdict, reasons = cs.health(status("RUNNING", { "RUNNING", { id = 1, state = "FAILED", trace = trace } }))
    assert.equal("degraded", verdict)
    assert.same({ "task 1 FAILED: org.apache.kafka.connect.errors.DataException: Converting byte[] to Kafka " ..
      "Connect data failed" }, reasons)
  end)
end)

describe("health policy options", function()
  it("ignore_states rates those states healthy, in any case, for the connector and its tasks", function()
    assert.equal("healthy", (cs.health(status("PAUSED", { "PAUSED" }), { ignore_states = { "paused" } })))
    assert.equal("healthy", (cs.health(status("RUNNING", { "RUNNING", "PAUSED" }), { ignore_states = { "PAUSED" } })))
    assert.equal("failed", (cs.health(status("FAILED"), { ignore_states = { "PAUSED" } })))
  end)

  it("states sets any state's level", function()
    assert.equal("failed", (cs.health(status("STOPPED"), { states = { STOPPED = "failed" } })))
    assert.equal("healthy", (cs.health(status("PROVISIONING"), { states = { provisioning = "healthy" } })))
  end)

  it("raises on a mistyped option or level", function()
    assert.has_error(function() cs.health(status("RUNNING"), { ignore_state = { "PAUSED" } }) end)
    local ok, err = pcall(function() cs.health(status("RUNNING"), { ignore_state = {} }) end)
    assert.is_false(ok)
    assert.matches("^spec/health_spec.lua:%d+: unknown option 'ignore_state' for connectstatus.health " ..
      "%(did you mean 'ignore_states'%?%)$", err)
    assert.has_error(function() cs.health(status("RUNNING"), { states = { RUNNING = "fine" } }) end)
    assert.has_error(function() cs.health(status("RUNNING"), { ignore_states = "PAUSED" }) end)
    assert.has_error(function() cs.summarize({}, { ignore_states = { 1 } }) end)
  end)

  it("raises, pointing at summarize, when given a client instead of a status", function()
    local cc = cs.confluent { token = "t", environment = "e", cluster = "c", base_url = "http://127.0.0.1:9" }
    local ok, err = pcall(function() cs.health(cc) end)
    assert.is_false(ok)
    assert.matches("^spec/health_spec.lua:%d+: health expects a connector status %(cc:status%(name%)%), got a " ..
      "client: cs.summarize%(client%) rates them all$", err)
    cc:close()
  end)
end)

describe("summarize of odd lists", function()
  local function ok_status() return { connector = { state = "RUNNING" }, tasks = { { id = 0, state = "RUNNING" } } } end

  it("counts garbage entries as failed with an unreadable status, in state UNKNOWN", function()
    local summary = cs.summarize { good = { status = ok_status() }, number = 42, null = cs.null,
      nostatus = { status = cs.null }, odd = { status = "RUNNING" } }
    assert.equal(5, summary.total)
    assert.same({ healthy = 1, pending = 0, degraded = 0, failed = 4 }, summary.health)
    assert.same({ RUNNING = 1, UNKNOWN = 4 }, summary.states)
    for _, u in ipairs(summary.unhealthy) do
      assert.equal("failed", u.health)
      assert.matches("^unreadable status", u.reasons[1])
    end
  end)

  it("keeps the whole traces of unhealthy connectors", function()
    local trace = "There were some errors with your configuration:\ntopics: a\nkafka.api.secret: b\n"
    local summary = cs.summarize { s3 = { status = { connector = { state = "FAILED", trace = trace },
      tasks = { { id = 0, state = "FAILED", msg = "m", trace = "T" }, { id = 1, state = "RUNNING" } } } } }
    local u = summary.unhealthy[1]
    assert.same({ "connector FAILED: topics: a", "task 0 FAILED: m" }, u.reasons)
    assert.same({ state = "FAILED", trace = trace, tasks = { { id = 0, index = 1, state = "FAILED", msg = "m",
      trace = "T" } } }, u.details)
    local text = assert(cs.json.encode(summary))
    assert.matches("kafka.api.secret: b", text, 1, true)
  end)

  it("applies the policy options", function()
    local summary = cs.summarize({ p = { status = { connector = { state = "PAUSED" }, tasks = {} } } },
      { ignore_states = { "PAUSED" } })
    assert.equal(1, summary.health.healthy)
  end)
end)

describe("health of a Feldera pipeline's stats", function()
  -- Shaped as ControllerStatus in feldera-openapi.json (required members, the ones health reads).
  local function input(name, metrics, extra)
    local ep = { endpoint_name = name, config = { stream = "t" }, paused = false, barrier = false,
      metrics = { total_bytes = 10, total_records = 1, buffered_records = 0, buffered_bytes = 0,
        num_transport_errors = 0, num_parse_errors = 0, end_of_input = false } }
    for k, v in pairs(metrics or {}) do ep.metrics[k] = v end
    for k, v in pairs(extra or {}) do ep[k] = v end
    return ep
  end
  local function output(name, metrics, extra)
    local ep = { endpoint_name = name, config = { stream = "v" }, metrics = { transmitted_records = 1,
      transmitted_bytes = 10, queued_records = 0, queued_batches = 0, buffered_records = 0, buffered_batches = 0,
      num_encode_errors = 0, num_transport_errors = 0, total_processed_input_records = 1, total_processed_steps = 1,
      memory = 0 } }
    for k, v in pairs(metrics or {}) do ep.metrics[k] = v end
    for k, v in pairs(extra or {}) do ep[k] = v end
    return ep
  end
  local function stats(state, inputs, outputs)
    return { global_metrics = { state = state, total_input_records = 1 }, inputs = inputs or {},
      outputs = outputs or {} }
  end

  it("is healthy while Running with clean endpoints", function()
    local verdict, reasons = cs.health(stats("Running", { input("t.in") }, { output("v.out") }))
    assert.equal("healthy", verdict)
    assert.same({}, reasons)
  end)

  it("fails on an endpoint's fatal error, with its informative line", function()
    local verdict, reasons = cs.health(stats("Running", { input("t.kafka", nil,
      { fatal_error = "error parsing config:\nbootstrap.servers: missing\n" }) }))
    assert.equal("failed", verdict)
    assert.same({ "input t.kafka: fatal error: bootstrap.servers: missing" }, reasons)
    assert.equal("failed", (cs.health(stats("Terminated"))))
  end)

  it("is degraded when paused, or when endpoints count errors", function()
    local verdict, reasons = cs.health(stats("Paused", { input("t.in", { num_parse_errors = 3 }),
      input("t.two", nil, { paused = true }) }, { output("v.out", { num_transport_errors = 2 }) }))
    assert.equal("degraded", verdict)
    assert.same({ "pipeline Paused", "input t.in: num_parse_errors 3", "input t.two paused",
      "output v.out: num_transport_errors 2" }, reasons)
  end)

  it("--ignore-state PAUSED covers a paused pipeline and paused endpoints", function()
    local st = stats("Paused", { input("t.two", nil, { paused = true }) })
    assert.equal("healthy", (cs.health(st, { ignore_states = { "paused" } })))
  end)

  it("tolerates odd members", function()
    assert.equal("pending", (cs.health { global_metrics = {}, inputs = 5 }))
    local verdict, reasons = cs.health { global_metrics = { state = "Running" }, inputs = { 7 },
      outputs = { { metrics = { num_encode_errors = 0 / 0 } } } }
    assert.equal("degraded", verdict)
    assert.same({ "input endpoint unreadable (not an object)" }, reasons)
  end)

  it("summarize counts pipelines by state and keeps their fatal errors", function()
    local summary = cs.summarize { good = { status = stats("Running", { input("a") }) },
      bad = { status = stats("Running", { input("b", nil, { fatal_error = "boom" }) }) } }
    assert.same({ Running = 2 }, summary.states)
    assert.same({ healthy = 1, pending = 0, degraded = 0, failed = 1 }, summary.health)
    assert.same({ state = "Running", endpoints = { { kind = "input", endpoint_name = "b", fatal_error = "boom" } } },
      summary.unhealthy[1].details)
  end)
end)

describe("summarize(client)", function()
  local fake
  setup(function() fake = helpers.start_fake() end)
  teardown(function() fake:stop() end)

  it("reads the expanded list with its own selection and answers exactly as over the full list", function()
    local pp = require "connectstatus.pp"
    local cc = cs.confluent { api_key = "demo-key", api_secret = "demo-secret", environment = "env-demo",
      cluster = "lkc-demo", base_url = fake.url }
    local kc = cs.kafka_connect { base_url = fake.url }
    for _, client in ipairs { cc, kc } do
      local full = cs.summarize(assert(client:list { expand = { "status" } }), { ignore_states = { "PAUSED" } })
      local read = assert(cs.summarize(client, { ignore_states = { "PAUSED" } }))
      assert.equal(pp.format(full), pp.format(read))
      assert.is_true(read.total > 0)
    end
    -- What it decodes is the selection's: no worker ids, no configs.
    local selected = assert(cc:list { expand = { "status" }, select = require("connectstatus.health").SELECT })
    assert.is_nil(selected["pg-cdc"].status.connector.worker_id)
    cc:close()
    kc:close()
  end)

  it("returns nil, err when the read fails, and raises on a wrong option before reading", function()
    local cc = cs.confluent { token = "t", environment = "env-demo", cluster = "no-such", base_url = fake.url,
      retry = { attempts = 1 } }
    local before = #fake:requests()
    assert.has_error(function() cs.summarize(cc, 42) end)
    assert.equal(before, #fake:requests())
    local summary, err = cs.summarize(cc)
    assert.is_nil(summary)
    assert.is_true(cs.is_error(err))
    cc:close()
  end)
end)
