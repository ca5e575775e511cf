-- cs.loop, tasks and cs.map against the loopback fake over real libcurl multi. Concurrency is
-- proven by what the fake saw (how many requests it was answering at once, and in which order
-- they came), never by how long something took.
local cs = require "connectstatus"
local helpers = require "helpers"
local socket = require "socket"

local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"
local STATUS = { name = "x", type = "sink", connector = { state = "RUNNING", worker_id = "w", trace = "" },
  tasks = { { id = 0, state = "RUNNING", worker_id = "w", msg = "" } } }

local fake

local function client(extra)
  return helpers.confluent(fake.url, { timeout = 10 }, extra)
end

-- n status answers for connector name, each held back by delay seconds.
local function delayed(name, n, delay)
  local responses = helpers.repeated({ status = 200, json = STATUS, delay = delay }, n)
  fake:script { method = "GET", path = PREFIX .. "/" .. name .. "/status", responses = responses }
end

local function most_in_flight(target)
  local most = 0
  for _, r in ipairs(fake:requests()) do
    if target == nil or r.target == target then most = math.max(most, r.in_flight) end
  end
  return most
end

local function running()
  return { connector = { state = "RUNNING" }, tasks = { { id = 0, state = "RUNNING" } } }
end

describe("cs.loop", function()
  setup(function() fake = helpers.start_fake() end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  it("runs 50 delayed reads at once, up to max_per_host connections", function()
    local cc = client()
    delayed("slow", 50, 0.3)
    local loop = cs.loop { max_per_host = 50 }
    local tasks = {}
    for i = 1, 50 do tasks[i] = loop:spawn(function() return cc:status("slow") end) end
    assert.equal(0, loop:run())
    for i = 1, 50 do
      local status, err = tasks[i]:result()
      assert.is_nil(err)
      assert.equal("RUNNING", status.connector.state)
    end
    assert.equal(50, most_in_flight(PREFIX .. "/slow/status"))
    loop:close()
    cc:close()
  end)

  it("holds no more than max_per_host (default 32) requests to one host in flight", function()
    local cc = client()
    delayed("slow", 40, 0.3)
    local values, errs = cs.map(helpers.repeated("slow", 40), function(name) return cc:status(name) end,
      { parallel = 40 })
    for i = 1, 40 do
      assert.is_nil(errs[i])
      assert.equal("RUNNING", values[i].connector.state)
    end
    assert.equal(32, most_in_flight(PREFIX .. "/slow/status"))
    cc:close()
  end)

  it("step(0) returns at once while a transfer is in flight", function()
    local cc = client()
    delayed("slow", 1, 1)
    local loop = cs.loop()
    local task = loop:spawn(function() return cc:status("slow") end)
    local steps, seen_in_flight = 0, false
    while not task:done() do
      assert.is_true(loop:step(0) <= 1)
      steps = steps + 1
      if not task:done() and helpers.count_requests(fake, PREFIX .. "/slow/status") == 1 then
        seen_in_flight = true
      end
      socket.sleep(0.01)
    end
    assert.is_true(seen_in_flight, "the fake never had the request while the task was unfinished")
    assert.is_true(steps > 5, "step(0) waited for the answer: " .. steps .. " steps")
    assert.equal("RUNNING", (task:result()).connector.state)
    cc:close()
  end)

  it("gives a task's values and errors exactly as a blocking call does", function()
    local cc = client()
    local loop = cs.loop()
    local ok_task = loop:spawn(function() return cc:status("pg-cdc") end)
    local missing = loop:spawn(function() return cc:status("no-such-connector") end)
    loop:run()
    assert.same(cc:status("pg-cdc"), (ok_task:result()))
    local value, err = missing:result()
    local _, blocking_err = cc:status("no-such-connector")
    assert.is_nil(value)
    for _, field in ipairs { "kind", "status", "message", "url", "code", "attempts" } do
      assert.equal(blocking_err[field], err[field], field)
    end
    cc:close()
  end)

  it("result() gives every return value, trailing nils included, and raises before done", function()
    local loop = cs.loop()
    local task = loop:spawn(function(a, b) return a, nil, b, nil end, 1, 2)
    assert.has_error(function() task:result() end, "task:result() called before the task finished")
    loop:run()
    assert.is_true(task:done())
    assert.equal(4, select("#", task:result()))
    assert.same({ 1, nil, 2, nil }, { task:result() })
  end)

  it("an error raised in a task ends that task only", function()
    local cc = client()
    local loop = cs.loop()
    local marker = setmetatable({}, { __tostring = function() return "marker" end })
    local bad = loop:spawn(function()
      assert(cc:status("pg-cdc"))
      error(marker)
    end)
    local good = loop:spawn(function() return cc:status("pg-cdc") end)
    assert.equal(0, loop:run())
    local v, raised = bad:result()
    assert.is_nil(v)
    assert.equal(marker, raised)
    assert.equal("RUNNING", (good:result()).connector.state)
    cc:close()
  end)

  it("cancel aborts a transfer in flight and a sleep", function()
    local cc = client()
    delayed("slow", 1, 5)
    local loop = cs.loop()
    local reading = loop:spawn(function() return cc:status("slow") end)
    local sleeping = loop:spawn(function()
      return cc:wait_for_state("pg-cdc", "PAUSED", { interval = 60, timeout = 600 })
    end)
    while helpers.count_requests(fake, PREFIX .. "/slow/status") == 0 do loop:step(0.01) end
    assert.is_true(reading:cancel())
    assert.is_true(sleeping:cancel())
    assert.is_false(reading:cancel())
    assert.equal(0, loop:step(0))
    for _, task in ipairs { reading, sleeping } do
      local v, err = task:result()
      assert.is_nil(v)
      assert.equal("cancelled", err.kind)
      assert.is_true(cs.is_error(err))
    end
    -- The client is as good as before, inside a loop and outside.
    assert(cc:status("pg-cdc"))
    assert.equal("RUNNING", (cs.map({ "pg-cdc" }, function(n) return cc:status(n) end)[1]).connector.state)
    cc:close()
  end)

  it("runs two waits on one client side by side and leaves no state on it", function()
    local cc = client()
    fake:set { connector = "a", states = { "PROVISIONING", "PROVISIONING", running() } }
    fake:set { connector = "b", states = { "PROVISIONING", running() } }
    local before = {}
    for k, v in pairs(cc.transport) do before[k] = v end
    local retry_before = {}
    for k, v in pairs(cc.transport.retry) do retry_before[k] = v end
    local loop = cs.loop()
    local a = loop:spawn(function() return cc:wait_for_state("a", "RUNNING", { interval = 0.05, timeout = 5 }) end)
    local b = loop:spawn(function() return cc:wait_for_state("b", "RUNNING", { interval = 0.05, timeout = 2 }) end)
    loop:run()
    assert.equal("RUNNING", (a:result()).connector.state)
    assert.equal("RUNNING", (b:result()).connector.state)
    for k, v in pairs(cc.transport) do
      if k ~= "tenths" and k ~= "limits" then assert.equal(before[k], v, "transport." .. k) end
    end
    assert.same(retry_before, cc.transport.retry)
    -- The two waits polled side by side rather than one after the other.
    local order = {}
    for _, r in ipairs(fake:requests()) do order[#order + 1] = r.target:match("/([ab])/status$") end
    assert.equal(5, #order)
    assert.are_not.equal(order[1], order[2])
    cc:close()
  end)

  it("backs off on a loop timer, so another task's read goes on meanwhile", function()
    local cc = client { retry = { attempts = 2, base = 0.4, cap = 0.4 }, random = function() return 1 end }
    fake:script { method = "GET", path = PREFIX .. "/flaky/status",
      responses = { { status = 503 }, { status = 200, json = STATUS } } }
    delayed("quick", 1, 0.05)
    local loop = cs.loop()
    local flaky = loop:spawn(function() return cc:status("flaky") end)
    local quick
    loop:spawn(function()
      -- Starts only once the flaky read has had its 503 and is backing off.
      while helpers.count_requests(fake, PREFIX .. "/flaky/status") == 0 do cs.sleep(0.01) end
      quick = cc:status("quick")
    end)
    loop:run()
    local status, err = flaky:result()
    assert.is_nil(err)
    assert.equal("RUNNING", status.connector.state)
    assert.equal("RUNNING", quick.connector.state)
    local order = {}
    for _, r in ipairs(fake:requests()) do order[#order + 1] = r.target:match("/(%a+)/status$") end
    assert.same({ "flaky", "quick", "flaky" }, order)
    cc:close()
  end)

  it("yields across a wait's reads and sleeps on every Lua version (no pcall in the way)", function()
    local cc = client()
    fake:set { connector = "late", states = { "PROVISIONING", "PROVISIONING", running() } }
    local loop = cs.loop()
    local ticks = 0
    local wait = loop:spawn(function() return cc:wait_for_state("late", "RUNNING", { interval = 0.05 }) end)
    loop:spawn(function()
      while not wait:done() do
        ticks = ticks + 1
        coroutine.yield() -- a plain yield hands the turn to the other tasks
      end
    end)
    loop:run()
    local status, err = wait:result()
    assert.is_nil(err)
    assert.equal("RUNNING", status.connector.state)
    assert.is_true(ticks > 2)
    cc:close()
  end)
end)

describe("cs.map", function()
  setup(function() fake = helpers.start_fake() end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  it("returns values[i], errs[i] = fn(list[i]), and keeps going when fn raises for one", function()
    local cc = client()
    local names = { "pg-cdc", "no-such-connector", "boom", "orders-sink" }
    local values, errs = cs.map(names, function(name)
      if name == "boom" then error("boom raised", 0) end
      return cc:status(name)
    end)
    assert.equal("pg-cdc", values[1].name)
    assert.is_nil(errs[1])
    assert.is_nil(values[2])
    assert.equal("not_found", errs[2].kind)
    assert.is_nil(values[3])
    assert.equal("boom raised", errs[3])
    assert.equal("orders-sink", values[4].name)
    cc:close()
  end)

  it("never has more than `parallel` calls in flight", function()
    local cc = client()
    delayed("slow", 20, 0.2)
    local values = cs.map(helpers.repeated("slow", 20), function(name) return cc:status(name) end, { parallel = 8 })
    assert.equal(20, #values)
    assert.equal(8, most_in_flight(PREFIX .. "/slow/status"))
    cc:close()
  end)

  it("inside a task runs on that task's loop, and the task waits for it", function()
    local cc = client()
    delayed("slow", 10, 0.2)
    local loop = cs.loop()
    local other_reads = 0
    local mapper = loop:spawn(function()
      local values = cs.map(helpers.repeated("slow", 10), function(name) return cc:status(name) end, { parallel = 10 })
      return #values
    end)
    local other = loop:spawn(function()
      while not mapper:done() do
        assert(cc:status("pg-cdc"))
        other_reads = other_reads + 1
        cs.sleep(0.01)
      end
    end)
    loop:run()
    assert.same({ n = 0 }, { n = select("#", other:result()), other:result() })
    assert.equal(10, (mapper:result()))
    assert.is_true(most_in_flight(PREFIX .. "/slow/status") >= 10)
    assert.is_true(other_reads > 1, "the other task was held up by the map: " .. other_reads)
    cc:close()
  end)

  it("shares one client's rate-limit pacing across its tasks", function()
    local limited = helpers.start_fake { rate_limit = { limit = 5, window = 1 } }
    local cc = cs.confluent { token = "tok", environment = "env-demo", cluster = "lkc-demo", base_url = limited.url,
      retry = { attempts = 1 } }
    assert(cc:status("pg-cdc")) -- learns the limit: 4 left in this window
    local _, errs = cs.map(helpers.repeated("pg-cdc", 8), function(name) return cc:status(name) end, { parallel = 8 })
    for i = 1, 8 do assert.is_nil(errs[i], tostring(errs[i])) end
    local statuses = {}
    for _, r in ipairs(limited:requests()) do statuses[#statuses + 1] = r.target end
    assert.equal(9, #statuses)
    cc:close()
    limited:stop()
  end)

  it("raises at once on wrong arguments", function()
    assert.has_error(function() cs.map("x", print) end, "map expects a list, got string")
    assert.has_error(function() cs.map({}, 42) end, "map expects a function, got number")
    assert.has_error(function() cs.map({}, print, { parallel = 0 }) end,
      "option 'parallel' must be a whole number of at least 1")
    assert.has_error(function() cs.loop { max_per_hots = 3 } end,
      "unknown option 'max_per_hots' for cs.loop (did you mean 'max_per_host'?)")
    assert.has_error(function() cs.loop():step(-1) end)
  end)
end)

describe("the core multi", function()
  setup(function() fake = helpers.start_fake() end)
  teardown(function() fake:stop() end)

  it("refuses a transfer it already runs, and still hands that transfer back when it is done", function()
    local core = require "connectstatus.core"
    local multi, c = core.new_multi(4), core.new_client { base_url = fake.url }
    local t = c:transfer()
    t:start("GET", PREFIX .. "/pg-cdc/status", nil, 5)
    multi:add(t)
    assert.has_error(function() multi:add(t) end, "transfer already in the loop")
    local finished, left = {}, 1
    local deadline = socket.gettime() + 5
    while #finished == 0 and socket.gettime() < deadline do finished, left = multi:poll(0.1) end
    assert.equal(t, finished[1])
    assert.equal(0, left)
    assert.equal(200, t:response().status)
    multi:close()
    c:close()
  end)
end)
