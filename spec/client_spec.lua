-- The five endpoints against the loopback fake API over real libcurl: shapes from the official
-- OpenAPI examples, exact integers, nulls, encoded paths, headers and client lifecycle.
local cs = require "connectstatus"
local cjson = require "cjson"
local helpers = require "helpers"

local ENV, CLUSTER = "env-demo", "lkc-demo"
local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"
local KEY, SECRET = "CKEYDEMO12345678", "s3cr3t:with:colons+/="

local without_nulls = helpers.without_nulls

describe("confluent endpoints", function()
  local fake, cc

  setup(function()
    fake = helpers.start_fake()
    cc = cs.confluent {
      api_key = KEY, api_secret = SECRET, environment = ENV, cluster = CLUSTER, base_url = fake.url,
      timeout = 5, retry = { attempts = 1 },
    }
  end)

  teardown(function()
    cc:close()
    fake:stop()
  end)

  before_each(function() fake:reset() end)

  local function serve_fixture(path, name)
    local text = helpers.fixture(name)
    fake:script { method = "GET", path = path, responses = { { status = 200, body = text } } }
    return without_nulls(cjson.decode(text))
  end

  it("status returns the documented shape", function()
    local want = serve_fixture(PREFIX .. "/MyGcsLogsBucketConnector/status", "confluent_status.json")
    local got = assert(cc:status("MyGcsLogsBucketConnector"))
    assert.same(want, got)
    assert.equal("PROVISIONING", got.connector.state)
    assert.same({}, got.tasks)
  end)

  it("tasks returns the documented array with integer task ids", function()
    local want = serve_fixture(PREFIX .. "/MyGcsLogsBucketConnector/tasks", "confluent_tasks.json")
    local got = assert(cc:tasks("MyGcsLogsBucketConnector"))
    assert.same(want, got)
    if math.type then assert.equal("integer", math.type(got[1].id.task)) end
  end)

  it("list returns the connector names", function()
    local want = serve_fixture(PREFIX, "confluent_list.json")
    assert.same(want, assert(cc:list()))
  end)

  it("list with expansions asks for them in one query and returns the map", function()
    local want = serve_fixture(PREFIX .. "?expand=id,info,status", "confluent_list_expanded.json")
    local got = assert(cc:list { expand = { "id", "info", "status" } })
    assert.same(want, got)
    assert.equal("FAILED", got.MyS3BucketConnector.status.connector.state)
    local datagen = got.MyDatagenConnector.status.tasks[1]
    assert.equal(0, datagen.id)
    if math.type then assert.equal("integer", math.type(datagen.id)) end
  end)

  it("offset request status: a pending request has no applied_at", function()
    local want = serve_fixture(PREFIX .. "/MySinkConnector/offsets/request/status", "confluent_offsets_pending.json")
    local got = assert(cc:offset_request_status("MySinkConnector"))
    assert.same(want, got)
    assert.is_nil(got.applied_at)
    assert.equal("PENDING", got.status.phase)
    assert.equal(1000, got.request.offsets[1].offset.kafka_offset)
  end)

  it("offset request status: an applied request keeps its integers exact", function()
    local want = serve_fixture(PREFIX .. "/MySourceConnector/offsets/request/status", "confluent_offsets_applied.json")
    local got = assert(cc:offset_request_status("MySourceConnector"))
    assert.same(want, got)
    assert.equal("2024-02-20T15:14:20+0000", got.applied_at)
    assert.equal(1699000000000, got.request.offsets[1].offset.timestamp)
  end)

  it("serves the demo model without scripting", function()
    local status = assert(cc:status("datagen-orders"))
    assert.equal("RUNNING", status.connector.state)
    assert.equal("FAILED", status.tasks[2].state)
    local names = assert(cc:list())
    assert.truthy(#names >= 4)
  end)

  it("keeps integers beyond 2^53 exact and array nulls as cs.null", function()
    local body = '{"connector":{"state":"RUNNING"},"tasks":[],"big":9007199254740993,"zero":0,' ..
        '"gone":null,"list":[1,null,3]}'
    fake:script { method = "GET", path = PREFIX .. "/big/status", responses = { { status = 200, body = body } } }
    local got = assert(cc:status("big"))
    if math.type then
      assert.equal("integer", math.type(got.big))
      assert.equal("9007199254740993", tostring(got.big))
      assert.equal("0", tostring(got.zero))
    end
    assert.is_nil(got.gone)
    assert.equal(cs.null, got.list[2])
    assert.equal(cjson.null, got.list[2])
    assert.equal(3, #got.list)
  end)

  it("percent-encodes every byte outside the unreserved set in path segments", function()
    local name = "a/b?c#d %e \195\169~x.y_z-0"
    local encoded = "a%2Fb%3Fc%23d%20%25e%20%C3%A9~x.y_z-0"
    fake:script { method = "GET", path = PREFIX .. "/" .. encoded .. "/status",
      responses = { { status = 200, body = '{"name":"odd","connector":{"state":"RUNNING"},"tasks":[]}' } } }
    assert(cc:status(name))
    local reqs = fake:requests()
    assert.equal(PREFIX .. "/" .. encoded .. "/status", reqs[#reqs].target)
  end)

  it("sends Accept, User-Agent and Basic auth on every request", function()
    assert(cc:status("orders-sink"))
    local h = fake:requests()[1].headers
    assert.equal("application/json", h["accept"])
    assert.equal("connectstatus/" .. cs.version .. " libcurl/" .. require("connectstatus.core").curl_version,
      h["user-agent"])
    assert.equal("Basic " .. helpers.base64(KEY .. ":" .. SECRET), h["authorization"])
    assert.is_nil(h["accept-encoding"])
  end)

  it("reuses one connection across requests", function()
    assert(cc:status("orders-sink"))
    assert(cc:status("orders-sink"))
    local reqs = fake:requests()
    assert.equal(reqs[1].connection, reqs[2].connection)
  end)
end)

describe("feldera input stats", function()
  local fake

  setup(function() fake = helpers.start_fake() end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  it("returns the documented shape with Bearer auth and the tenant header", function()
    local fd = cs.feldera { base_url = fake.url, api_key = "apikey:0123456789abcdef", tenant = "acme",
      retry = { attempts = 1 } }
    local path = "/v0/pipelines/p1/tables/orders/connectors/kafka%20in/stats"
    local text = helpers.fixture("feldera_input_stats.json")
    fake:script { method = "GET", path = path, responses = { { status = 200, body = text } } }
    local got = assert(fd:input_stats("p1", "orders", "kafka in"))
    assert.same(without_nulls(cjson.decode(text)), got)
    local h = fake:requests()[1].headers
    assert.equal("Bearer apikey:0123456789abcdef", h["authorization"])
    assert.equal("acme", h["feldera-tenant"])
    fd:close()
  end)

  it("keeps u64 counters exact from the demo pipeline", function()
    local fd = cs.feldera { base_url = fake.url, retry = { attempts = 1 } }
    local last
    for _ = 1, 6 do last = assert(fd:input_stats("demo-pipeline", "orders", "backfill")) end
    assert.is_true(last.metrics.end_of_input)
    if math.type then assert.equal("integer", math.type(last.metrics.total_records)) end
    assert.is_nil(fake:requests()[1].headers["authorization"])
    fd:close()
  end)
end)

describe("client objects", function()
  it("close is idempotent, tostring says closed, and a closed client raises", function()
    local cc = cs.confluent { token = "tok", environment = "e", cluster = "c", base_url = "http://127.0.0.1:9" }
    assert.matches("^connectstatus.Confluent e/c$", tostring(cc))
    cc:close()
    cc:close()
    assert.matches("%(closed%)$", tostring(cc))
    assert.has_error(function() cc:status("x") end, "attempt to use a closed connectstatus client")
    -- At the caller's line, through a wait and inside a loop task too.
    local function raised(fn)
      local ok, err = pcall(fn)
      assert.is_false(ok)
      return err
    end
    assert.matches("^spec/client_spec%.lua:%d+: attempt to use a closed",
      raised(function() cc:status("x") end))
    assert.matches("^spec/client_spec%.lua:%d+: attempt to use a closed",
      raised(function() cs.wait_for_state(cc, "x", "RUNNING") end))
    local loop = cs.loop()
    local task = loop:spawn(function() cc:status("x") end)
    loop:run()
    assert.matches("^spec/client_spec%.lua:%d+: attempt to use a closed", select(2, task:result()))
  end)

  it("close releases the kept-alive connection (and the credentials with it) at once", function()
    -- The server answers one connection at a time: the second client gets its answer only once the
    -- first client's connection is gone. Both stay referenced, so no collection closes anything.
    local server = helpers.start_server [[function(c)
      c:send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    end]]
    local clients = {}
    for i, token in ipairs { "first", "second" } do
      clients[i] = cs.confluent { token = token, environment = "e", cluster = "c", base_url = server.url,
        timeout = 2, retry = { attempts = 1 } }
      assert(clients[i]:status("x"))
      clients[i]:close()
    end
    server.stop()
  end)

  it("the core client follows liolib: __gc and __close share close, __tostring says closed", function()
    local core = require "connectstatus.core"
    local c = core.new_client { base_url = "http://127.0.0.1:9" }
    assert.matches("^connectstatus.Client %(", tostring(c))
    c:close()
    assert.equal("connectstatus.Client (closed)", tostring(c))
    assert.equal("private", getmetatable(c))
    collectgarbage()
  end)

  it("rejects wrong arguments at once, before anything is sent", function()
    local base = { api_key = "k", api_secret = "s", environment = "e", cluster = "c",
      base_url = "http://127.0.0.1:9" }
    local function with(over)
      local o = {}
      for k, v in pairs(base) do o[k] = v end
      for k, v in pairs(over) do o[k] = v end
      return o
    end
    assert.has_error(function() cs.confluent("x") end)
    assert.has_error(function() cs.confluent(with { environment = false }) end)
    assert.has_error(function() cs.confluent(with { cluster = "" }) end)
    assert.has_error(function() cs.confluent(with { api_secret = 5 }) end)
    assert.has_error(function() cs.confluent(with { api_key = false, api_secret = false }) end)
    assert.has_error(function() cs.confluent(with { timeout = "10" }) end)
    assert.has_error(function() cs.confluent(with { timeout = 0 }) end)
    assert.has_error(function() cs.confluent(with { retry = { attempts = 0 } }) end)
    assert.has_error(function() cs.confluent(with { base_url = "file:///etc/passwd" }) end)
    assert.has_error(function() cs.confluent(with { base_url = "ftp://127.0.0.1/" }) end)
    assert.has_error(function() cs.feldera {} end)
    local cc = cs.confluent(base)
    for _, bad in ipairs { "", ".", "..", "a\nb", "tab\there", 42, false } do
      assert.has_error(function() cc:status(bad) end)
      assert.has_error(function() cc:tasks(bad) end)
      assert.has_error(function() cc:offset_request_status(bad) end)
    end
    assert.has_error(function() cc:list { expand = { "everything" } } end)
    assert.has_error(function() cc:list "status" end)
    cc:close()
  end)

  it("refuses credentials in base_url without echoing them", function()
    local ok, msg = pcall(cs.confluent, { api_key = "k", api_secret = "s", environment = "e", cluster = "c",
      base_url = "https://user:hunter2@api.example.com" })
    assert.is_false(ok)
    assert.not_matches("hunter2", msg)
    assert.matches("credentials", msg)
  end)

  it("refuses plain http with credentials to a host that is not loopback", function()
    local opts = { api_key = "k", api_secret = "s", environment = "e", cluster = "c",
      base_url = "http://api.example.com" }
    assert.has_error(function() cs.confluent(opts) end)
    opts.allow_insecure_http = true
    local cc = cs.confluent(opts) -- constructed only: nothing is sent to a non-loopback host
    cc:close()
    assert.has_error(function() cs.feldera { base_url = "http://feldera.example.com", api_key = "apikey:x" } end)
    cs.feldera({ base_url = "http://localhost:8080", api_key = "apikey:x" }):close()
  end)

  it("refuses CR, LF or NUL in credentials and tenant without echoing them", function()
    for _, field in ipairs { "api_key", "api_secret" } do
      local opts = { api_key = "k", api_secret = "s", environment = "e", cluster = "c",
        base_url = "http://127.0.0.1:9" }
      opts[field] = "sec\r\nX-Evil: 1"
      local ok, msg = pcall(cs.confluent, opts)
      assert.is_false(ok)
      assert.not_matches("Evil", msg)
    end
    local ok, msg = pcall(cs.confluent, { token = "tok\0en", environment = "e", cluster = "c",
      base_url = "http://127.0.0.1:9" })
    assert.is_false(ok)
    assert.matches("NUL", msg)
    assert.has_error(function() cs.feldera { base_url = "http://127.0.0.1:9", tenant = "a\nb" } end)
  end)
end)
