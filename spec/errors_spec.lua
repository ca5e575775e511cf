-- Every error kind, produced by a real transfer against the loopback fake API; retries with an
-- injected sleep; and no secret in any error, tostring or pretty-printed output.
local cs = require "connectstatus"
local helpers = require "helpers"

local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"
local KEY, SECRET = "CKEYDEMO12345678", "correct-horse:battery/staple=="

describe("error kinds", function()
  local fake, cc, slept

  local function client(extra)
    local opts = {
      api_key = KEY, api_secret = SECRET, environment = "env-demo", cluster = "lkc-demo",
      base_url = fake.url, timeout = 2, retry = { attempts = 1 },
      sleep = function(s) slept[#slept + 1] = s end,
      random = function() return 1 end,
    }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return cs.confluent(opts)
  end

  local function answer(name, response)
    fake:script { method = "GET", path = PREFIX .. "/" .. name .. "/status", responses = { response } }
  end

  setup(function()
    fake = helpers.start_fake()
  end)
  teardown(function() fake:stop() end)
  before_each(function()
    fake:reset()
    slept = {}
    cc = client()
  end)
  after_each(function() cc:close() end)

  local BY_STATUS = {
    { 400, "bad_request" }, { 401, "unauthorized" }, { 403, "forbidden" }, { 404, "not_found" },
    { 409, "conflict" }, { 429, "rate_limited" }, { 500, "server" }, { 503, "server" }, { 418, "http" },
  }
  for _, case in ipairs(BY_STATUS) do
    local status, kind = case[1], case[2]
    it(("HTTP %d is %s with the API's code and message"):format(status, kind), function()
      answer("c" .. status, { status = status, headers = { ["X-Request-Id"] = "req-" .. status },
        body = ('{"error":{"code":%d,"message":"nope %d"}}'):format(status, status) })
      local v, err = cc:status("c" .. status)
      assert.is_nil(v)
      assert.is_true(cs.is_error(err))
      assert.equal(kind, err.kind)
      assert.equal(status, err.status)
      assert.equal(status, err.code)
      assert.equal("req-" .. status, err.request_id)
      assert.equal(fake.url .. PREFIX .. "/c" .. status .. "/status", err.url)
      assert.matches("nope " .. status, err.message)
      assert.equal(1, err.attempts)
      assert.matches("^connectstatus: " .. kind .. ": ", tostring(err))
      assert.matches(kind, "x" .. err)
    end)
  end

  it("reads Feldera error bodies with details", function()
    local fd = cs.feldera { base_url = fake.url, retry = { attempts = 1 } }
    local v, err = fd:input_stats("nope", "t", "c")
    assert.is_nil(v)
    assert.equal("not_found", err.kind)
    assert.equal("UnknownPipelineName", err.code)
    assert.equal("nope", err.details.pipeline_name)
    fd:close()
  end)

  it("a proxy's HTML 502 is server with a short sanitised body", function()
    local html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\n<body>" .. ("x"):rep(2000) .. "</body></html>"
    answer("html", { status = 502, headers = { ["Content-Type"] = "text/html" }, body = html })
    local _, err = cc:status("html")
    assert.equal("server", err.kind)
    assert.equal(502, err.status)
    assert.truthy(#err.body <= 512)
    assert.not_matches("[\r\n]", err.body)
    assert.matches("502 Bad Gateway", err.body)
  end)

  it("a 200 that is not JSON is decode, with the offset in the message", function()
    answer("garbage", { status = 200, body = '{"connector": nope}' })
    local v, err = cc:status("garbage")
    assert.is_nil(v)
    assert.equal("decode", err.kind)
    assert.matches("byte", err.message)
  end)

  it("an unscripted redirect to another origin is http and is not followed", function()
    answer("moved", { status = 302, headers = { Location = "http://127.0.0.2:1/elsewhere?token=abc" } })
    local _, err = cc:status("moved")
    assert.equal("http", err.kind)
    assert.equal(302, err.status)
    assert.matches("127%.0%.0%.2:1", err.message)
    assert.not_matches("token=abc", tostring(err))
  end)

  it("a server that never answers in time is timeout", function()
    local slow = client { timeout = 0.3 }
    answer("slow", { status = 200, delay = 1.5, body = "{}" })
    local _, err = slow:status("slow")
    assert.equal("timeout", err.kind)
    slow:close()
  end)

  it("a closed port is connect", function()
    local port = helpers.free_port()
    local closed = cs.confluent { token = "t", environment = "e", cluster = "c",
      base_url = "http://127.0.0.1:" .. port, retry = { attempts = 1 } }
    local _, err = closed:status("x")
    assert.equal("connect", err.kind)
    closed:close()
  end)

  it("TLS to a plain HTTP server is tls and is not retried", function()
    local tls = cs.confluent { token = "t", environment = "env-demo", cluster = "lkc-demo",
      base_url = "https://127.0.0.1:" .. fake.port, retry = { attempts = 3 },
      sleep = function(s) slept[#slept + 1] = s end }
    local _, err = tls:status("orders-sink")
    assert.equal("tls", err.kind)
    assert.equal(1, err.attempts)
    assert.same({}, slept)
    tls:close()
  end)

  it("an empty reply is transport, and the next call on the client works", function()
    answer("empty", { empty = true })
    local v, err = cc:status("empty")
    assert.is_nil(v)
    assert.equal("transport", err.kind)
    assert(cc:status("orders-sink"))
  end)

  it("a body cut short is transport, never half a table", function()
    answer("cut", { status = 200, body = '{"name":"cut","connector":{"state":"RUNNING"},"tasks":[]}', truncate = 10 })
    local v, err = cc:status("cut")
    assert.is_nil(v)
    assert.equal("transport", err.kind)
    assert(cc:status("orders-sink"))
  end)

  it("a body over max_body is too_large", function()
    local small = client { max_body = 1024 }
    answer("huge", { status = 200, body = '{"pad":"' .. ("x"):rep(5000) .. '"}' })
    local v, err = small:status("huge")
    assert.is_nil(v)
    assert.equal("too_large", err.kind)
    small:close()
  end)
end)

describe("retries", function()
  local fake, slept

  setup(function() fake = helpers.start_fake() end)
  teardown(function() fake:stop() end)
  before_each(function()
    fake:reset()
    slept = {}
  end)

  local function client(retry, backend)
    local opts = {
      token = "tok", environment = "env-demo", cluster = "lkc-demo", base_url = fake.url,
      retry = retry, sleep = function(s) slept[#slept + 1] = s end, random = function() return 0.5 end,
    }
    if backend == "feldera" then
      return cs.feldera { base_url = fake.url, retry = retry, sleep = opts.sleep, random = opts.random }
    end
    return cs.confluent(opts)
  end

  local function count_requests(target)
    local n = 0
    for _, r in ipairs(fake:requests()) do
      if r.target == target then n = n + 1 end
    end
    return n
  end

  it("503, 503, 200 succeeds on attempt 3 with growing jittered delays", function()
    local target = PREFIX .. "/orders-sink/status"
    local unavailable = { status = 503, body = "{}" }
    fake:script { method = "GET", path = target, responses = { unavailable, unavailable } }
    local cc = client { attempts = 4, base = 1, cap = 30 }
    local status = assert(cc:status("orders-sink"))
    assert.equal("orders-sink", status.name)
    assert.equal(3, count_requests(target))
    assert.same({ 0.5, 1 }, slept)
    cc:close()
  end)

  it("caps the delay and reports the attempts when they run out", function()
    local target = PREFIX .. "/orders-sink/status"
    local five = {}
    for i = 1, 5 do five[i] = { status = 504, body = "gateway" } end
    fake:script { method = "GET", path = target, responses = five }
    local cc = client { attempts = 5, base = 1, cap = 2 }
    local _, err = cc:status("orders-sink")
    assert.equal("server", err.kind)
    assert.equal(5, err.attempts)
    assert.same({ 0.5, 1, 1, 1 }, slept)
    cc:close()
  end)

  it("honours Retry-After and refuses to sleep past max_retry_after", function()
    local target = PREFIX .. "/orders-sink/status"
    fake:script { method = "GET", path = target, responses = { { status = 429, headers = { ["Retry-After"] = "2" } } } }
    local cc = client { attempts = 3, max_retry_after = 60 }
    assert(cc:status("orders-sink"))
    assert.same({ 2 }, slept)
    fake:script { method = "GET", path = target,
      responses = { { status = 429, headers = { ["Retry-After"] = "999999999" } } } }
    local _, err = cc:status("orders-sink")
    assert.equal("rate_limited", err.kind)
    assert.equal(999999999, err.retry_after)
    assert.equal(1, err.attempts)
    assert.same({ 2 }, slept)
    cc:close()
  end)

  for _, status in ipairs { 400, 401, 403, 404 } do
    it(("never retries %d"):format(status), function()
      local target = PREFIX .. "/orders-sink/status"
      fake:script { method = "GET", path = target, responses = { { status = status, body = "{}" } } }
      local cc = client { attempts = 4 }
      local _, err = cc:status("orders-sink")
      assert.equal(status, err.status)
      assert.equal(1, count_requests(target))
      assert.same({}, slept)
      cc:close()
    end)
  end

  it("retries Confluent's 500 but not Feldera's", function()
    local ctarget = PREFIX .. "/orders-sink/status"
    fake:script { method = "GET", path = ctarget, responses = { { status = 500, body = "{}" } } }
    local cc = client { attempts = 2 }
    assert(cc:status("orders-sink"))
    cc:close()
    local ftarget = "/v0/pipelines/demo-pipeline/tables/orders/connectors/backfill/stats"
    fake:script { method = "GET", path = ftarget, responses = { { status = 500, json = { message = "boom" } } } }
    local fd = client({ attempts = 3 }, "feldera")
    local _, err = fd:input_stats("demo-pipeline", "orders", "backfill")
    assert.equal("server", err.kind)
    assert.equal(1, count_requests(ftarget))
    local not_deployed = { status = 503, json = { message = "not deployed" } }
    fake:script { method = "GET", path = ftarget, responses = { not_deployed } }
    assert(fd:input_stats("demo-pipeline", "orders", "backfill"))
    fd:close()
  end)
end)

describe("secrets", function()
  local fake

  setup(function() fake = helpers.start_fake { api_key = KEY, api_secret = "the-right-one" } end)
  teardown(function() fake:stop() end)

  it("never appear in errors, tostring, pp output or the client's fields", function()
    local token = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.sig"
    local cc = cs.confluent { api_key = KEY, api_secret = SECRET, environment = "env-demo",
      cluster = "lkc-demo", base_url = fake.url, retry = { attempts = 1 } }
    local bearer = cs.confluent { token = token, environment = "env-demo",
      cluster = "lkc-demo", base_url = fake.url, retry = { attempts = 1 } }
    local outputs = {}
    for _, client in ipairs { cc, bearer } do
      local v, err = client:status("orders-sink")
      assert.is_nil(v)
      assert.equal("unauthorized", err.kind)
      outputs[#outputs + 1] = tostring(err)
      outputs[#outputs + 1] = "" .. err
      outputs[#outputs + 1] = require("connectstatus.pp").format(err)
      outputs[#outputs + 1] = require("connectstatus.pp").format(client)
      outputs[#outputs + 1] = tostring(client)
      for k, x in pairs(client) do outputs[#outputs + 1] = tostring(k) .. "=" .. tostring(x) end
      for k, x in pairs(client.transport) do outputs[#outputs + 1] = tostring(k) .. "=" .. tostring(x) end
    end
    local all = table.concat(outputs, "\n")
    for _, secret in ipairs { SECRET, helpers.base64(KEY .. ":" .. SECRET), token } do
      assert.is_nil(all:find(secret, 1, true), "leaked " .. secret)
    end
    cc:close()
    bearer:close()
  end)
end)
