-- cs.kafka_connect against the fake Kafka Connect worker over real libcurl: reads as the worker
-- sends them, version gating (what the fake received, or did not), actions with and without
-- waits, rebalance retries, error kinds, credentials and headers as the fake received them, and
-- every request the client made checked against the Kafka Connect 3.9 OpenAPI document.
local cs = require "connectstatus"
local cjson = require "cjson"
local helpers = require "helpers"
local openapi = require "openapi"

local doc = openapi.load("kafka_connect")
local fake

local function client(extra)
  local opts = { base_url = fake.url, timeout = 5, retry = { attempts = 4 }, sleep = function() end }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return cs.kafka_connect(opts)
end


-- What the worker answers target with, read by luasocket's client rather than connectstatus's.
local function raw(target)
  local status, text = helpers.http(fake.url, "GET", target)
  assert.equal(200, status, text)
  return helpers.without_nulls(cjson.decode(text))
end

local function targets(method)
  local out = {}
  for _, r in ipairs(fake:requests()) do
    if method == nil or r.method == method then out[#out + 1] = r.target end
  end
  return out
end

local states = helpers.states

-- Every request the fake recorded is an operation of the document, with its parameters and body.
local function check_requests()
  local recorded = fake:requests()
  assert.is_true(#recorded > 0)
  for _, r in ipairs(recorded) do
    local body = r.body ~= nil and r.body ~= "" and cjson.decode(r.body) or nil
    local ok, violations = doc:check_request(r.method, r.target, body)
    assert(ok, r.method .. " " .. r.target .. ": " .. table.concat(violations, "; "))
    for _, value in ipairs(require("connectstatus.fake.common").query_values(r.target:match("%?(.*)") or "",
      "expand")) do
      assert.is_truthy(value == "status" or value == "info", "expand=" .. value .. " is not one value")
    end
  end
  return recorded
end

-- An answer the client accepted is what the document describes for that operation.
local function accepted(method, target, value)
  local ok, violations = doc:check_response(method, target, 200, value)
  assert(ok, method .. " " .. target .. ": " .. table.concat(violations, "; "))
  return value
end

-- The error a call raises, which must name this file (the caller's line) on every Lua version.
local function raised(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  assert.matches("kafka_connect_spec%.lua:%d+:", err)
  return err
end

setup(function() fake = helpers.start_fake() end)
teardown(function() fake:stop() end)
before_each(function() fake:reset() end)

describe("cs.kafka_connect reads", function()
  it("each read returns the document as the worker sends it, with its documented type", function()
    local kc = client()
    local C = "/connectors"
    assert.same(raw("/"), accepted("GET", "/", assert(kc:info())))
    assert.same(raw(C), accepted("GET", C, assert(kc:list())))
    for _, name in ipairs { "inventory-source", "search-sink", "audit-sink" } do
      local base = C .. "/" .. name
      assert.same(raw(base .. "/status"), accepted("GET", base .. "/status", assert(kc:status(name))))
      assert.same(raw(base .. "/tasks"), accepted("GET", base .. "/tasks", assert(kc:tasks(name))))
      assert.same(raw(base .. "/tasks/0/status"), accepted("GET", base .. "/tasks/0/status",
        assert(kc:task_status(name, 0))))
      assert.same(raw(base), accepted("GET", base, assert(kc:connector(name))))
      assert.same(raw(base .. "/offsets"), accepted("GET", base .. "/offsets", assert(kc:offsets(name))))
      assert.same(raw(base .. "/topics"), accepted("GET", base .. "/topics", assert(kc:topics(name))))
    end
    local expanded = assert(kc:list { expand = { "status", "info" } })
    assert.same(raw(C .. "?expand=status&expand=info"), accepted("GET", C, expanded))
    assert.equal("FAILED", expanded["inventory-source"].status.tasks[2].state)
    assert.equal("sink", expanded["audit-sink"].info.type)
    assert.same({ offsets = raw(C .. "/search-sink/offsets").offsets }, kc:offsets("search-sink"))
    assert.equal("RUNNING", kc:task_status("inventory-source", "0").state) -- a numeric string is an id too
    check_requests()
    kc:close()
  end)

  it("expand goes out as a repeated query parameter, once per expansion asked", function()
    local kc = client()
    kc:info()
    kc:list { expand = { "status", "info" } }
    kc:list { expand = { "info" } }
    kc:list { expand = "status" }
    kc:list { expand = { "status", "status" } }
    kc:list { expand = {} }
    assert.same({ "/", "/connectors?expand=status&expand=info", "/connectors?expand=info", "/connectors?expand=status",
      "/connectors?expand=status", "/connectors" }, targets())
    check_requests()
    kc:close()
  end)

  it("refuses an answer of the wrong top-level type and keeps the document's types", function()
    local kc = client()
    fake:script { method = "GET", path = "/connectors/x/status", responses = { { status = 200, json = { 1, 2 } } } }
    fake:script { method = "GET", path = "/connectors", responses = { { status = 200, json = { a = 1 } } } }
    local value, err = kc:status("x")
    assert.same({ nil, "decode" }, { value, err.kind })
    assert.equal("decode", select(2, kc:list()).kind)
    kc:close()
  end)

  it("takes per-call options and refuses unknown ones", function()
    local kc = client()
    assert.equal("RUNNING", kc:status("search-sink", { timeout = 2 }).connector.state)
    assert.is_table(kc:list { expand = { "status" }, timeout = 2 })
    raised(function() kc:status("search-sink", { timout = 2 }) end)
    raised(function() kc:list { expand = { "tasks" } } end)
    raised(function() kc:list { expand = 5 } end)
    assert.equal(3, #fake:requests()) -- the status one read, the list GET / and the list
    kc:close()
  end)
end)

describe("cs.kafka_connect version gating", function()
  it("asks GET / once per client and remembers it", function()
    local kc = client()
    kc:list { expand = { "status" } }
    kc:offsets("search-sink")
    kc:topics("search-sink")
    kc:list { expand = { "info" } }
    assert.equal(1, helpers.count_requests(fake, "/"))
    local asked = client()
    asked:info() -- an explicit info() is what the gate remembers
    asked:offsets("search-sink")
    assert.equal(2, helpers.count_requests(fake, "/"))
    kc:close()
    asked:close()
  end)

  it("two tasks of a loop that need the version at once send one GET /", function()
    fake:script { method = "GET", path = "/", responses = { { status = 200, delay = 0.2,
      json = { version = "3.9.0", commit = "c", kafka_cluster_id = "k" } } } }
    local kc = client()
    local loop = cs.loop()
    local a = loop:spawn(function() return kc:offsets("search-sink") end)
    local b = loop:spawn(function() return kc:topics("search-sink") end)
    loop:run()
    assert.equal(5120, (a:result()).offsets[1].offset.kafka_offset)
    assert.same({ "orders" }, (b:result())["search-sink"].topics)
    assert.equal(1, helpers.count_requests(fake, "/"))
    loop:close()
    kc:close()
  end)

  it("a task waiting for another task's GET / asks itself when that task is cancelled", function()
    fake:script { method = "GET", path = "/", responses = { { status = 200, delay = 0.3,
      json = { version = "3.9.0", commit = "c", kafka_cluster_id = "k" } } } }
    local kc = client()
    local loop = cs.loop()
    local asker = loop:spawn(function() return kc:offsets("search-sink") end)
    local waiter = loop:spawn(function() return kc:topics("search-sink") end)
    loop:step(0.05)
    assert.is_true(asker:cancel())
    loop:run()
    assert.same({ "orders" }, (waiter:result())["search-sink"].topics)
    assert.equal(2, helpers.count_requests(fake, "/"))
    loop:close()
    kc:close()
  end)

  it("an old worker's list is expanded by parallel reads, in the same shape, and never sees expand", function()
    local wanted = assert(client():list { expand = { "status", "info" } })
    fake:reset()
    fake:set { kafka_connect = { version = "2.2.0" } }
    local kc = client()
    local fallback = assert(kc:list { expand = { "status", "info" } })
    assert.same(wanted, fallback)
    assert.same({ "status" }, (function()
      local keys = {}
      for k in pairs(kc:list { expand = { "status" } }["search-sink"]) do keys[#keys + 1] = k end
      return keys
    end)())
    for _, target in ipairs(targets()) do assert.is_nil(target:find("expand", 1, true), target) end
    assert.equal(1, helpers.count_requests(fake, "/"))
    check_requests()
    kc:close()
  end)

  it("an old worker's list takes a selection as an expanded one does", function()
    local paths = { "*.status.connector.state", "*.status.tasks.*.state", "*.info.type", "*.none" }
    local wanted = assert(client():list { expand = { "status", "info" }, select = paths })
    assert.is_nil(wanted["search-sink"].status.connector.worker_id)
    fake:reset()
    fake:set { kafka_connect = { version = "2.2.0" } }
    local kc = client()
    assert.same(wanted, assert(kc:list { expand = { "status", "info" }, select = paths }))
    assert.same(wanted, assert(kc:list { expand = { "status", "info" }, select = cs.json.selection(paths) }))
    kc:close()
  end)

  it("the old worker's reads run at once, and a connector deleted meanwhile is left out", function()
    fake:set { kafka_connect = { version = "2.2.0" } }
    for _, name in ipairs { "audit-sink", "inventory-source", "search-sink" } do
      fake:script { method = "GET", path = "/connectors/" .. name .. "/status", responses = { { status = 200,
        delay = 0.2, json = { name = name, type = "sink", connector = { state = "RUNNING" }, tasks = {} } } } }
    end
    fake:script { method = "GET", path = "/connectors/audit-sink", responses = { { status = 404,
      json = { error_code = 404, message = "Connector audit-sink not found" } } } }
    local kc = client()
    local map = assert(kc:list { expand = { "status", "info" } })
    assert.is_nil(map["audit-sink"])
    assert.same({ "inventory-source", "search-sink" },
      { map["inventory-source"].status.name, map["search-sink"].status.name })
    local most = 0
    for _, r in ipairs(fake:requests()) do most = math.max(most, r.in_flight) end
    assert.is_true(most >= 2, "the reads ran one after another: " .. most)
    fake:script { method = "GET", path = "/connectors/search-sink/status", responses = { { status = 500,
      json = { error_code = 500, message = "boom" } } } }
    local value, err = kc:list { expand = { "status" } }
    assert.same({ nil, "server" }, { value, err.kind })
    kc:close()
  end)

  it("an endpoint the worker lacks is unsupported, names the version it needs and sends nothing", function()
    fake:set { kafka_connect = { version = "2.2.0" } }
    local kc = client()
    local offsets = { { partition = { kafka_topic = "orders", kafka_partition = 0 }, offset = { kafka_offset = 1 } } }
    for _, case in ipairs {
      { "3.5", function() return kc:offsets("search-sink") end },
      { "2.5", function() return kc:topics("search-sink") end },
      { "3.5", function() return kc:stop("search-sink") end },
      { "3.0", function() return kc:restart("inventory-source", { only_failed = true }) end },
      { "3.0", function() return kc:restart("inventory-source", { include_tasks = true }) end },
      { "3.6", function() return kc:alter_offsets("search-sink", offsets) end },
      { "3.6", function() return kc:reset_offsets("search-sink", { wait = true }) end },
    } do
      local value, err = case[2]()
      assert.is_nil(value)
      assert.equal("unsupported", err.kind)
      assert.equal(case[1], err.needs)
      assert.matches("needs Kafka Connect " .. case[1] .. " or later; the worker runs 2.2.0", err.message, 1, true)
    end
    assert.same({ "/" }, targets())
    assert.is_true(kc:restart("inventory-source")) -- no flags: every worker has it
    kc:close()
  end)

  it("gates each feature at its own release, Confluent Platform versions by the Kafka they ship", function()
    local function kind_of(version, call)
      fake:set { kafka_connect = { version = version } }
      local kc = client()
      local value, err = call(kc)
      kc:close()
      return (value ~= nil or err.kind ~= "unsupported") and "sent" or err.kind
    end
    local stop = function(kc) return kc:stop("audit-sink") end
    local reset = function(kc) return kc:reset_offsets("audit-sink") end
    local read = function(kc) return kc:offsets("audit-sink") end
    assert.same({ "unsupported", "sent", "unsupported", "sent", "sent" },
      { kind_of("3.4.1", stop), kind_of("3.5.0", read), kind_of("3.5.2", reset), kind_of("3.6.0", reset),
        kind_of("4.0.0", reset) })
    assert.same({ "unsupported", "unsupported", "sent", "sent" },
      { kind_of("6.2.0-ccs", stop), kind_of("7.5.0-ce", reset), kind_of("7.6.1-ccs", reset),
        kind_of("10.0.0", reset) })
    local kv = require("connectstatus.kafka_connect").kafka_version
    assert.same({ 2, 8 }, { kv("6.2.0-ccs") })
    assert.same({ 3, 9 }, { kv("3.9.0-SNAPSHOT") })
    assert.is_nil(kv("trunk"))
  end)

  it("a hostile version or name list never reaches a message raw, nor a request", function()
    fake:script { method = "GET", path = "/", responses = { { status = 200, json = { version = "2.2.0\27[31m\n" } } } }
    local kc = client()
    local _, err = kc:offsets("search-sink")
    assert.equal("unsupported", err.kind)
    assert.is_nil(err.message:find("%c"), err.message)
    fake:script { method = "GET", path = "/connectors", responses = { { status = 200, json = { "ok", "..", 5 } } } }
    local value
    value, err = kc:list { expand = { "status" } }
    assert.same({ nil, "decode" }, { value, err.kind })
    assert.same({ "/", "/connectors" }, targets())
    kc:close()
  end)

  it("an unreadable version lets the worker decide; a failed GET / fails the call and sends nothing else", function()
    fake:script { method = "GET", path = "/", responses = { { status = 200, json = { version = 35 } } } }
    local kc = client()
    assert.equal(5120, kc:offsets("search-sink").offsets[1].offset.kafka_offset)
    kc:close()
    fake:reset()
    fake:script { method = "GET", path = "/", responses = { { status = 401,
      json = { error_code = 401, message = "Unauthorized" } } } }
    kc = client()
    local value, err = kc:offsets("search-sink")
    assert.same({ nil, "unauthorized" }, { value, err.kind })
    assert.same({ "/" }, targets())
    kc:close()
  end)
end)

describe("cs.kafka_connect actions", function()
  it("restart: true without flags (204), the 202 body with them; the flags as the fake received them", function()
    local kc = client()
    assert.is_true(kc:restart("search-sink"))
    local body = assert(kc:restart("inventory-source", { include_tasks = true, only_failed = true }))
    assert.equal("RUNNING RUNNING RESTARTING", states(accepted("POST", "/connectors/inventory-source/restart", body)))
    fake:reset()
    kc = client()
    kc:restart("inventory-source", { only_failed = true, include_tasks = false })
    kc:restart("inventory-source", { only_failed = true })
    kc:restart("search-sink", { include_tasks = true })
    assert.same({ "/connectors/inventory-source/restart?onlyFailed=true",
      "/connectors/inventory-source/restart?includeTasks=true&onlyFailed=true",
      "/connectors/search-sink/restart?includeTasks=true" }, targets("POST"))
    check_requests()
    kc:close()
  end)

  it("restart only_failed with wait turns a RUNNING connector with a FAILED task healthy", function()
    local kc = client()
    local before = assert(kc:status("inventory-source"))
    assert.equal("degraded", (cs.health(before)))
    local polls = 0
    local after = assert(kc:restart("inventory-source", { only_failed = true, wait = true,
      on_poll = function() polls = polls + 1 end }))
    assert.same({ "healthy", "RUNNING RUNNING RUNNING" }, { (cs.health(after)), states(after) })
    assert.is_true(polls >= 1)
    assert.equal("healthy", (cs.health(assert(kc:status("inventory-source")))))
    kc:close()
  end)

  it("a restart that brings a task back FAILED ends the wait with kind failed", function()
    fake:set { kafka_connect = { connector = "inventory-source", restart_fails = true } }
    local kc = client()
    local value, err = kc:restart("inventory-source", { only_failed = true, wait = { timeout = 5 } })
    assert.same({ nil, "failed", 1 }, { value, err.kind, err.task })
    assert.matches("task 1 is FAILED: org.apache.kafka.common.errors.RecordTooLargeException", err.message, 1, true)
    kc:close()
  end)

  it("restart_task restarts one task; with wait, done when that task is RUNNING", function()
    local kc = client()
    assert.is_true(kc:restart_task("inventory-source", 1))
    fake:reset()
    kc = client()
    fake:set { kafka_connect = { connector = "search-sink", states = { { connector = { state = "RUNNING" },
      tasks = { { id = 0, state = "FAILED", trace = "x" }, { id = 1, state = "FAILED", trace = "y" } } } } } }
    local after = assert(kc:restart_task("search-sink", 1, { wait = true }))
    assert.same({ "RUNNING FAILED RUNNING" }, { states(after) }) -- task 0 was not restarted, nor waited for
    assert.same({ "/connectors/search-sink/tasks/1/restart" }, targets("POST"))
    check_requests()
    kc:close()
  end)

  it("pause, resume and stop: true without wait; with wait, the state reached", function()
    local kc = client()
    assert.is_true(kc:pause("search-sink"))
    assert.same({ "/connectors/search-sink/pause" }, targets("PUT"))
    fake:reset()
    local paused = assert(kc:pause("search-sink", { wait = true }))
    assert.equal("PAUSED PAUSED PAUSED", states(paused))
    local running = assert(kc:resume("search-sink", { wait = true }))
    assert.equal("RUNNING RUNNING RUNNING", states(running))
    local stopped = assert(kc:stop("search-sink", { wait = true }))
    assert.same({ "STOPPED" }, { states(stopped) })
    assert.equal("RUNNING RUNNING RUNNING", states(assert(kc:resume("search-sink", { wait = { timeout = 5 } }))))
    assert.is_true(kc:resume("audit-sink"))
    assert.is_true(kc:stop("audit-sink"))
    check_requests()
    kc:close()
  end)

  it("a wait for STOPPED is done with or without tasks; RESTARTING and UNASSIGNED are pending", function()
    local stopped_with_task = { connector = { state = "STOPPED" }, tasks = { { id = 0, state = "RUNNING" } } }
    fake:set { kafka_connect = { connector = "s", states = { "RESTARTING", stopped_with_task } } }
    local kc = client()
    local seen = {}
    local final = assert(kc:wait_for_state("s", "STOPPED", { on_poll = function(v) seen[#seen + 1] = states(v) end }))
    assert.same({ "RESTARTING", "STOPPED RUNNING" }, seen)
    assert.equal("STOPPED", final.connector.state)
    fake:set { kafka_connect = { connector = "u", states = {
      { connector = { state = "UNASSIGNED" }, tasks = { { id = 0, state = "UNASSIGNED" } } },
      { connector = { state = "RUNNING" }, tasks = { { id = 0, state = "RESTARTING" } } },
      { connector = { state = "RUNNING" }, tasks = { { id = 0, state = "UNASSIGNED" } } },
      { connector = { state = "RUNNING" }, tasks = { { id = 0, state = "RUNNING" } } } } } }
    seen = {}
    assert(cs.wait_for_state(kc, "u", "RUNNING", { on_poll = function(v) seen[#seen + 1] = states(v) end }))
    assert.same({ "UNASSIGNED UNASSIGNED", "RUNNING RESTARTING", "RUNNING UNASSIGNED", "RUNNING RUNNING" }, seen)
    kc:close()
  end)

  it("offsets change only while STOPPED: a refusal says to stop first and is not retried", function()
    local kc = client()
    local given = { { partition = { kafka_topic = "orders", kafka_partition = 0 }, offset = { kafka_offset = 10 } } }
    for _, call in ipairs { function() return kc:alter_offsets("search-sink", given) end,
      function() return kc:reset_offsets("search-sink") end } do
      local value, err = call()
      assert.same({ nil, "bad_request", 400, 1 }, { value, err.kind, err.status, err.attempts })
      assert.matches("connector search-sink must be STOPPED before its offsets can change: stop it first",
        err.message, 1, true)
    end
    assert(kc:stop("search-sink", { wait = true }))
    local answer = assert(kc:alter_offsets("search-sink", given))
    assert.matches("altered successfully", answer.message, 1, true)
    assert.equal(10, raw("/connectors/search-sink/offsets").offsets[2].offset.kafka_offset)
    local moved = { { partition = given[1].partition, offset = { kafka_offset = 20 } } }
    local after = assert(kc:alter_offsets("search-sink", moved, { wait = true }))
    assert.equal(20, after.offsets[2].offset.kafka_offset) -- with wait: the offsets read back after the change
    assert.same({}, assert(kc:reset_offsets("search-sink", { wait = true })).offsets)
    assert.matches("reset successfully", assert(kc:reset_offsets("search-sink")).message, 1, true)
    local bodies = {}
    for _, r in ipairs(fake:requests()) do
      if r.method == "PATCH" then bodies[#bodies + 1] = cjson.decode(r.body) end
    end
    assert.same({ { offsets = given }, { offsets = given }, { offsets = moved } }, bodies)
    check_requests()
    kc:close()
  end)

  it("bad arguments raise at the caller's line before anything is sent", function()
    local kc = client()
    local good = { partition = { kafka_topic = "t", kafka_partition = 0 }, offset = { kafka_offset = 1 } }
    for _, fn in ipairs {
      function() kc:restart("") end,
      function() kc:restart("..") end,
      function() kc:status("a\nb") end,
      function() kc:pause(nil) end,
      function() kc:restart("x", { only_failed = "yes" }) end,
      function() kc:restart("x", { onlyFailed = true }) end,
      function() kc:restart("x", { onlyFailed = true, wait = { timeout = 5 } }) end,
      function() kc:pause("x", { wiat = true }) end,
      function() kc:pause("x", { wait = "yes" }) end,
      function() kc:resume("x", { wait = true, interval = "fast" }) end,
      function() kc:stop("x", { wait = { timeout = -1 } }) end,
      function() kc:stop("x", { wait = { interval = 0 } }) end,
      function() kc:wait_for_state("", "RUNNING") end,
      function() kc:wait_for_state("x", 5) end,
      function() kc:wait_for_state("x", "RUNNING", { interval = "soon" }) end,
      function() kc:wait_for_state("x", "RUNNING", { tasks = 1 }) end,
      function() kc:stop("x", { interval = 3 }) end, -- a wait option without a wait
      function() kc:restart_task("x", -1) end,
      function() kc:restart_task("x", 1.5) end,
      function() kc:task_status("x", "one") end,
      function() kc:alter_offsets("x", {}) end,
      function() kc:alter_offsets("x", good) end,
      function() kc:alter_offsets("x", { good, { partition = 1, offset = {} } }) end,
      function() kc:alter_offsets("x", { { partition = {}, offset = { 1, 2 } } }) end,
      function() kc:alter_offsets("x", { { partition = {}, offset = cs.null } }) end,
      function() kc:alter_offsets("x", { { partition = {}, offset = {}, extra = 1 } }) end,
      function() kc:alter_offsets("x", { good, [5] = good }) end,
      function() kc:alter_offsets("", { good }) end,
      function() kc:reset_offsets("x", { wait = true, on_poll = 1 }) end,
      function() cs.kafka_connect {} end,
      function() cs.kafka_connect { base_url = fake.url, username = "u" } end,
      function() cs.kafka_connect { base_url = fake.url, username = "u:v", password = "p" } end,
      function() cs.kafka_connect { base_url = fake.url, token = "t", username = "u", password = "p" } end,
      function() cs.kafka_connect { base_url = fake.url, headers = { "X-A: b" } } end,
      function() cs.kafka_connect { base_url = fake.url, headers = { ["Bad Name"] = "v" } } end,
      function() cs.kafka_connect { base_url = fake.url, headers = { Authorization = "Basic x" } } end,
      function() cs.kafka_connect { base_url = fake.url, headers = { ["X-A"] = "v\r\nX-B: w" } } end,
      function() cs.kafka_connect { base_url = fake.url, enviroment = "x" } end,
    } do
      raised(fn)
    end
    -- The same words as the other APIs' actions and waits, from the same checks.
    assert.matches("unknown option 'onlyFailed' for restart %(did you mean 'only_failed'%?%)",
      raised(function() kc:restart("x", { onlyFailed = true }) end))
    assert.matches("unknown option 'intervall' for wait_for_state %(did you mean 'interval'%?%)",
      raised(function() kc:pause("x", { wait = true, intervall = 1 }) end))
    assert.matches("option 'interval' must be a positive number of seconds",
      raised(function() kc:stop("x", { wait = { interval = 0 } }) end))
    assert.same({}, targets())
    kc:close()
  end)

  it("a timeout without a wait bounds the action's request, as for the other APIs", function()
    local kc = client()
    fake:script { method = "PUT", path = "/connectors/search-sink/pause", responses = { { delay = 2, status = 202 } } }
    local _, err = kc:pause("search-sink", { timeout = 0.3 })
    assert.equal("timeout", err.kind)
    kc:close()
  end)

  it("refuses credentials over plain http to a host that is not loopback, at construction", function()
    -- Construction only: nothing is sent to a host that is not loopback.
    local url = "http://connect.example.com:8083"
    assert.has_error(function() cs.kafka_connect { base_url = url, token = "t" } end)
    assert.has_error(function() cs.kafka_connect { base_url = url, username = "u", password = "p" } end)
    cs.kafka_connect({ base_url = url }):close()
    cs.kafka_connect({ base_url = url, token = "t", allow_insecure_http = true }):close()
    cs.kafka_connect({ base_url = "https://connect.example.com:8443", token = "t" }):close()
  end)
end)

describe("cs.kafka_connect retries and errors", function()
  it("a rebalance's 409 is retried for POST, PUT, PATCH and GET; err.attempts counts them", function()
    local kc = client()
    fake:set { kafka_connect = { rebalance = 2 } }
    assert.is_true(kc:restart("search-sink"))
    assert.equal(3, helpers.count_requests(fake, "/connectors/search-sink/restart"))
    fake:set { kafka_connect = { rebalance = 10 } }
    local value, err = kc:restart("search-sink")
    assert.same({ nil, "conflict", 409, 4 }, { value, err.kind, err.status, err.attempts })
    assert.matches("rebalance is in progress", err.message, 1, true)
    assert.equal(7, helpers.count_requests(fake, "/connectors/search-sink/restart"))
    fake:set { kafka_connect = { rebalance = 1 } }
    assert.is_true(kc:pause("search-sink"))
    fake:set { kafka_connect = { rebalance = 0, connector = "search-sink", states = { "STOPPED" } } }
    fake:set { kafka_connect = { rebalance = 1 } }
    assert(kc:alter_offsets("search-sink", { { partition = { kafka_topic = "orders", kafka_partition = 0 },
      offset = { kafka_offset = 3 } } }))
    assert.equal(2, #targets("PATCH"))
    fake:set { kafka_connect = { rebalance = 3 } }
    assert.equal("STOPPED", kc:status("search-sink").connector.state)
    kc:close()
  end)

  it("a 500 is not retried, nor is a 400; kinds come from {error_code, message}", function()
    local kc = client()
    local function answer(status, message)
      fake:script { path = "/connectors/x/status", responses = { { status = status,
        json = { error_code = status, message = message } } } }
      local value, err = kc:status("x")
      assert.is_nil(value)
      return err
    end
    local err = answer(500, "Request timed out")
    assert.same({ "server", 500, 1, "HTTP 500: Request timed out" }, { err.kind, err.code, err.attempts, err.message })
    assert.same({ "bad_request", 1 }, { answer(400, "bad").kind, answer(400, "bad").attempts })
    assert.equal("forbidden", answer(403, "no").kind)
    assert.equal("http", answer(405, "HTTP 405 Method Not Allowed").kind)
    local missing
    missing, err = kc:status("nope")
    assert.same({ nil, "not_found", 404, "HTTP 404: Connector nope not found" },
      { missing, err.kind, err.code, err.message })
    assert.equal("not_found", select(2, kc:task_status("search-sink", 7)).kind)
    kc:close()
  end)
end)

describe("cs.kafka_connect credentials, headers and TLS", function()
  it("sends Basic, Bearer or nothing, and custom headers, as the fake received them", function()
    local secured = helpers.start_fake { api_key = "connect-user", api_secret = "pa:ss-w0rd", token = "tok-123456" }
    local ok, problem = pcall(function()
      local basic = cs.kafka_connect { base_url = secured.url, username = "connect-user", password = "pa:ss-w0rd",
        headers = { ["X-Team"] = "data-platform", ["X-Request-Source"] = "runbook" } }
      assert.equal("RUNNING", basic:status("search-sink").connector.state)
      local bearer = cs.kafka_connect { base_url = secured.url, token = "tok-123456" }
      assert.equal("3.9.0", bearer:info().version)
      local none = cs.kafka_connect { base_url = secured.url }
      assert.equal("unauthorized", select(2, none:list()).kind)
      local seen = secured:requests()
      assert.equal("Basic " .. helpers.base64("connect-user:pa:ss-w0rd"), seen[1].headers.authorization)
      assert.same({ "data-platform", "runbook" }, { seen[1].headers["x-team"], seen[1].headers["x-request-source"] })
      assert.equal("Bearer tok-123456", seen[2].headers.authorization)
      assert.is_nil(seen[3].headers.authorization)
      assert.is_nil(seen[2].headers["x-team"])
      basic:close()
      bearer:close()
      none:close()
    end)
    secured:stop()
    assert(ok, problem)
  end)

  it("keeps passwords, tokens, their base64 and header values out of errors and tostring", function()
    local secured = helpers.start_fake { token = "tok-123456" }
    local ok, problem = pcall(function()
      local b64 = helpers.base64("connect-user:hunter2-pw")
      local kc = cs.kafka_connect { base_url = secured.url, username = "connect-user", password = "hunter2-pw",
        headers = { ["X-Api-Key"] = "key-987654" } }
      secured:script { path = "/connectors/x/status", responses = { { status = 400, json = { error_code = 400,
        message = "bad hunter2-pw " .. b64 .. " key-987654" } } } }
      local _, err = kc:status("x")
      local _, denied = kc:list()
      local bearer = cs.kafka_connect { base_url = secured.url, token = "wrong-token-1" }
      local _, wrong = bearer:list()
      for _, text in ipairs { tostring(err), tostring(denied), tostring(wrong), tostring(kc), tostring(bearer),
        require("connectstatus.pp").format(err) } do
        for _, secret in ipairs { "hunter2-pw", b64, "key-987654", "wrong-token-1" } do
          assert.is_nil(text:find(secret, 1, true), text)
        end
      end
      assert.matches("[REDACTED]", tostring(err), 1, true)
      assert.same({ "unauthorized", "unauthorized" }, { denied.kind, wrong.kind })
      kc:close()
      bearer:close()
    end)
    secured:stop()
    assert(ok, problem)
  end)

  it("takes the TLS options of the other backends: a private CA's certificate is trusted with cafile", function()
    local pki = helpers.make_pki()
    local root = pki .. "/www"
    os.execute("mkdir " .. root)
    local f = assert(io.open(root .. "/connectors", "w"))
    f:write('["tls-sink"]')
    f:close()
    local server = helpers.start_tls_server(pki, "good", root)
    local ok, problem = pcall(function()
      local trusted = cs.kafka_connect { base_url = server.url, token = "t", cafile = pki .. "/ca.pem" }
      assert.same({ "tls-sink" }, assert(trusted:list()))
      local untrusted = cs.kafka_connect { base_url = server.url, token = "t", retry = { attempts = 1 } }
      assert.equal("tls", select(2, untrusted:list()).kind)
      trusted:close()
      untrusted:close()
    end)
    server:stop()
    helpers.remove_tree(pki)
    assert(ok, problem)
  end)
end)

describe("cs.kafka_connect inside a cs.loop task", function()
  -- The same reads and actions, once blocking and once in a task (reads through cs.map).
  local function scenario(kc)
    local names = assert(kc:list())
    local statuses = cs.map(names, function(name) return kc:status(name) end)
    local infos = cs.map(names, function(name) return kc:connector(name) end)
    local offsets = cs.map(names, function(name) return kc:offsets(name) end)
    return {
      names = names, statuses = statuses, infos = infos, offsets = offsets,
      tasks = assert(kc:tasks("inventory-source")),
      expanded = assert(kc:list { expand = { "status", "info" } }),
      restarted = assert(kc:restart("inventory-source", { only_failed = true, wait = true })),
      paused = assert(kc:pause("search-sink", { wait = true })),
      stopped = assert(kc:stop("audit-sink", { wait = true })),
      reset = assert(kc:reset_offsets("audit-sink", { wait = true })),
    }
  end

  local function in_task(fn)
    local loop = cs.loop()
    local task = loop:spawn(fn)
    loop:run()
    loop:close()
    return task:result()
  end

  it("gives the values the blocking calls give", function()
    local blocking = scenario(client())
    fake:reset()
    local looped = in_task(function() return scenario(client()) end)
    assert.same(blocking, looped)
    assert.equal("healthy", (cs.health(looped.restarted)))
    check_requests()
  end)

  it("an old worker's expanded list and the gate work inside a task too", function()
    fake:set { kafka_connect = { version = "2.2.0" } }
    local map, err = in_task(function()
      local kc = client()
      local refused = select(2, kc:offsets("search-sink"))
      assert.equal("unsupported", refused.kind)
      return kc:list { expand = { "status" } }
    end)
    assert.is_nil(err)
    assert.equal("FAILED", map["inventory-source"].status.tasks[2].state)
    assert.equal(1, helpers.count_requests(fake, "/"))
  end)
end)
