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
