-- TLS against real HTTPS servers on 127.0.0.1: openssl s_server -WWW serving a directory laid out
-- like the Confluent API, with a CA and certificates made by the openssl command for this run.
-- Verification failures are tls and never retried; the same server works with cafile= its CA.
local cs = require "connectstatus"
local helpers = require "helpers"

local STATUS_DIR = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors/orders-sink"
local STATUS_BODY = '{"name":"orders-sink","type":"sink","connector":{"state":"RUNNING","worker_id":"w"},' ..
  '"tasks":[{"id":0,"state":"RUNNING","worker_id":"w"}]}'

describe("TLS", function()
  local pki, servers, slept

  setup(function()
    pki = helpers.make_pki()
    local root = pki .. "/www"
    assert(os.execute("mkdir -p '" .. root .. STATUS_DIR .. "'"))
    local f = assert(io.open(root .. STATUS_DIR .. "/status", "w"))
    f:write(STATUS_BODY)
    f:close()
    servers = {}
    for _, name in ipairs { "good", "wrong", "self" } do servers[name] = helpers.start_tls_server(pki, name, root) end
  end)

  teardown(function()
    for _, s in pairs(servers or {}) do s.stop() end
    helpers.remove_tree(pki)
  end)

  before_each(function() slept = {} end)

  local function client(base_url, extra)
    local opts = { token = "tok", environment = "env-demo", cluster = "lkc-demo", base_url = base_url,
      timeout = 5, retry = { attempts = 4, base = 0.01 }, sleep = function(s) slept[#slept + 1] = s end }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return cs.confluent(opts)
  end

  local function assert_tls_failure(base_url, extra)
    local cc = client(base_url, extra)
    local v, err = cc:status("orders-sink")
    assert.is_nil(v)
    assert.equal("tls", err.kind)
    assert.equal(1, err.attempts)
    assert.same({}, slept)
    assert.not_matches("tok", tostring(err))
    cc:close()
    return err
  end

  it("a self-signed certificate is tls, with exactly one attempt", function()
    assert_tls_failure(servers.self.url)
    assert.equal(0, servers.self.served())
  end)

  it("a certificate from an unknown CA is tls, with exactly one attempt", function()
    assert_tls_failure(servers.good.url)
    assert.equal(0, servers.good.served())
  end)

  it("the same server works with cafile= its CA", function()
    local cc = client(servers.good.url, { cafile = pki .. "/ca.pem" })
    local status = assert(cc:status("orders-sink"))
    assert.equal("RUNNING", status.connector.state)
    assert.equal(0, status.tasks[1].id)
    assert(cc:status("orders-sink")) -- and again, on a new connection (s_server closes each one)
    assert.equal(2, servers.good.served())
    cc:close()
  end)

  it("a self-signed server works with cafile= its own certificate", function()
    local cc = client(servers.self.url, { cafile = pki .. "/self.pem" })
    assert(cc:status("orders-sink"))
    cc:close()
  end)

  it("a certificate for another host is tls even with the right CA", function()
    local err = assert_tls_failure(servers.wrong.url, { cafile = pki .. "/ca.pem" })
    assert.equal(0, servers.wrong.served())
    assert.matches("127%.0%.0%.1", err.message)
  end)

  it("a certificate for 127.0.0.1 reached as localhost is tls", function()
    assert_tls_failure("https://localhost:" .. servers.good.port, { cafile = pki .. "/ca.pem" })
  end)

  it("a cafile that is not a CA bundle is tls", function()
    assert_tls_failure(servers.good.url, { cafile = pki .. "/good.ext" })
  end)
end)
