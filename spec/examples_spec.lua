-- Every example runs against the fake API and exits with the expected status and key output. Run
-- without CONNECTSTATUS_BASE_URL, each starts the bundled fake itself (and polls it fast); the demo
-- starts and stops its own fake and runs the runbook.
local helpers = require "helpers"

-- 2^53 + 1 survives only where Lua has 64-bit integers (5.3+); LuaJIT's numbers are doubles.
local BIG = math.type and "9007199254740993" or "9007199254740992"

-- extra: more variables for the command, e.g. a proxy the examples must not be thrown by.
local function run(script, args, extra)
  local out, code = helpers.shell(helpers.env_cmd() .. "env -u CONNECTSTATUS_BASE_URL -u FELDERA_HOST " ..
    (extra or "") .. helpers.lua_bin() .. " " .. script .. " " .. (args or "") .. " 2>&1")
  return code, out
end

local function assert_says(out, lines)
  for _, want in ipairs(lines) do assert.matches(want, out, 1, true) end
end

describe("examples", function()
  it("wait_running.lua waits for orders-sink", function()
    local code, out = run("examples/wait_running.lua")
    assert.equal(0, code, out)
    assert.matches("PROVISIONING", out, 1, true)
    assert.matches("orders-sink is RUNNING with 1 task(s)", out, 1, true)
  end)

  it("wait_running.lua exits 1 with the trace of a FAILED connector", function()
    local code, out = run("examples/wait_running.lua", "s3-archive")
    assert.equal(1, code, out)
    assert.matches("Provided Kafka ApiKey is invalid", out, 1, true)
  end)

  it("wait_offsets.lua waits for APPLIED", function()
    local code, out = run("examples/wait_offsets.lua", "pg-cdc 2024-02-20T15:14:00Z")
    assert.equal(0, code, out)
    assert.matches("PENDING_VALIDATION", out, 1, true)
    assert.matches("offsets of pg-cdc APPLIED at 2024-02-20T15:14:20+0000", out, 1, true)
  end)

  it("fleet_report.lua lists the unhealthy connectors", function()
    local code, out = run("examples/fleet_report.lua")
    assert.equal(0, code, out)
    assert.matches("4 connectors: 1 healthy, 1 degraded, 1 failed, 1 pending", out, 1, true)
    assert.matches("datagen%-orders%s+degraded%s+task 1 FAILED", out)
    assert.matches("(the bundled fake API)", out, 1, true)
  end)

  it("frame_loop.lua fills its board over many frames, never blocking one", function()
    local code, out = run("examples/frame_loop.lua")
    assert.equal(0, code, out)
    local frames = tonumber(out:match("frame_loop: (%d+) frames"))
    assert.is_true(frames > 1, out)
    assert.matches("datagen%-orders=degraded", out)
    assert.matches("orders%-sink=%a+", out)
    assert.matches("s3%-archive=failed", out)
  end)

  it("feldera_backfill.lua waits for the end of input, counting exactly", function()
    local code, out = run("examples/feldera_backfill.lua")
    assert.equal(0, code, out)
    assert.matches("demo-pipeline.orders.backfill is done: " .. BIG .. " records", out, 1, true)
  end)

  it("act_then_wait.lua pauses, resumes and rewinds offsets, waiting for each outcome", function()
    local code, out = run("examples/act_then_wait.lua")
    assert.equal(0, code, out)
    assert_says(out, {
      "(the bundled fake API)",
      "orders-sink is PAUSED; task 0 is PAUSED",
      "orders-sink is RUNNING; task 0 is RUNNING",
      "orders/0: 1042 -> 942",
      "PENDING_VALIDATION (requested at ",
      "orders/0 is now at 942",
      "act_then_wait done",
    })
    local requested = out:match("PENDING %(requested at (%S+)%)")
    assert.equal(requested, out:match("request made at (%S+) was APPLIED"))
  end)

  it("act_then_wait.lua exits 1 when a task is FAILED", function()
    local code, out = run("examples/act_then_wait.lua", "datagen-orders")
    assert.equal(1, code, out)
    assert.matches("task 1 is FAILED", out, 1, true)
  end)

  it("kafka_connect_restart.lua restarts what failed and waits: degraded, then healthy", function()
    local code, out = run("examples/kafka_connect_restart.lua")
    assert.equal(0, code, out)
    assert.matches("inventory-source: degraded (task 1 FAILED: org.apache.kafka.common.errors.RecordTooLargeException",
      out, 1, true)
    assert.matches("connector RUNNING, tasks: 0 RUNNING, 1 RESTARTING", out, 1, true)
    assert.matches("inventory%-source: healthy\n$", out)
  end)

  it("kafka_connect_restart.lua exits 1 when the restarted task fails again", function()
    local fake = helpers.start_fake()
    fake:set { kafka_connect = { connector = "inventory-source", restart_fails = true } }
    local out, code = helpers.shell(helpers.env_cmd() .. "env CONNECT_URL=" .. fake.url ..
      " CONNECT_WAIT_INTERVAL=0.01 " .. helpers.lua_bin() .. " examples/kafka_connect_restart.lua 2>&1")
    fake:stop()
    assert.equal(1, code, out)
    assert.matches("failed: connector inventory-source task 1 is FAILED", out, 1, true)
  end)

  it("tools/demo.lua runs the runbook and every scene against its own fake and stops it", function()
    -- With the environment's proxies set (to a port where nothing listens): loopback is never proxied.
    local dead = "http://127.0.0.1:" .. helpers.free_port()
    local proxies = ("http_proxy=%s https_proxy=%s ALL_PROXY=%s "):format(dead, dead, dead)
    local code, out = run("tools/demo.lua", nil, proxies)
    assert.equal(0, code, out)
    assert_says(out, {
      "orders-sink is RUNNING; task 0 is RUNNING",
      "failed: connector s3-archive is FAILED",
      "the wait says: task 1 failed: org.apache.kafka.common.errors.RecordTooLargeException",
      "applied at 2024-02-20T15:14:20+0000",
      "total_records = " .. BIG .. ",",
      "runbook done",
      "orders-sink is PAUSED; task 0 is PAUSED",
      "orders/0 is now at 942",
      "act_then_wait done",
      "inventory-source: degraded (task 1 FAILED",
      "inventory-source: healthy",
      "demo: the examples exited with 0; fake API stopped",
    })
  end)
end)
