-- bin/connectstatus as a subprocess of the interpreter under test, against the fake API: exit codes,
-- --json with exact integers, progress lines, help, and no secret in any output.
local cs = require "connectstatus"
local cli = require "connectstatus.cli"
local helpers = require "helpers"
local cli_run = require "cli_run"

-- 2^53 + 1 survives only where Lua has 64-bit integers (5.3+); LuaJIT's numbers are doubles.
local HAS_INTEGERS = math.type ~= nil
local KEY, SECRET = "CLIKEY0123456789", "cli-s3cr3t/+=:never-print-me"

local quote, run = cli_run.quote, cli_run.run

local function lines_matching(text, pattern)
  local n = 0
  for line in text:gmatch("[^\n]+") do
    if line:find(pattern) then n = n + 1 end
  end
  return n
end

describe("connectstatus CLI", function()
  local fake, env

  setup(function()
    fake = helpers.start_fake()
    env = {
      CONNECTSTATUS_BASE_URL = fake.url, FELDERA_HOST = fake.url, CONFLUENT_CLOUD_API_KEY = KEY,
      CONFLUENT_CLOUD_API_SECRET = SECRET, CONFLUENT_ENVIRONMENT_ID = "env-demo",
      CONFLUENT_KAFKA_CLUSTER_ID = "lkc-demo",
    }
  end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  describe("help and usage", function()
    it("prints the tool's help with --help, -h and help", function()
      for _, args in ipairs { "--help", "-h", "help" } do
        local code, out = run(args)
        assert.equal(0, code)
        assert.equal(cli.HELP, out)
      end
    end)

    it("prints each command's help", function()
      for _, command in ipairs { "status", "tasks", "list", "offsets-status", "feldera-stats", "wait", "wait-offsets",
        "wait-input", "health" } do
        local code, out = run(command .. " --help")
        assert.equal(0, code)
        assert.matches("Usage: connectstatus " .. command:gsub("%-", "%%-"), out)
        local code2, out2 = run("help " .. command)
        assert.equal(0, code2)
        assert.equal(out, out2)
      end
    end)

    it("exits 2 on usage errors, saying why on stderr", function()
      local cases = {
        { "", "a command is needed" },
        { "frobnicate", "unknown command frobnicate" },
        { "status", "status takes NAME" },
        { "wait-offsets a b", "wait%-offsets takes NAME" },
        { "status x --bogus", "unknown flag %-%-bogus" },
        { "status x --state RUNNING", "unknown flag %-%-state" },
        { "wait x --timeout soon", "%-%-timeout must be" },
        { "wait x --interval 0", "%-%-interval must be a positive" },
        { "wait x --timeout", "needs a value" },
        { "status x --json=yes", "takes no value" },
        { "list --expand everything", "%-%-expand takes id, info and status" },
        { "wait-offsets x --since yesterday", "%-%-since must be" },
        { "help nothing", "unknown command nothing" },
      }
      for _, case in ipairs(cases) do
        local code, out, err = run(case[1], env)
        assert.equal(2, code, case[1])
        assert.equal("", out, case[1])
        assert.is_truthy(err:find(case[2]), case[1] .. " said: " .. err)
      end
    end)

    it("exits 2 when settings are missing or unsafe", function()
      local code, _, err = run("status x",
        { CONFLUENT_ENVIRONMENT_ID = "env-demo", CONFLUENT_KAFKA_CLUSTER_ID = "lkc-demo" })
      assert.equal(2, code)
      assert.matches("missing credentials", err, 1, true)
      code, _, err = run("status x --environment env-demo", { CONFLUENT_CLOUD_API_KEY = KEY,
        CONFLUENT_CLOUD_API_SECRET = SECRET })
      assert.equal(2, code)
      assert.matches("missing cluster", err, 1, true)
      code, _, err = run("feldera-stats p t c")
      assert.equal(2, code)
      assert.matches("FELDERA_HOST", err, 1, true)
      code, _, err = run("status x --base-url http://example.com", env)
      assert.equal(2, code)
      assert.matches("plain http", err, 1, true)
    end)
  end)

  describe("reads", function()
    it("status prints a table with the tasks", function()
      local code, out = run("status datagen-orders", env)
      assert.equal(0, code)
      assert.matches("datagen%-orders%s+source%s+RUNNING%s+datagen%-orders%s+degraded", out)
      assert.matches("\n1%s+FAILED%s+datagen%-orders%s+Task failed: RecordTooLargeException", out)
      assert.matches("task 1 trace:\norg.apache.kafka.connect.errors.ConnectException", out)
    end)

    it("status --json prints the body with integer task ids", function()
      local code, out = run("status datagen-orders --json", env)
      assert.equal(0, code)
      assert.matches('"id":0', out, 1, true)
      assert.matches('"id":1', out, 1, true)
      local body = assert(cs.json.decode(out))
      assert.equal("FAILED", body.tasks[2].state)
    end)

    it("tasks, list, offsets-status and feldera-stats work", function()
      local code, out = run("tasks orders-sink", env)
      assert.equal(0, code)
      assert.matches("TASK%s+CONNECTOR%s+CONFIG_KEYS", out)
      code, out = run("list --names", env)
      assert.equal(0, code)
      assert.equal("datagen-orders\norders-sink\npg-cdc\ns3-archive\n", out)
      code, out = run("list", env)
      assert.equal(0, code)
      assert.matches("^NAME%s+TYPE%s+STATE%s+TASKS\n", out)
      assert.matches("\ndatagen%-orders%s+source%s+RUNNING%s+1/2\n", out)
      assert.matches("\ns3%-archive%s+sink%s+FAILED%s+0/0\n", out)
      code, out = run("list --expand id --expand=status", env)
      assert.equal(0, code)
      assert.matches("s3%-archive%s+lcc%-demo2s3ar%s+%-%s+%-%s+FAILED%s+failed", out)
      code, out = run("offsets-status pg-cdc", env)
      assert.equal(0, code)
      assert.matches("pg%-cdc%s+PATCH%s+PENDING%s+2024%-02%-20T15:14:19Z", out)
      code, out = run("feldera-stats demo-pipeline orders backfill", env)
      assert.equal(0, code)
      assert.matches("total_records%s+9007199254700001\n", out)
    end)

    it("feldera-stats --json keeps 64-bit counters exact", function()
      local code, out = run("feldera-stats demo-pipeline orders backfill --json", env)
      assert.equal(0, code)
      assert.matches('"total_records":9007199254700001', out, 1, true)
    end)

    it("exits 4 on API errors, with the error on stderr and as JSON with --json", function()
      local code, out, err = run("status nope", env)
      assert.equal(4, code)
      assert.equal("", out)
      assert.matches("not_found", err, 1, true)
      code, out = run("status nope --json", env)
      assert.equal(4, code)
      local body = assert(cs.json.decode(out))
      assert.equal("not_found", body.error.kind)
      assert.equal(404, body.error.status)
    end)
  end)

  describe("waits", function()
    it("wait prints one line per change in a pipe and exits 0", function()
      local code, out, err = run("wait orders-sink --interval 0.05", env)
      assert.equal(0, code)
      assert.equal(1, lines_matching(err, "orders%-sink  PROVISIONING  tasks %[%]"))
      assert.equal(1, lines_matching(err, "orders%-sink  RUNNING  tasks %[0:RUNNING%]"))
      assert.matches("orders%-sink%s+sink%s+RUNNING", out)
    end)

    it("wait --progress draws a live line", function()
      local code, _, err = run("wait orders-sink --interval 0.05 --progress", env)
      assert.equal(0, code)
      assert.matches("\r\27[K", err, 1, true)
      local _, _, quiet = run("wait orders-sink --interval 0.05 --no-progress", env)
      assert.is_nil(quiet:find("\r", 1, true))
    end)

    it("wait exits 1 on a FAILED connector, with its trace", function()
      local code, out, err = run("wait s3-archive", env)
      assert.equal(1, code)
      assert.matches("failed: connector s3-archive is FAILED: topics: Provided Kafka ApiKey is invalid", err, 1, true)
      assert.matches("last seen:", out, 1, true)
      assert.matches("kafka.api.secret: Provided Kafka ApiKey is invalid", out, 1, true)
    end)

    it("wait exits 1 on a FAILED task, and 0 with --no-tasks", function()
      local code, _, err = run("wait datagen-orders", env)
      assert.equal(1, code)
      assert.matches("task 1 is FAILED", err, 1, true)
      code = run("wait datagen-orders --no-tasks", env)
      assert.equal(0, code)
    end)

    it("wait exits 3 on timeout and --json gives the last status", function()
      local code, out = run("wait pg-cdc --state PAUSED --timeout 0.3 --interval 0.1 --json", env)
      assert.equal(3, code)
      local body = assert(cs.json.decode(out))
      assert.equal("timeout", body.error.kind)
      assert.equal("RUNNING", body.last.connector.state)
    end)

    it("wait --allow-missing keeps waiting for a connector that does not exist", function()
      local code, _, err = run("wait not-yet --allow-missing --timeout 0.2 --interval 0.05", env)
      assert.equal(3, code)
      assert.matches("read failed (not_found)", err, 1, true)
      assert.equal(4, (run("wait not-yet", env)))
    end)

    it("wait-offsets exits 0 on APPLIED and 1 on FAILED", function()
      local code, out, err = run("wait-offsets pg-cdc --interval 0.05 --since 2024-02-20T15:14:00Z", env)
      assert.equal(0, code)
      assert.equal(1, lines_matching(err, "offsets PENDING_VALIDATION"))
      assert.matches("APPLIED%s+2024%-02%-20T15:14:19Z%s+2024%-02%-20T15:14:20%+0000", out)
      fake:set { connector = "pg-cdc", offsets = { {
        request = { name = "pg-cdc", requested_at = "2024-02-20T15:14:19Z" },
        status = { phase = "FAILED", message = "offset out of range" } } } }
      local failed_code, _, failed_err = run("wait-offsets pg-cdc --interval 0.05", env)
      assert.equal(1, failed_code)
      assert.matches("offset out of range", failed_err, 1, true)
    end)

    it("wait-input --json prints the final stats with exact integers", function()
      local code, out = run("wait-input demo-pipeline orders backfill --interval 0.05 --json", env)
      assert.equal(0, code)
      if HAS_INTEGERS then assert.matches('"total_records":9007199254740993', out, 1, true) end
      assert.matches('"buffered_records":0', out, 1, true)
      assert.matches('"end_of_input":true', out, 1, true)
    end)
  end)

  describe("health", function()
    it("exits 1 with a failed or degraded connector and lists them", function()
      local code, out = run("health", env)
      assert.equal(1, code)
      assert.matches("4 connectors: 1 healthy, 1 degraded, 1 failed, 1 pending", out, 1, true)
      assert.matches("datagen%-orders%s+degraded%s+task 1 FAILED: Task failed: RecordTooLargeException", out)
      assert.matches("s3%-archive%s+failed%s+connector FAILED: topics: Provided Kafka ApiKey is invalid", out)
      code, out = run("health --json", env)
      assert.equal(1, code)
      local summary = assert(cs.json.decode(out))
      assert.equal(4, summary.total)
      assert.equal(1, summary.health.failed)
    end)

    it("exits 0 when nothing is failed or degraded", function()
      local empty = helpers.start_fake { scenario = "empty" }
      finally(function() empty:stop() end)
      empty:set { connector = "ok-1",
        states = { { connector = { state = "RUNNING" }, tasks = { { id = 0, state = "RUNNING" } } } } }
      empty:set { connector = "new-1", states = { "PROVISIONING" } }
      local e = {}
      for k, v in pairs(env) do e[k] = v end
      e.CONNECTSTATUS_BASE_URL = empty.url
      local code, out = run("health", e)
      assert.equal(0, code)
      assert.matches("2 connectors: 1 healthy, 0 degraded, 0 failed, 1 pending", out, 1, true)
    end)
  end)

  describe("secrets", function()
    local guarded

    setup(function() guarded = helpers.start_fake { api_key = KEY, api_secret = SECRET } end)
    teardown(function() guarded:stop() end)

    local function env_for(secret)
      local e = {}
      for k, v in pairs(env) do e[k] = v end
      e.CONNECTSTATUS_BASE_URL = guarded.url
      e.CONFLUENT_CLOUD_API_SECRET = secret
      e.FELDERA_API_KEY = secret
      return e
    end

    local function assert_never_printed(secret, code, out, err)
      local encoded = helpers.base64(KEY .. ":" .. secret)
      for _, text in ipairs { out, err } do
        assert.is_nil(text:find(secret, 1, true), "secret in output")
        assert.is_nil(text:find(encoded, 1, true), "encoded secret in output")
      end
      return code
    end

    it("never prints the secret, right or wrong, in any output", function()
      local wrong = "wrong-s3cr3t/+=:also-never-printed"
      local commands = { "status orders-sink", "status orders-sink --json", "wait orders-sink --interval 0.05",
        "health --json", "list --expand status", "feldera-stats demo-pipeline orders backfill --json", "--help",
        "status --help", "status", "wait x --timeout soon" }
      for _, command in ipairs(commands) do
        assert_never_printed(SECRET, run(command, env_for(SECRET)))
        assert_never_printed(wrong, run(command, env_for(wrong)))
      end
    end)

    it("accepts the right secret and exits 4 on a wrong one (401)", function()
      assert.equal(0, (run("status pg-cdc", env_for(SECRET))))
      local wrong = "wrong-s3cr3t/+=:also-never-printed"
      local code, out, err = run("status pg-cdc --json", env_for(wrong))
      assert.equal(4, assert_never_printed(wrong, code, out, err))
      assert.matches("unauthorized", err, 1, true)
      code, out, err = run("wait pg-cdc --interval 0.05", env_for(wrong))
      assert.equal(4, assert_never_printed(wrong, code, out, err))
    end)

    it("never prints a secret given as a flag", function()
      local e = env_for(SECRET)
      e.CONFLUENT_CLOUD_API_SECRET = nil
      assert.equal(2, assert_never_printed(SECRET, run("status pg-cdc --api-secrt=" .. quote(SECRET), e)))
      local code, out, err = run("status pg-cdc --api-secret " .. quote(SECRET), e)
      assert.equal(0, assert_never_printed(SECRET, code, out, err))
      code, out, err = run("status pg-cdc --api-secret wrong-flag-secret", e)
      assert.equal(4, assert_never_printed("wrong-flag-secret", code, out, err))
    end)
  end)
end)
