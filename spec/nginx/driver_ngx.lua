-- connectstatus.driver_nginx inside a real nginx (Debian's nginx-light with OpenResty's Lua module,
-- see tools/nginx.sh) against the bundled fake API, openssl s_server and the suite's test CA. The
-- spec (any Lua with luasocket) drives nginx over HTTP; nginx runs the driver (spec/nginx/cs_app.lua)
-- and reports what it got and what its one worker observed, in order.
local helpers = require "helpers"
local nginx = require "nginx_helpers"
local core = require "connectstatus.core"

local STATUS = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors/orders-sink/status"
local SECRET, KEY, TOKEN = "s3cr3t-Pa55word-42", "KEY123", "tok-SECRET-9f8e7d"

local function escape(s)
  return (s:gsub("[^%w%-._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function count(text, pattern)
  local n = 0
  for _ in text:gmatch(pattern) do n = n + 1 end
  return n
end

describe("driver_nginx in a real nginx", function()
  local server, fake, other, dns, pki, files, tls = nil, nil, nil, nil, nil, nil, {}

  lazy_setup(function()
    pki = helpers.make_pki()
    files = helpers.tmpdir()
    local f = assert(io.open(files .. "/ok.json", "w"))
    f:write('{"ok":true,"from":"s_server"}')
    f:close()
    dns = nginx.start_dns { "wrong-host.invalid", "good.test", "self.test" }
    fake = helpers.start_fake { api_key = KEY, api_secret = SECRET }
    other = helpers.start_fake()
    for _, name in ipairs { "good", "wrong", "self" } do tls[name] = helpers.start_tls_server(pki, name, files) end
    server = nginx.start {
      http = ([[
    lua_ssl_trusted_certificate %s/ca.pem;
    lua_ssl_verify_depth 2;
    resolver 127.0.0.1:%d ipv6=off;
    init_worker_by_lua_block { require("cs_app").init_worker() }
]]):format(pki, dns.port),
      server = [[
        location = /call { content_by_lua_block { require("cs_app").call() } }
        location = /read { content_by_lua_block { require("cs_app").read() } }
        location = /blocking { content_by_lua_block { require("cs_app").blocking() } }
        location = /compare { content_by_lua_block { require("cs_app").compare() } }
        location = /ping { content_by_lua_block { require("cs_app").ping() } }
        location = /state { content_by_lua_block { require("cs_app").state() } }
        location = /phases {
            set_by_lua_block $set_usable { return require("cs_app").usable_here() }
            rewrite_by_lua_block { require("cs_app").record_phase("rewrite") }
            access_by_lua_block { require("cs_app").record_phase("access") }
            header_filter_by_lua_block { require("cs_app").record_phase("header_filter") }
            body_filter_by_lua_block { require("cs_app").record_phase("body_filter") }
            log_by_lua_block { require("cs_app").record_phase("log") }
            content_by_lua_block {
                require("cs_app").phases.set = ngx.var.set_usable
                require("cs_app").record_phase("content")
                ngx.print("ok")
            }
        }
]],
    }
  end)

  lazy_teardown(function()
    if server then server.stop() end
    if fake then fake:stop() end
    if other then other:stop() end
    if dns then dns.stop() end
    for _, s in pairs(tls) do s.stop() end
    helpers.remove_tree(pki)
    helpers.remove_tree(files)
  end)

  before_each(function()
    fake:reset()
    other:reset()
    nginx.request(server, "/state", "")
  end)

  -- The driver's answer inside nginx: { result =, kind =, message =, raised =, visible = }.
  local function call(config, req, label)
    config.base_url = config.base_url or fake.url
    req.method = req.method or "GET"
    local status, body = nginx.request(server, "/call", core.json_encode { config = config, req = req, label = label })
    assert.equal(200, status, body)
    return assert(core.json_decode(body))
  end

  local function get(path, config)
    return call(config or {}, { path = path })
  end

  local function state()
    return assert(core.json_decode(select(2, nginx.request(server, "/state"))))
  end

  describe("reads every endpoint of the fake API with the same values as libcurl", function()
    local paths = {
      STATUS,
      "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors/pg-cdc/tasks",
      "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors/pg-cdc/offsets/request/status",
      "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors",
      "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors?expand=status",
      "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors?expand=id,info,status",
      "/v0/pipelines/demo-pipeline/tables/orders/connectors/backfill/stats",
    }
    for _, path in ipairs(paths) do
      it(path, function()
        local status, body = nginx.request(server, ("/compare?base=%s&path=%s"):format(escape(other.url), escape(path)))
        assert.equal(200, status, body)
        local r = assert(core.json_decode(body))
        assert.is_table(r.result, body)
        assert.equal(200, r.result.status)
        assert.is_table(r.result.value)
        assert.matches("^fake%-%d+$", r.result.request_id)
        assert.is_true(r.same, body)
      end)
    end

    it("a 404 with its JSON error body", function()
      local r = get("/connect/v1/environments/env-demo/clusters/lkc-demo/connectors/nope/status",
        { username = KEY, password = SECRET })
      assert.equal(404, r.result.status)
      assert.equal("Connector nope not found", r.result.value.error.message)
    end)
  end)

  describe("sends", function()
    it("the Host header, the credentials and the transport's headers", function()
      local r = get(STATUS, { username = KEY, password = SECRET, headers = { "Accept: application/json",
        "User-Agent: connectstatus-test", "X-Custom: 1" } })
      assert.equal(200, r.result.status)
      local seen = fake:requests()[1]
      assert.equal("127.0.0.1:" .. fake.port, seen.headers.host)
      assert.equal("Basic " .. helpers.base64(KEY .. ":" .. SECRET), seen.headers.authorization)
      assert.equal("application/json", seen.headers.accept)
      assert.equal("connectstatus-test", seen.headers["user-agent"])
      assert.equal("1", seen.headers["x-custom"])
    end)

    it("a bearer token", function()
      get(STATUS, { token = TOKEN })
      assert.equal("Bearer " .. TOKEN, fake:requests()[1].headers.authorization)
    end)

    for _, method in ipairs { "PUT", "POST", "PATCH", "DELETE" } do
      it(method .. " with a JSON body", function()
        local r = call({ username = KEY, password = SECRET }, { method = method, path = STATUS, body = '{"a":[1,2]}' })
        assert.equal(405, r.result.status) -- the fake's connectors are read-only
        local seen = fake:requests()[1]
        assert.equal(method, seen.method)
        assert.equal('{"a":[1,2]}', seen.body)
        assert.equal("application/json", seen.headers["content-type"])
        assert.equal("11", seen.headers["content-length"])
      end)
    end

    it("a POST without a body with Content-Length: 0", function()
      call({}, { method = "POST", path = STATUS })
      assert.equal("0", fake:requests()[1].headers["content-length"])
    end)
  end)

  describe("reads bodies", function()
    it("chunked", function()
      fake:script { path = STATUS, responses = { { chunked = true, json = { big = ("x"):rep(2000) } } } }
      local r = get(STATUS)
      assert.equal(2000, #r.result.value.big)
    end)

    it("delimited by the connection closing (openssl s_server, HTTP/1.0)", function()
      local r = get("/ok.json", { base_url = "https://wrong-host.invalid:" .. tls.wrong.port })
      assert.equal(200, r.result.status, r.message)
      assert.equal("s_server", r.result.value.from)
    end)

    it("not JSON: the first 512 bytes as raw, and why", function()
      fake:script { path = STATUS, responses = { { status = 502, body = "<html>" .. ("x"):rep(1000) } } }
      local r = get(STATUS)
      assert.equal(502, r.result.status)
      assert.equal(512, #r.result.raw)
      assert.matches("^<html>x", r.result.raw)
      assert.is_string(r.result.decode_error)
      assert.is_nil(r.result.value)
    end)

    it("empty: neither value nor raw", function()
      fake:script { path = STATUS, responses = { { status = 204 } } }
      local r = get(STATUS)
      assert.equal(204, r.result.status)
      assert.is_true(r.result.empty)
      assert.is_nil(r.result.value)
      assert.is_nil(r.result.raw)
    end)

    it("Retry-After and the rate-limit headers, raw", function()
      fake:script { path = STATUS, responses = { { status = 429, json = {}, headers = { ["Retry-After"] = "7",
        ["X-RateLimit-Limit"] = "80", ["X-RateLimit-Remaining"] = "0", ["X-RateLimit-Reset"] = "42" } } } }
      local r = get(STATUS)
      assert.equal("7", r.result.retry_after)
      assert.same({ limit = "80", remaining = "0", reset = "42" }, r.result.rate_limit)
    end)
  end)

  describe("fails with the kinds of the libcurl driver", function()
    it("connect: nothing listens", function()
      local r = get("/x", { base_url = "http://127.0.0.1:" .. helpers.free_port() })
      assert.equal("connect", r.kind)
      assert.matches("connection refused", r.message)
    end)

    it("connect: a name the resolver does not know", function()
      local r = get("/x", { base_url = "http://no-such-host.test:1" })
      assert.equal("connect", r.kind)
      assert.matches("could not be resolved", r.message)
    end)

    it("transport: reset after the headers, a truncated body, a truncated chunk", function()
      local faults = { { reset = "after_headers", json = { a = 1 } }, { json = { a = ("x"):rep(100) }, truncate = 20 },
        { json = { a = ("x"):rep(600) }, truncate = 300, chunked = true } }
      for i, fault in ipairs(faults) do
        fake:script { path = STATUS, responses = { fault } }
        local r = get(STATUS)
        assert.equal("transport", r.kind, "fault " .. i .. ": " .. tostring(r.message))
      end
    end)

    -- On a kept-alive connection, no answer at all looks like the server having closed it while idle:
    -- the driver tries once more on a new connection (as libcurl does), so the fault comes twice.
    it("transport: a reset before the headers, a close without an answer (each tried twice)", function()
      for i, fault in ipairs { { reset = "before_headers" }, { empty = true } } do
        get(STATUS)
        fake:reset()
        fake:script { path = STATUS, responses = { fault, fault } }
        local r = get(STATUS)
        assert.equal("transport", r.kind, "fault " .. i .. ": " .. tostring(r.message))
        assert.equal(2, helpers.count_requests(fake, STATUS))
      end
    end)

    it("transport: a Content-Length that is not a number", function()
      fake:script { path = STATUS, responses = { { json = {}, content_length = "12abc" } } }
      local r = get(STATUS)
      assert.equal("transport", r.kind)
      assert.matches("Content%-Length", r.message)
    end)

    it("too_large: by Content-Length, chunked, and endless", function()
      for _, fault in ipairs { { json = { a = ("x"):rep(5000) } }, { json = { a = ("x"):rep(5000) }, chunked = true },
        { endless = true } } do
        fake:script { path = STATUS, responses = { fault } }
        local r = get(STATUS, { max_body = 1000 })
        assert.equal("too_large", r.kind, r.message)
        assert.equal("response body exceeds 1000 bytes", r.message)
      end
    end)

    it("timeout: an answer later than the request's timeout", function()
      fake:script { path = STATUS, responses = { { delay = 2, json = {} } } }
      local r = call({}, { path = STATUS, timeout = 0.3 })
      assert.equal("timeout", r.kind)
      assert.equal("no complete answer within 0.3 s", r.message)
    end)

    it("timeout: no data for stall_timeout", function()
      fake:script { path = STATUS, responses = { { delay = 2, json = {} } } }
      local r = get(STATUS, { stall_timeout = 0.3, timeout = 5 })
      assert.equal("timeout", r.kind)
      assert.equal("no data for 0.3 s", r.message)
    end)

    it("timeout: a drip feed does not outlive the total timeout though it never stalls", function()
      -- 100 bytes every 0.1 s for 3 s: never 0.5 s without data, yet over the total of 0.8 s.
      fake:script { path = STATUS, responses = { { json = { a = ("x"):rep(3000) }, drip = 1000 } } }
      local r = call({ stall_timeout = 0.5 }, { path = STATUS, timeout = 0.8 })
      assert.equal("timeout", r.kind)
      assert.equal("no complete answer within 0.8 s", r.message)
    end)
  end)

  describe("redirects: reports the absolute location and never follows", function()
    it("same origin, as an absolute path", function()
      fake:script { path = STATUS, responses = { { status = 307, redirect = "/moved/status" } } }
      local r = get(STATUS)
      assert.equal(307, r.result.status)
      assert.equal(fake.url .. "/moved/status", r.result.location)
      assert.equal(1, helpers.count_requests(fake))
    end)

    it("same origin, relative to the request's path", function()
      fake:script { path = STATUS, responses = { { status = 302, redirect = "state?x=1" } } }
      local r = get(STATUS)
      assert.equal(fake.url .. STATUS:gsub("status$", "state?x=1"), r.result.location)
    end)

    it("follows none itself; the transport asks for the location with req.url", function()
      fake:script { path = STATUS, responses = { { status = 302, redirect = "/moved" } } }
      fake:script { path = "/moved", responses = { { json = { moved = true } } } }
      local first = get(STATUS).result
      local second = call({}, { url = first.location })
      assert.is_true(second.result.value.moved)
      assert.equal("/moved", fake:requests()[2].target)
      assert.matches("req.url must be on the base URL's origin", call({}, { url = other.url .. "/moved" }).raised)
      assert.equal(0, helpers.count_requests(other))
    end)

    it("another origin, which receives nothing", function()
      fake:script { path = STATUS, responses = { { status = 301, redirect = other.url .. STATUS } } }
      local r = get(STATUS)
      assert.equal(301, r.result.status)
      assert.equal(other.url .. STATUS, r.result.location)
      assert.equal(0, helpers.count_requests(other))
    end)
  end)

  describe("TLS, verified against lua_ssl_trusted_certificate", function()
    it("accepts a certificate of the test CA for the host name (SNI and resolver)", function()
      local r = get("/ok.json", { base_url = "https://wrong-host.invalid:" .. tls.wrong.port })
      assert.equal(200, r.result.status, r.message)
      assert.is_true(r.result.value.ok)
    end)

    it("refuses a certificate of the test CA for another name", function()
      local r = get("/ok.json", { base_url = "https://good.test:" .. tls.good.port })
      assert.equal("tls", r.kind)
      -- The reason, or "refused" where lua-nginx-module 0.10.23 leaves it to nginx's error log.
      assert.is_truthy(r.message:find("certificate host mismatch", 1, true) or r.message:find("refused", 1, true))
      assert.equal(0, tls.good.served())
    end)

    it("refuses a self-signed certificate", function()
      local r = get("/ok.json", { base_url = "https://self.test:" .. tls.self.port })
      assert.equal("tls", r.kind)
      assert.is_truthy(r.message:find("self-signed", 1, true) or r.message:find("refused", 1, true))
      assert.equal(0, tls.self.served())
    end)

    it("says why an address in base_url cannot be verified by nginx", function()
      local r = get("/ok.json", { base_url = tls.good.url })
      assert.equal("tls", r.kind)
      assert.matches("DNS names only", r.message)
      assert.equal(0, tls.good.served())
    end)
  end)

  describe("keep-alive", function()
    it("reuses one connection per origin", function()
      get(STATUS)
      get(STATUS)
      get(STATUS, { base_url = other.url })
      get(STATUS, { base_url = other.url })
      local a, b = fake:requests(), other:requests()
      assert.equal(a[1].connection, a[2].connection)
      assert.equal(b[1].connection, b[2].connection)
    end)

    it("opens a new connection when the server closed the kept one", function()
      local creds = { username = KEY, password = SECRET }
      fake:script { path = STATUS, responses = { { json = {}, headers = { Connection = "close" } } } }
      assert.equal(200, get(STATUS, creds).result.status)
      assert.equal(200, get(STATUS, creds).result.status)
      local seen = fake:requests()
      assert.are_not.equal(seen[1].connection, seen[2].connection)
    end)
  end)

  describe("refuses", function()
    it("cafile, capath and proxy at construction, naming the nginx way", function()
      for name, hint in pairs { cafile = "lua_ssl_trusted_certificate", capath = "lua_ssl_trusted_certificate",
        proxy = "proxy" } do
        local r = call({ [name] = "/etc/ssl/x" }, { path = "/" })
        assert.matches("option '" .. name .. "' is not supported inside nginx", r.raised)
        assert.matches(hint, r.raised, 1, true)
      end
    end)

    it("CR, LF and NUL in headers, credentials and the path, without echoing them", function()
      for _, config in ipairs { { headers = { "X-A: 1\r\nX-B: 2" } }, { password = SECRET .. "\n" },
        { username = "a\0b", password = "x" }, { token = TOKEN .. "\r" } } do
        local r = call(config, { path = "/" })
        assert.matches("CR, LF or NUL", r.raised)
        assert.is_nil(r.raised:find(SECRET, 1, true))
        assert.is_nil(r.raised:find(TOKEN, 1, true))
      end
      for _, path in ipairs { "/a\r\nX-Evil: 1", "/a b", "/a\0" } do
        assert.matches("the request target must hold no spaces or control characters", call({}, { path = path }).raised)
      end
      assert.equal(0, helpers.count_requests(fake))
    end)
  end)

  it("keeps secrets out of errors and of everything pairs and tostring reach", function()
    local encoded = helpers.base64(KEY .. ":" .. SECRET)
    local outcomes = {
      get("/x", { username = KEY, password = SECRET, base_url = "http://127.0.0.1:" .. helpers.free_port() }),
      get("/ok.json", { username = KEY, password = SECRET, base_url = "https://self.test:" .. tls.self.port }),
      get("/ok.json", { token = TOKEN, base_url = "https://good.test:" .. tls.good.port }),
    }
    fake:script { path = STATUS, responses = { { delay = 1, json = {} } } }
    outcomes[#outcomes + 1] = call({ token = TOKEN }, { path = STATUS, timeout = 0.2 })
    for i, r in ipairs(outcomes) do
      assert.is_string(r.kind, "outcome " .. i .. ": " .. core.json_encode(r))
      local text = tostring(r.message) .. "\n" .. r.visible
      assert.is_string(r.kind)
      assert.matches("connectstatus.NginxDriver", r.visible, 1, true)
      for _, secret in ipairs { SECRET, encoded, TOKEN } do assert.is_nil(text:find(secret, 1, true), text) end
    end
    assert.is_nil(server.log():find(SECRET, 1, true))
    assert.is_nil(server.log():find(TOKEN, 1, true))
  end)

  describe("phases", function()
    it("cosockets in rewrite, access, content and timers; libcurl in init_worker; a clear error elsewhere", function()
      assert.equal(200, (nginx.request(server, "/phases")))
      local p = state().phases
      for _, phase in ipairs { "rewrite", "access", "content", "timer" } do assert.equal("true", p[phase], phase) end
      assert.equal("false", p.init_worker)
      assert.equal("slept", p.init_worker_sleep) -- blocking there: ngx.sleep raises "API disabled"
      assert.equal("slept", p.timer_sleep)
      for _, phase in ipairs { "set", "header_filter", "body_filter", "log" } do
        assert.matches("cosockets are disabled in nginx's " .. phase .. " phase", p[phase], 1, true)
        assert.matches("ngx.timer.at", p[phase], 1, true)
      end
    end)
  end)

  describe("never stalls the worker (one process, master_process off)", function()
    local function order(events)
      local seen = {}
      for _, e in ipairs(events) do seen[#seen + 1] = e.label .. " " .. e.what end
      return table.concat(seen, ", ")
    end

    local function read_query(kind, label)
      return ("/%s?base=%s&path=%s&label=%s"):format(kind, escape(fake.url), escape(STATUS), label)
    end

    -- The slow read is in flight once the fake has it (it records a request when it arrives and
    -- answers a second later); the ping then comes in while it waits.
    local function slow_then_ping(kind)
      fake:script { path = STATUS, responses = { { delay = 1, json = {} } } }
      local out = nginx.background(server, read_query(kind, "slow"))
      nginx.wait_until("the slow request reaching the fake",
        function() return helpers.count_requests(fake, STATUS) == 1 end)
      assert.equal(200, (nginx.request(server, "/ping")))
      nginx.wait_until("the slow answer", function() return helpers.read_file(out) ~= "" end)
      os.remove(out)
      return order(state().events)
    end

    it("answers another request while a read waits on a 1 s answer", function()
      assert.equal("slow start, ping end, slow end", slow_then_ping("read"))
    end)

    it("(the same check with the blocking libcurl client: the ping waits behind it)", function()
      assert.equal("slow start, slow end, ping end", slow_then_ping("blocking"))
    end)

    it("holds 50 concurrent reads open at once, each answered after 200 ms", function()
      local responses = {}
      for i = 1, 50 do responses[i] = { delay = 0.2, json = { n = i } } end
      fake:script { path = STATUS, responses = responses }
      local urls = {}
      for i = 1, 50 do urls[i] = "'" .. server.url .. read_query("read", "r" .. i) .. "'" end
      local out, code = helpers.shell("curl -s --parallel --parallel-immediate --parallel-max 50 " ..
        table.concat(urls, " ") .. " 2>&1")
      assert.equal(0, code)
      assert.equal(50, count(out, "status 200\n"), out)
      local s = state()
      -- A blocking client holds 1; all 50 is usual; 40 leaves room for a slow start of curl's transfers.
      assert.is_true(s.max_inflight >= 40, "at most " .. s.max_inflight .. " at once")
      local connections = {}
      for _, r in ipairs(fake:requests()) do connections[r.connection] = true end
      local n = 0
      for _ in pairs(connections) do n = n + 1 end
      assert.is_true(n >= 40, "the fake saw " .. n .. " connections")
    end)
  end)
end)
