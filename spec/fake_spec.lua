-- The fake API server itself, seen through plain luasocket (never connectstatus's client, which the
-- fake exists to test): routes, the model's sequences, auth, scripts, each fault at the socket
-- level, keep-alive, recording and shutdown.
local socket = require "socket"
local cjson = require "cjson"
local fake = require "connectstatus.fake"
local helpers = require "helpers"

local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"
local STATS = "/v0/pipelines/demo-pipeline/tables/orders/connectors/backfill/stats"

local function connect(port)
  local sock = assert(socket.tcp())
  sock:settimeout(3)
  assert(sock:connect("127.0.0.1", port))
  return sock
end

local function send_request(sock, method, target, headers, body)
  local lines = { ("%s %s HTTP/1.1"):format(method, target), "Host: 127.0.0.1" }
  for name, value in pairs(headers or {}) do lines[#lines + 1] = name .. ": " .. value end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  assert(sock:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")))
end

local function read_chunked(sock)
  local parts = {}
  while true do
    local size = tonumber(assert(sock:receive("*l")), 16)
    if size == 0 then
      assert(sock:receive("*l"))
      return table.concat(parts)
    end
    parts[#parts + 1] = assert(sock:receive(size))
    assert(sock:receive("*l"))
  end
end

-- status, headers (lowercase names), body of one response on sock.
local function read_response(sock)
  local status = tonumber(assert(sock:receive("*l")):match("^HTTP/1%.1 (%d+) "))
  local headers = {}
  while true do
    local line = assert(sock:receive("*l"))
    if line == "" then break end
    local name, value = line:match("^([^:]+):%s*(.*)$")
    headers[name:lower()] = value
  end
  local body = ""
  if headers["transfer-encoding"] == "chunked" then
    body = read_chunked(sock)
  elseif headers["content-length"] ~= "0" then
    body = assert(sock:receive(tonumber(headers["content-length"])))
  end
  return status, headers, body
end

-- One request on a fresh connection: status, headers, body.
local function request(port, method, target, headers, body)
  local sock = connect(port)
  send_request(sock, method, target, headers, body)
  local status, response_headers, response_body = read_response(sock)
  sock:close()
  return status, response_headers, response_body
end

local function get_json(port, target, headers)
  local status, response_headers, body = request(port, "GET", target, headers)
  return status, cjson.decode(body), response_headers, body
end

-- Everything the server sends until it closes.
local function read_until_close(sock)
  local data, _, partial = sock:receive("*a")
  return data or partial
end

-- After the peer has closed: a socket that got RST fails to send at once, one that got FIN does not.
local function was_reset(sock)
  return sock:send("x") == nil
end

describe("connectstatus.fake", function()
  local srv

  setup(function() srv = helpers.start_fake() end)
  teardown(function() srv:stop() end)
  before_each(function() srv:reset() end)

  describe("confluent model", function()
    it("lists the demo connectors sorted, with JSON headers and a request id", function()
      local status, names, headers = get_json(srv.port, PREFIX)
      assert.equal(200, status)
      assert.same({ "datagen-orders", "orders-sink", "pg-cdc", "s3-archive" }, names)
      assert.equal("application/json", headers["content-type"])
      assert.matches("^fake%-%d+$", headers["x-request-id"])
      assert.is_nil(headers["x-ratelimit-remaining"])
      local _, _, again = get_json(srv.port, PREFIX)
      assert.not_equal(headers["x-request-id"], again["x-request-id"])
    end)

    it("expands id, info and status, in one parameter or repeated ones", function()
      local status, map = get_json(srv.port, PREFIX .. "?expand=id,info,status")
      assert.equal(200, status)
      local s3 = map["s3-archive"]
      assert.same({ id = "lcc-demo2s3ar", id_type = "ID" }, s3.id)
      assert.equal("FAILED", s3.status.connector.state)
      assert.matches("^There were some errors with your configuration:\ntopics: Provided Kafka ApiKey is invalid\n",
        s3.status.connector.trace)
      assert.same({}, s3.status.tasks)
      local keys = 0
      for _ in pairs(s3.info.config) do keys = keys + 1 end
      assert.truthy(keys >= 12)
      assert.equal("****************", s3.info.config["kafka.api.secret"])
      assert.equal("sink", s3.info.type)
      local _, some = get_json(srv.port, PREFIX .. "?expand=status&expand=id")
      assert.is_nil(some["pg-cdc"].info)
      assert.equal("RUNNING", some["pg-cdc"].status.connector.state)
      assert.equal(400, (request(srv.port, "GET", PREFIX .. "?expand=everything")))
    end)

    it("advances a connector's states on status reads only", function()
      for _ = 1, 2 do
        local _, map = get_json(srv.port, PREFIX .. "?expand=status")
        assert.equal("PROVISIONING", map["orders-sink"].status.connector.state)
      end
      local seen = {}
      for i = 1, 4 do seen[i] = select(2, get_json(srv.port, PREFIX .. "/orders-sink/status")) end
      assert.same({ "PROVISIONING", "PROVISIONING", "RUNNING", "RUNNING" },
        { seen[1].connector.state, seen[2].connector.state, seen[3].connector.state, seen[4].connector.state })
      assert.same({ { id = 0, state = "RUNNING", worker_id = "orders-sink", msg = "" } }, seen[3].tasks)
      assert.equal("sink", seen[3].type)
      local _, other = get_json(srv.port, PREFIX .. "/datagen-orders/status")
      assert.equal("RUNNING", other.connector.state)
      assert.equal("FAILED", other.tasks[2].state)
      assert.matches("^org%.apache%.kafka%.connect%.errors%.ConnectException", other.tasks[2].trace)
      assert.truthy(#other.tasks[2].msg > 0)
    end)

    it("serves tasks with their ids and configs", function()
      local status, tasks = get_json(srv.port, PREFIX .. "/datagen-orders/tasks")
      assert.equal(200, status)
      assert.same({ connector = "datagen-orders", task = 1 }, tasks[2].id)
      assert.equal("DatagenSource", tasks[1].config["connector.class"])
      local _, none = get_json(srv.port, PREFIX .. "/s3-archive/tasks")
      assert.same({}, none)
    end)

    it("walks pg-cdc's offsets request through PENDING, PENDING_VALIDATION and APPLIED", function()
      local phases = {}
      local last
      for i = 1, 4 do
        local _, body, _, raw = get_json(srv.port, PREFIX .. "/pg-cdc/offsets/request/status")
        phases[i] = body.status.phase
        if i == 1 then assert.matches('"applied_at":null', raw) end
        last = body
      end
      assert.same({ "PENDING", "PENDING_VALIDATION", "APPLIED", "APPLIED" }, phases)
      assert.equal("2024-02-20T15:14:20+0000", last.applied_at)
      assert.equal("PATCH", last.request.type)
      assert.equal("pg-cdc", last.request.name)
      assert.truthy(last.request.offsets[1].partition and last.request.offsets[1].offset)
      assert.truthy(last.previous_offsets[1].offset)
      assert.truthy(#last.status.message > 0)
      local status, err = get_json(srv.port, PREFIX .. "/s3-archive/offsets/request/status")
      assert.equal(404, status)
      assert.equal(404, err.error.code)
    end)

    it("answers 404 with the error shape for unknown accounts, connectors and routes", function()
      local status, body = get_json(srv.port, "/connect/v1/environments/env-x/clusters/lkc-demo/connectors")
      assert.equal(404, status)
      assert.same(cjson.decode(helpers.fixture("confluent_error_404.json")), body)
      status, body = get_json(srv.port, PREFIX .. "/nope/status")
      assert.equal(404, status)
      assert.equal(404, body.error.code)
      assert.equal(404, (request(srv.port, "GET", PREFIX .. "/pg-cdc/whatever")))
    end)

    it("percent-decodes path segments, so odd names set at runtime are addressable", function()
      local name = "a/b?c#d %e \195\169"
      srv:set { connector = name, states = { "PAUSED", { connector = { state = "RUNNING" },
        tasks = { { id = 0, state = "RUNNING" } } } } }
      local target = PREFIX .. "/a%2Fb%3Fc%23d%20%25e%20%C3%A9/status"
      local status, body = get_json(srv.port, target)
      assert.equal(200, status)
      assert.equal(name, body.name)
      assert.equal("PAUSED", body.connector.state)
      assert.equal("RUNNING", select(2, get_json(srv.port, target)).connector.state)
      local _, names = get_json(srv.port, PREFIX)
      assert.equal(5, #names)
    end)
  end)

  describe("feldera model", function()
    it("grows records, then ends input with records buffered, then drains; u64 stays exact", function()
      local seen = {}
      for i = 1, 5 do
        local status, body, _, raw = get_json(srv.port, STATS)
        assert.equal(200, status)
        seen[i] = { body = body, raw = raw }
      end
      local m = function(i) return seen[i].body.metrics end
      assert.equal("orders.backfill", seen[1].body.endpoint_name)
      assert.same({ stream = "orders" }, seen[1].body.config)
      assert.is_false(seen[1].body.paused)
      assert.is_false(seen[1].body.barrier)
      assert.is_nil(seen[1].body.fatal_error)
      assert.is_false(m(1).end_of_input)
      assert.truthy(m(2).total_records > m(1).total_records)
      assert.is_true(m(3).end_of_input)
      assert.truthy(m(3).buffered_records > 0)
      assert.is_true(m(4).end_of_input)
      assert.equal(0, m(4).buffered_records)
      assert.matches('"total_records":9007199254740993[,}]', seen[5].raw)
    end)

    it("answers unknown pipelines with Feldera's error shape", function()
      local status, body = get_json(srv.port, "/v0/pipelines/x/tables/orders/connectors/backfill/stats")
      assert.equal(404, status)
      assert.same({ message = "Unknown pipeline name 'x'", error_code = "UnknownPipelineName",
        details = { pipeline_name = "x" } }, body)
    end)

    it("serves endpoints defined at runtime", function()
      srv:set { feldera = { pipeline = "p1", table = "t", connector = "c",
        stats = { { endpoint_name = "t.c", metrics = { total_records = 1 } },
          { endpoint_name = "t.c", metrics = { total_records = 2 } } } } }
      local target = "/v0/pipelines/p1/tables/t/connectors/c/stats"
      assert.equal(1, select(2, get_json(srv.port, target)).metrics.total_records)
      assert.equal(2, select(2, get_json(srv.port, target)).metrics.total_records)
      assert.equal(2, select(2, get_json(srv.port, target)).metrics.total_records)
    end)
  end)

  describe("scripts", function()
    it("answers queued responses once each, in order, then the model again", function()
      srv:script { method = "GET", path = PREFIX .. "/pg-cdc/status", responses = {
        { status = 503, headers = { ["Retry-After"] = "2" }, body = "first" },
        { status = 500, json = { error = { code = 500, message = "second" } } } } }
      srv:script { method = "GET", path = PREFIX .. "/pg-cdc/status", responses = { { status = 502, body = "third" } } }
      local status, headers, body = request(srv.port, "GET", PREFIX .. "/pg-cdc/status")
      assert.same({ 503, "2", "first" }, { status, headers["retry-after"], body })
      local second_status, second = get_json(srv.port, PREFIX .. "/pg-cdc/status")
      assert.same({ 500, { error = { code = 500, message = "second" } } }, { second_status, second })
      assert.equal(502, (request(srv.port, "GET", PREFIX .. "/pg-cdc/status")))
      assert.equal(200, (request(srv.port, "GET", PREFIX .. "/pg-cdc/status")))
    end)

    it("matches the raw target exactly, the method, and any path when path is left out", function()
      srv:script { method = "GET", path = "/x?a=%41", responses = { { status = 201 } } }
      srv:script { method = "DELETE", responses = { { status = 202 } } }
      assert.equal(404, (request(srv.port, "GET", "/x?a=A")))
      assert.equal(201, (request(srv.port, "GET", "/x?a=%41")))
      assert.equal(202, (request(srv.port, "DELETE", "/anything/at/all")))
    end)

    it("refuses malformed scripts", function()
      assert.has_error(function() srv:script { responses = { { reset = "sometimes" } } } end)
      assert.has_error(function() srv:script { responses = {} } end)
    end)
  end)

  describe("faults", function()
    local function scripted(response)
      srv:script { method = "GET", path = "/fault", responses = { response } }
      local sock = connect(srv.port)
      send_request(sock, "GET", "/fault")
      return sock
    end

    it("truncate sends fewer bytes than Content-Length says, then closes", function()
      local sock = scripted { body = "0123456789", truncate = 4 }
      local data = read_until_close(sock)
      sock:close()
      assert.matches("Content%-Length: 10\r\n", data)
      assert.matches("\r\n\r\n0123$", data)
    end)

    it("chunked sends a chunked body; with truncate it stops inside a chunk", function()
      local body = string.rep("abcdefghij", 60)
      local sock = scripted { body = body, chunked = true }
      local status, headers, got = read_response(sock)
      sock:close()
      assert.same({ 200, "chunked", body }, { status, headers["transfer-encoding"], got })
      assert.is_nil(headers["content-length"])
      sock = scripted { body = body, chunked = true, truncate = 300 }
      local data = read_until_close(sock)
      sock:close()
      assert.matches("\r\n\r\n100\r\n" .. string.rep("abcdefghij", 25) .. "abcdef\r\n100\r\nghij" ..
        string.rep("abcdefghij", 4) .. "$", data)
    end)

    it("reset closes with RST before or after the headers; empty closes with nothing", function()
      local sock = scripted { reset = "before_headers" }
      assert.equal("", read_until_close(sock))
      assert.is_true(was_reset(sock))
      sock:close()
      sock = scripted { reset = "after_headers", body = "never sent" }
      assert.matches("^HTTP/1%.1 200 OK\r\n.*\r\n\r\n$", read_until_close(sock))
      assert.is_true(was_reset(sock))
      sock:close()
      sock = scripted { empty = true }
      assert.equal("", read_until_close(sock))
      assert.is_false(was_reset(sock))
      sock:close()
    end)

    it("delay holds the status line back; drip paces the body", function()
      local t0 = socket.gettime()
      local sock = scripted { delay = 0.3, body = "x" }
      assert.equal(200, (read_response(sock)))
      sock:close()
      assert.truthy(socket.gettime() - t0 >= 0.25)
      t0 = socket.gettime()
      sock = scripted { drip = 20, body = "0123456789" }
      local status, _, body = read_response(sock)
      sock:close()
      local elapsed = socket.gettime() - t0
      assert.same({ 200, "0123456789" }, { status, body })
      assert.truthy(elapsed >= 0.3 and elapsed < 2, "drip took " .. elapsed)
    end)

    it("content_length overrides the header; redirect sets Location; gzip_bomb is a small gzip", function()
      local sock = scripted { body = "hello", content_length = 3 }
      local data = read_until_close(sock)
      sock:close()
      assert.matches("Content%-Length: 3\r\n.*\r\n\r\nhello$", data)
      sock = scripted { status = 307, redirect = "http://127.0.0.1:1/elsewhere" }
      local status, headers = read_response(sock)
      sock:close()
      assert.same({ 307, "http://127.0.0.1:1/elsewhere" }, { status, headers.location })
      sock = scripted { gzip_bomb = true }
      local _, bomb_headers, bomb = read_response(sock)
      sock:close()
      assert.equal("gzip", bomb_headers["content-encoding"])
      assert.equal("\31\139\8", bomb:sub(1, 3))
      assert.truthy(#bomb < 100 * 1024)
      local b1, b2, b3, b4 = bomb:byte(-4, -1) -- ISIZE: the uncompressed length
      assert.equal(67633153, b1 + b2 * 256 + b3 * 65536 + b4 * 16777216)
    end)

    it("size streams a chunked JSON array of zeros of at least that many bytes, then ends it", function()
      local sock = scripted { size = 100000 }
      local status, headers, body = read_response(sock)
      sock:close()
      assert.same({ 200, "chunked" }, { status, headers["transfer-encoding"] })
      assert.truthy(#body >= 100000 and #body < 100000 + 8192)
      assert.equal(#body, #cjson.encode(cjson.decode(body)))
      assert.equal(0, cjson.decode(body)[1])
    end)

    it("endless streams until the client goes, then the connection ends", function()
      local server = fake.new {}
      local function pump(done)
        local deadline = socket.gettime() + 3
        while not done() and socket.gettime() < deadline do server:step(0.01) end
        assert.truthy(done())
      end
      local function conn_count()
        local n = 0
        for _ in pairs(server.conns) do n = n + 1 end
        return n
      end
      server.scripts[1] = { method = "GET", responses = { { status = 200, headers = {}, body = "", endless = true } } }
      local sock = assert(socket.tcp())
      sock:settimeout(0)
      sock:connect("127.0.0.1", server.port)
      pump(function() return conn_count() == 1 end)
      assert(sock:send("GET /endless HTTP/1.1\r\nHost: x\r\n\r\n"))
      local received = 0
      pump(function()
        local data, _, partial = sock:receive(65536)
        received = received + #(data or partial)
        return received > 200 * 1024
      end)
      sock:close()
      pump(function() return conn_count() == 0 end)
      server:stop()
    end)
  end)

  describe("connections", function()
    it("keeps a client's connection alive while another connection scripts the server", function()
      local client = connect(srv.port)
      send_request(client, "GET", PREFIX .. "/pg-cdc/status")
      assert.equal(200, (read_response(client)))
      srv:script { method = "GET", path = PREFIX .. "/pg-cdc/status", responses = { { status = 429, body = "{}" } } }
      send_request(client, "GET", PREFIX .. "/pg-cdc/status")
      assert.equal(429, (read_response(client)))
      send_request(client, "GET", PREFIX .. "/pg-cdc/status")
      assert.equal(200, (read_response(client)))
      client:close()
      local reqs = srv:requests()
      assert.equal(3, #reqs)
      assert.equal(reqs[1].connection, reqs[3].connection)
    end)

    it("records each request with its exact head bytes, lowercase headers and body, capped", function()
      local head = "POST /rec?q=%41%2f HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Odd:   spaced  \r\n" ..
        "X-Dup: 1\r\nX-Dup: 2\r\nContent-Length: 5\r\n\r\n"
      local sock = connect(srv.port)
      assert(sock:send(head .. "hello"))
      assert.equal(404, (read_response(sock)))
      local reqs = srv:requests()
      assert.equal(1, #reqs)
      local r = reqs[1]
      assert.same({ "POST", "/rec?q=%41%2f", head, "hello" }, { r.method, r.target, r.raw, r.body })
      assert.equal("spaced", reqs[1].headers["x-odd"])
      assert.equal("1, 2", reqs[1].headers["x-dup"])
      for i = 1, 1005 do send_request(sock, "GET", "/n/" .. i) end
      for _ = 1, 1005 do read_response(sock) end
      sock:close()
      reqs = srv:requests()
      assert.equal(1000, #reqs)
      assert.equal("/n/1005", reqs[1000].target)
    end)
  end)

  it("requires the configured credentials: Basic or Bearer for Confluent, Bearer for Feldera", function()
    local secured = helpers.start_fake { api_key = "KEY", api_secret = "se:cret", token = "tok" }
    local ok, err = pcall(function()
      local status, body = get_json(secured.port, PREFIX)
      assert.equal(401, status)
      assert.same(cjson.decode(helpers.fixture("confluent_error_401.json")), body)
      local basic = { Authorization = "Basic " .. helpers.base64("KEY:se:cret") }
      assert.equal(200, (get_json(secured.port, PREFIX, basic)))
      assert.equal(200, (get_json(secured.port, PREFIX, { Authorization = "Bearer tok" })))
      assert.equal(401, (get_json(secured.port, PREFIX, { Authorization = "Basic " .. helpers.base64("KEY:nope") })))
      status, body = get_json(secured.port, STATS, basic)
      assert.equal(401, status)
      assert.same({ message = "Unauthorized", error_code = "Unauthorized" }, body)
      assert.equal(200, (get_json(secured.port, STATS, { Authorization = "Bearer tok" })))
      secured:reset() -- control requests need no credentials
    end)
    secured:stop()
    assert(ok, err)
  end)

  it("rate limits Confluent requests when asked, with relative reset seconds", function()
    local limited = helpers.start_fake { rate_limit = { limit = 2, window = 1 } }
    local ok, err = pcall(function()
      local _, h1 = request(limited.port, "GET", PREFIX)
      local _, h2 = request(limited.port, "GET", PREFIX)
      assert.same({ "2", "1", "0" },
        { h1["x-ratelimit-limit"], h1["x-ratelimit-remaining"], h2["x-ratelimit-remaining"] })
      assert.equal("1", h1["x-ratelimit-reset"])
      local status, h3 = request(limited.port, "GET", PREFIX)
      assert.same({ 429, "1" }, { status, h3["retry-after"] })
      socket.sleep(1.05)
      assert.equal(200, (request(limited.port, "GET", PREFIX)))
    end)
    limited:stop()
    assert(ok, err)
  end)

  it("is loopback only, fails fast when the child cannot start, and stops for good", function()
    assert.has_error(function() fake.new { host = "0.0.0.0" } end)
    local t0 = socket.gettime()
    assert.has_error(function() fake.start { interpreter = "no-such-lua-interpreter" } end)
    assert.truthy(socket.gettime() - t0 < 3)
    local short = helpers.start_fake { scenario = "empty" }
    local status, _, _, raw = get_json(short.port, PREFIX)
    assert.same({ 200, "[]" }, { status, raw })
    short:stop()
    short:stop()
    local sock = assert(socket.tcp())
    sock:settimeout(1)
    assert.is_nil(sock:connect("127.0.0.1", short.port))
    sock:close()
  end)
end)
