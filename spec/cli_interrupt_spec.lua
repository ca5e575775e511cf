-- Ctrl-C in the CLI (issues 12 and 15): a SIGINT during a wait's sleep or during a transfer ends
-- the command at once, with the progress line ended, one line on stderr and exit status 130.
local helpers = require "helpers"
local cli_run = require "cli_run"

local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"

describe("the CLI on Ctrl-C", function()
  local fake, env
  setup(function()
    fake = helpers.start_fake()
    env = { CONNECTSTATUS_BASE_URL = fake.url, CONFLUENT_ENVIRONMENT_ID = "env-demo",
      CONFLUENT_KAFKA_CLUSTER_ID = "lkc-demo", CONFLUENT_CLOUD_API_KEY = "k", CONFLUENT_CLOUD_API_SECRET = "s" }
  end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  -- The command in the background, SIGINT after 0.5 s. Were it ignored, the wait would end at its
  -- own 5 s timeout (exit 3) and the read after the fake's 5 s delay (exit 0).
  local function interrupted(args)
    return cli_run.run(args, env, " & pid=$!; sleep 0.5; kill -INT $pid; wait $pid")
  end

  it("exits 130 with one line during a wait's sleep", function()
    local code, out, err = interrupted("wait pg-cdc --state PAUSED --interval 30 --timeout 5 --no-progress")
    assert.equal(130, code, err)
    assert.equal("", out)
    assert.equal("connectstatus: interrupted\n", err:match("[^\n]*\n$"))
    assert.is_nil(err:find("traceback", 1, true), err)
  end)

  it("exits 130 with one line during a transfer the server holds back", function()
    fake:script { method = "GET", path = PREFIX .. "/pg-cdc/status", responses = { { status = 200, delay = 5,
      json = { name = "pg-cdc", connector = { state = "RUNNING" }, tasks = {} } } } }
    local code, out, err = interrupted("status pg-cdc")
    assert.equal(130, code, err)
    assert.equal("", out)
    assert.equal("connectstatus: interrupted\n", err:match("[^\n]*\n$"))
    assert.is_nil(err:find("traceback", 1, true), err)
  end)
end)
