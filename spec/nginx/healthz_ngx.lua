-- examples/openresty_healthz.lua in a real nginx against the fake API, configured through `env` as its
-- nginx.conf (examples/openresty_healthz.conf) shows.
local helpers = require "helpers"
local nginx = require "nginx_helpers"
local core = require "connectstatus.core"

describe("examples/openresty_healthz.lua", function()
  local fake, server

  lazy_setup(function()
    fake = helpers.start_fake { api_key = "hz-key", api_secret = "hz-secret" }
    local env = { CONFLUENT_CLOUD_API_KEY = "hz-key", CONFLUENT_CLOUD_API_SECRET = "hz-secret",
      CONFLUENT_ENVIRONMENT_ID = "env-demo", CONFLUENT_KAFKA_CLUSTER_ID = "lkc-demo",
      CONNECTSTATUS_BASE_URL = fake.url }
    local main = {}
    for name, value in pairs(env) do main[#main + 1] = ("env %s=%s;"):format(name, value) end
    server = nginx.start {
      lua_dir = "examples",
      main = table.concat(main, "\n"),
      server = [[location = /healthz { content_by_lua_block { require("openresty_healthz").serve() } }]],
    }
  end)

  lazy_teardown(function()
    if server then server.stop() end
    if fake then fake:stop() end
  end)

  it("reports the fleet's health, 503 while a connector has failed", function()
    local status, body = nginx.request(server, "/healthz")
    assert.equal(503, status, body)
    local summary = assert(core.json_decode(body))
    assert.equal(4, summary.total)
    assert.same({ healthy = 1, degraded = 1, failed = 1, pending = 1 }, summary.health)
    assert.equal("datagen-orders", summary.unhealthy[1].name)
    assert.equal("/connect/v1/environments/env-demo/clusters/lkc-demo/connectors?expand=status",
      fake:requests()[1].target)
  end)

  it("200 once none has failed", function()
    fake:set { connector = "s3-archive", states = { "RUNNING" } }
    fake:set { connector = "datagen-orders", states = { "RUNNING" } }
    local status, body = nginx.request(server, "/healthz")
    assert.equal(200, status, body)
    assert.equal(0, assert(core.json_decode(body)).health.failed)
  end)

  it("503 with the error, never the credentials, when the API refuses them", function()
    fake:script { responses = { { status = 401, json = { error = { code = 401, message = "Unauthorized" } } } } }
    local status, body = nginx.request(server, "/healthz")
    assert.equal(503, status)
    local answer = assert(core.json_decode(body))
    assert.equal("unauthorized", answer.kind)
    assert.matches("HTTP 401: Unauthorized", answer.error, 1, true)
    assert.is_nil(body:find("hz-secret", 1, true))
    assert.is_nil(body:find(helpers.base64("hz-key:hz-secret"), 1, true))
  end)
end)
