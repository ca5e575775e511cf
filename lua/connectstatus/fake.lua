-- connectstatus.fake: a loopback fake of the Confluent Cloud Connect v1 and Feldera v0 APIs over
-- HTTP/1.1, so runbooks and tests can run without a cloud account. Pure Lua on lua-socket: one
-- coroutine per connection, driven by socket.select, so a client may keep its connection alive
-- while another connection scripts faults through the /_fake/ control API.
local socket = require "socket"
local core = require "connectstatus.core"

local M = {}

local LOOPBACK = "127.0.0.1"
local MAX_RECORDS = 1000
local MAX_HEAD = 64 * 1024
local MAX_BODY = 16 * 1024 * 1024
local READ_SIZE = 8192
local CHUNK_SIZE = 256
local START_TIMEOUT = 5
local CONTROL_TIMEOUT = 5
local DEMO_ENV, DEMO_CLUSTER = "env-demo", "lkc-demo"
local MASKED = "****************"

local REASONS = {
  [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [301] = "Moved Permanently", [302] = "Found", [303] = "See Other", [307] = "Temporary Redirect",
  [308] = "Permanent Redirect", [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [409] = "Conflict", [413] = "Payload Too Large",
  [429] = "Too Many Requests", [500] = "Internal Server Error", [501] = "Not Implemented",
  [502] = "Bad Gateway", [503] = "Service Unavailable", [504] = "Gateway Timeout",
}

-- Raised inside a connection's coroutine when its peer is gone; ends the coroutine quietly.
local CLOSED = setmetatable({}, { __tostring = function() return "connection closed" end })

local now = socket.gettime

local function int(n)
  return ("%d"):format(n)
end

local function array(t)
  return setmetatable(t or {}, core.json_array_mt)
end

-- Lua 5.1 and LuaJIT hold numbers as doubles, so counters beyond 2^53 are kept as marked strings
-- and spliced into the JSON text as bare digits.
local U64_PATTERN = '"connectstatus%.fake%.u64:(%d+)"'

local function u64(digits)
  return "connectstatus.fake.u64:" .. digits
end

local function encode(value)
  return (assert(core.json_encode(value)):gsub(U64_PATTERN, "%1"))
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local digits = { math.floor(n / 262144), math.floor(n / 4096) % 64, math.floor(n / 64) % 64, n % 64 }
    local quad = {}
    for j, d in ipairs(digits) do quad[j] = B64:sub(d + 1, d + 1) end
    if not b then quad[3] = "=" end
    if not c then quad[4] = "=" end
    out[#out + 1] = table.concat(quad)
  end
  return table.concat(out)
end
M.base64 = base64

local function percent_decode(s)
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

-- Splits a raw request target into percent-decoded path segments and the raw query.
local function split_target(target)
  local path, query = target:match("^([^?]*)%??(.*)$")
  local segments = {}
  for segment in path:gmatch("[^/]+") do segments[#segments + 1] = percent_decode(segment) end
  return segments, query
end

-- The set of ?expand= values, accepting both "expand=a,b" and repeated "expand=a&expand=b".
local function expansions(query)
  local set
  for pair in query:gmatch("[^&]+") do
    local key, value = pair:match("^([^=]*)=?(.*)$")
    if percent_decode(key) == "expand" then
      set = set or {}
      for item in percent_decode(value):gmatch("[^,]+") do set[item] = true end
    end
  end
  return set
end

---------------------------------------------------------------------------------------------------
-- A gzip of many zero bytes, built at runtime: one dynamic-Huffman deflate block whose only codes
-- are literal 0, length 258 and distance 1, each match costing two bits (about 1032:1).

local BOMB_MATCHES = 262144 -- 1 + 258 * 262144 = 67,633,153 zero bytes from about 64 KiB
local BOMB_SIZE = 1 + 258 * BOMB_MATCHES
local BOMB_CRC32 = 0x3455d026 -- CRC-32 of BOMB_SIZE zero bytes (python3: zlib.crc32(bytes(n)))
local bomb

local function bit_writer()
  local bytes, acc, place = {}, 0, 1
  local w = {}
  function w.bits(value, count) -- an integer, least significant bit first
    for _ = 1, count do
      acc = acc + value % 2 * place
      value = math.floor(value / 2)
      place = place * 2
      if place == 256 then
        bytes[#bytes + 1] = string.char(acc)
        acc, place = 0, 1
      end
    end
  end
  function w.code(code) -- a Huffman code written as "101", most significant bit first
    for i = 1, #code do w.bits(code:byte(i) - 48, 1) end
  end
  function w.zero_bytes(n)
    bytes[#bytes + 1] = string.rep("\0", n)
  end
  function w.pad() -- zero bits up to the next byte boundary; returns how many
    local n = 0
    while place ~= 1 do
      w.bits(0, 1)
      n = n + 1
    end
    return n
  end
  function w.finish()
    w.pad()
    return table.concat(bytes)
  end
  return w
end

local function little_endian32(n)
  local out = {}
  for i = 1, 4 do
    out[i] = string.char(n % 256)
    n = math.floor(n / 256)
  end
  return table.concat(out)
end

local function gzip_bomb()
  if bomb then return bomb end
  local w = bit_writer()
  w.bits(1, 1) -- final block
  w.bits(2, 2) -- dynamic Huffman
  w.bits(286 - 257, 5) -- literal/length codes up to 285
  w.bits(0, 5) -- one distance code
  w.bits(18 - 4, 4) -- code length codes in the standard order, up to the one for length 1
  local cl_lengths = { [18] = 1, [1] = 2, [2] = 2 } -- codes: 18 = "0", 1 = "10", 2 = "11"
  for _, symbol in ipairs { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1 } do
    w.bits(cl_lengths[symbol] or 0, 3)
  end
  -- Code lengths: literal 0 -> 2, 1..255 -> none, 256 -> 2, 257..284 -> none, 285 -> 1, distance 0 -> 1.
  -- Resulting codes: 285 = "0", literal 0 = "10", end of block = "11", distance 1 = "0".
  w.code("11")
  w.code("0"); w.bits(138 - 11, 7)
  w.code("0"); w.bits(117 - 11, 7)
  w.code("11")
  w.code("0"); w.bits(28 - 11, 7)
  w.code("10")
  w.code("10")
  w.code("10") -- literal 0, then every match is "0" + "0": pad to a byte boundary, then whole zero bytes
  local bits_left = 2 * BOMB_MATCHES - w.pad()
  w.zero_bytes(math.floor(bits_left / 8))
  w.bits(0, bits_left % 8)
  w.code("11")
  bomb = "\31\139\8\0\0\0\0\0\0\255" .. w.finish() .. little_endian32(BOMB_CRC32) .. little_endian32(BOMB_SIZE)
  return bomb
end

---------------------------------------------------------------------------------------------------
-- The demo model.

local TRACE_CONFIG = "There were some errors with your configuration:\n" ..
  "topics: Provided Kafka ApiKey is invalid\nkafka.api.secret: Provided Kafka ApiKey is invalid\n"
local TRACE_TASK = "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSourceTask due to " ..
  "unrecoverable exception.\n\tat org.apache.kafka.connect.runtime.WorkerTask.doRun(WorkerTask.java:210)\n" ..
  "\tat org.apache.kafka.connect.runtime.WorkerTask.run(WorkerTask.java:259)\n" ..
  "Caused by: org.apache.kafka.common.errors.RecordTooLargeException: The message is 1048677 bytes " ..
  "when serialized which is larger than 1048576, which is the value of the max.request.size configuration.\n"
local OFFSETS_ALTERED = "The Connect framework-managed offsets for this connector have been altered " ..
  "successfully. However, if this connector manages offsets externally, they will need to be altered " ..
  "manually in the system that the connector uses."

local function connector_config(name, class, kind, extra)
  local config = {
    ["cloud.environment"] = "prod", ["cloud.provider"] = "aws", ["connector.class"] = class,
    ["kafka.api.key"] = MASKED, ["kafka.api.secret"] = MASKED, ["kafka.auth.mode"] = "KAFKA_API_KEY",
    ["kafka.endpoint"] = "SASL_SSL://pkc-demo.us-west-2.aws.confluent.cloud:9092",
    ["kafka.region"] = "us-west-2", name = name, ["tasks.max"] = "1", type = kind,
  }
  for k, v in pairs(extra) do config[k] = v end
  return config
end

local function snapshot(state, trace, tasks)
  return { connector = { state = state, trace = trace }, tasks = tasks or {} }
end

local function new_connector(name, kind, id, config, states)
  return { name = name, type = kind, id = id, config = config, states = states, reads = 0, offset_reads = 0 }
end

local function pg_cdc_offsets()
  local request = {
    id = "lcc-demo4pgcdc", name = "pg-cdc", requested_at = "2024-02-20T15:14:19Z", type = "PATCH",
    offsets = { { partition = { server = "pg-demo" }, offset = { lsn = 24023128, txId = 1045 } } },
  }
  return {
    { request = request, status = { phase = "PENDING" }, applied_at = core.null },
    { request = request, status = { phase = "PENDING_VALIDATION" }, applied_at = core.null },
    {
      request = request, status = { phase = "APPLIED", message = OFFSETS_ALTERED },
      previous_offsets = { { partition = { server = "pg-demo" }, offset = { lsn = 23998720, txId = 1039 } } },
      applied_at = "2024-02-20T15:14:20+0000",
    },
  }
end

local function demo_connectors()
  local running_task = { { id = 0, state = "RUNNING" } }
  local c = {}
  c["orders-sink"] = new_connector("orders-sink", "sink", "lcc-demo1ords",
    connector_config("orders-sink", "PostgresSink", "sink", {
      topics = "orders", ["connection.host"] = "pg.demo.internal", ["connection.password"] = MASKED,
      ["input.data.format"] = "AVRO" }),
    { snapshot("PROVISIONING"), snapshot("PROVISIONING"), snapshot("RUNNING", nil, running_task) })
  c["s3-archive"] = new_connector("s3-archive", "sink", "lcc-demo2s3ar",
    connector_config("s3-archive", "S3_SINK", "sink", {
      topics = "orders", ["s3.bucket.name"] = "demo-archive", ["aws.secret.access.key"] = MASKED,
      ["time.interval"] = "HOURLY" }),
    { snapshot("FAILED", TRACE_CONFIG) })
  c["datagen-orders"] = new_connector("datagen-orders", "source", "lcc-demo3dgen",
    connector_config("datagen-orders", "DatagenSource", "source", {
      ["kafka.topic"] = "orders", quickstart = "ORDERS", ["output.data.format"] = "JSON", ["tasks.max"] = "2" }),
    { snapshot("RUNNING", nil, { { id = 0, state = "RUNNING" },
      { id = 1, state = "FAILED", trace = TRACE_TASK, msg = "Task failed: RecordTooLargeException" } }) })
  c["pg-cdc"] = new_connector("pg-cdc", "source", "lcc-demo4pgcdc",
    connector_config("pg-cdc", "PostgresCdcSourceV2", "source", {
      ["database.hostname"] = "pg.demo.internal", ["database.password"] = MASKED,
      ["topic.prefix"] = "pg-demo", ["output.data.format"] = "AVRO" }),
    { snapshot("RUNNING", nil, running_task) })
  c["pg-cdc"].offsets = pg_cdc_offsets()
  return c
end

local function input_stats(endpoint, stream, records, buffered, end_of_input)
  return {
    endpoint_name = endpoint, config = { stream = stream }, paused = false, barrier = false,
    metrics = {
      total_bytes = u64(records .. "7"), total_records = u64(records), buffered_records = buffered,
      buffered_bytes = buffered * 70, num_transport_errors = 0, num_parse_errors = 0,
      end_of_input = end_of_input, processing_latency_p99_micros = 1830,
    },
  }
end

local function endpoint_key(pipeline, table_name, connector)
  return pipeline .. "\0" .. table_name .. "\0" .. connector
end

local function new_model(scenario)
  local model = { connectors = {}, pipelines = {}, endpoints = {} }
  if scenario == "empty" then return model end
  model.connectors = demo_connectors()
  model.pipelines["demo-pipeline"] = true
  model.endpoints[endpoint_key("demo-pipeline", "orders", "backfill")] = { reads = 0, stats = {
    input_stats("orders.backfill", "orders", "9007199254700001", 4096, false),
    input_stats("orders.backfill", "orders", "9007199254720001", 8192, false),
    input_stats("orders.backfill", "orders", "9007199254740993", 2048, true),
    input_stats("orders.backfill", "orders", "9007199254740993", 0, true),
  } }
  return model
end

-- The element a read sees now, and the same with the sequence advanced.
local function peek(seq, reads)
  return seq[math.min(reads + 1, #seq)]
end

local function status_body(c, snap)
  local tasks = array()
  for i, t in ipairs(snap.tasks or {}) do
    tasks[i] = { id = t.id or i - 1, state = t.state, worker_id = t.worker_id or c.name, msg = t.msg or "",
      trace = t.trace }
  end
  return {
    name = c.name, type = c.type, tasks = tasks,
    connector = { state = snap.connector.state, worker_id = snap.connector.worker_id or c.name,
      trace = snap.connector.trace or "" },
  }
end

---------------------------------------------------------------------------------------------------
-- Responses: { status, headers = { {name, value}... }, body, and optional fault options }.

local function json_response(status, value)
  return { status = status, headers = {}, body = encode(value) }
end

local function confluent_error(status, message)
  return json_response(status, { error = { code = status, message = message } })
end

local function feldera_error(status, message, error_code, details)
  return json_response(status, { message = message, error_code = error_code, details = details })
end

local function find_header(headers, name)
  name = name:lower()
  for _, h in ipairs(headers) do
    if h[1]:lower() == name then return h[2] end
  end
end

local FAULTS = { "delay", "drip", "truncate", "chunked", "reset", "empty", "content_length", "endless", "size" }
local RESETS = { before_headers = true, after_headers = true }

-- Turns one /_fake/script response object into a response; nil, message when it is malformed.
local function scripted_response(spec)
  if type(spec) ~= "table" then return nil, "each response must be an object" end
  if spec.body ~= nil and type(spec.body) ~= "string" then return nil, "body must be a string" end
  if spec.reset ~= nil and not RESETS[spec.reset] then return nil, "reset must be before_headers or after_headers" end
  local r = { status = tonumber(spec.status) or 200, headers = {}, body = spec.body or "" }
  if spec.json ~= nil then r.body = encode(spec.json) end
  for _, key in ipairs(FAULTS) do
    if spec[key] ~= nil and spec[key] ~= false then r[key] = spec[key] end
  end
  if spec.gzip_bomb then
    r.body = gzip_bomb()
    r.headers[#r.headers + 1] = { "Content-Encoding", "gzip" }
  end
  if spec.redirect then r.headers[#r.headers + 1] = { "Location", tostring(spec.redirect) } end
  local names = {}
  for name in pairs(type(spec.headers) == "table" and spec.headers or {}) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do r.headers[#r.headers + 1] = { name, tostring(spec.headers[name]) } end
  return r
end

-- The chunked form of body; with limit, cut right after that many body bytes, inside a chunk.
local function chunked(body, limit)
  local out, sent = {}, 0
  for i = 1, #body, CHUNK_SIZE do
    local piece = body:sub(i, i + CHUNK_SIZE - 1)
    out[#out + 1] = ("%x\r\n"):format(#piece)
    if limit and sent + #piece >= limit then
      out[#out + 1] = piece:sub(1, limit - sent)
      return table.concat(out)
    end
    out[#out + 1] = piece .. "\r\n"
    sent = sent + #piece
  end
  out[#out + 1] = "0\r\n\r\n"
  return table.concat(out)
end

local ENDLESS_CHUNK = ("%x\r\n%s\r\n"):format(4096, ("0,"):rep(2048))

---------------------------------------------------------------------------------------------------
-- A connection: a non-blocking socket whose coroutine yields whenever it must wait.

local Conn = {}
Conn.__index = Conn

local function new_conn(sock, id)
  return setmetatable({ sock = sock, id = id, buf = "", waiting = nil, wake_at = 0 }, Conn)
end

function Conn:wait(what)
  self.waiting = what
  coroutine.yield()
end

function Conn:sleep(seconds)
  self.wake_at = now() + (tonumber(seconds) or 0)
  self:wait("sleep")
end

-- Appends what the socket has to the buffer; false at the end of the stream.
function Conn:fill()
  while true do
    local data, err, partial = self.sock:receive(READ_SIZE)
    local got = data or partial
    if got and #got > 0 then
      self.buf = self.buf .. got
      return true
    end
    if err ~= "timeout" then return false end
    self:wait("read")
  end
end

function Conn:read_head()
  while true do
    local stop = self.buf:find("\r\n\r\n", 1, true)
    -- A TLS ClientHello (record type 22) never holds a blank line: answer it as the malformed
    -- request it is, as a plain HTTP server does, instead of waiting for more.
    if self.buf:byte(1) == 22 then stop = #self.buf - 3 end
    if stop then
      local head = self.buf:sub(1, stop + 3)
      self.buf = self.buf:sub(stop + 4)
      return head
    end
    if #self.buf > MAX_HEAD or not self:fill() then return nil end
  end
end

function Conn:read_body(length)
  while #self.buf < length do
    if not self:fill() then return nil end
  end
  local body = self.buf:sub(1, length)
  self.buf = self.buf:sub(length + 1)
  return body
end

function Conn:send(data)
  local from = 1
  while from <= #data do
    local last, err, partial = self.sock:send(data, from)
    if last then return end
    if err ~= "timeout" then error(CLOSED, 0) end
    from = partial + 1
    self:wait("write")
  end
end

-- Sends data at about rate bytes per second, in tenth-of-a-second slices.
function Conn:send_paced(data, rate)
  rate = tonumber(rate)
  if not rate or rate <= 0 then return self:send(data) end
  local slice = math.max(1, math.floor(rate / 10))
  for i = 1, #data, slice do
    self:send(data:sub(i, i + slice - 1))
    if i + slice <= #data then self:sleep(slice / rate) end
  end
end

-- A chunked JSON array of zeros generated while sending, so a test can ask for far more than a
-- script could carry: endless, or ending after at least size bytes. Stops when the client has gone.
function Conn:send_endless(size)
  self:send("1\r\n[\r\n")
  local sent = 1
  while not size or sent < size do
    self:send(ENDLESS_CHUNK)
    sent = sent + 4096
    self:wait("write") -- let the other connections run between chunks
  end
  self:send("2\r\n0]\r\n0\r\n\r\n")
end

-- Closes abruptly: with SO_LINGER 0 the kernel sends RST instead of FIN.
function Conn:abort()
  pcall(self.sock.setoption, self.sock, "linger", { on = true, timeout = 0 })
  self.sock:close()
  error(CLOSED, 0)
end

---------------------------------------------------------------------------------------------------
-- Parsing requests.

local function parse_head(raw)
  local method, target, version = raw:match("^(%u+) (%S+) HTTP/(%d%.%d)\r\n")
  if not method then return nil end
  local headers = {}
  local first = true
  for line in raw:gmatch("([^\r\n]*)\r\n") do
    if not first and line ~= "" then
      local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
      if not name then return nil end
      name = name:lower()
      headers[name] = headers[name] and headers[name] .. ", " .. value or value
    end
    first = false
  end
  return { method = method, target = target, version = version, headers = headers, raw = raw }
end

local function wants_keep_alive(req)
  if not req or req.version ~= "1.1" then return false end
  return not (req.headers.connection or ""):lower():find("close", 1, true)
end

-- The next request on the connection; nil at its end, or nil and a response that refuses it.
function Conn:read_request()
  local head = self:read_head()
  if not head then return nil end
  local req = parse_head(head)
  if not req then return nil, confluent_error(400, "malformed request") end
  if req.headers["transfer-encoding"] then
    return nil, confluent_error(501, "request bodies must have a Content-Length")
  end
  local length = tonumber(req.headers["content-length"] or "0")
  if not length or length < 0 or length > MAX_BODY then return nil, confluent_error(400, "bad Content-Length") end
  if (req.headers.expect or ""):lower() == "100-continue" then self:send("HTTP/1.1 100 Continue\r\n\r\n") end
  req.body = self:read_body(length)
  if not req.body then return nil end
  req.connection = self.id
  return req
end

---------------------------------------------------------------------------------------------------
-- The server.

local Server = {}
Server.__index = Server

function M.new(opts)
  opts = opts or {}
  local host = opts.host or LOOPBACK
  if host ~= LOOPBACK and host ~= "localhost" then
    error("connectstatus.fake listens on loopback only (127.0.0.1 or localhost), got " .. tostring(host), 2)
  end
  if (opts.api_key == nil) ~= (opts.api_secret == nil) then
    error("connectstatus.fake: api_key and api_secret go together", 2)
  end
  local scenario = opts.scenario or "demo"
  if scenario ~= "demo" and scenario ~= "empty" then
    error("connectstatus.fake: unknown scenario " .. tostring(scenario) .. " (demo or empty)", 2)
  end
  local listener = assert(socket.tcp())
  listener:setoption("reuseaddr", true)
  local ok, err = listener:bind(LOOPBACK, int(opts.port or 0))
  if ok then ok, err = listener:listen(256) end
  if not ok then
    listener:close()
    error(("connectstatus.fake: cannot listen on %s:%s: %s"):format(LOOPBACK, tostring(opts.port or 0), err), 2)
  end
  listener:settimeout(0)
  local _, port = listener:getsockname()
  port = tonumber(port)
  local self = setmetatable({
    listener = listener, port = port, url = "http://" .. LOOPBACK .. ":" .. port, scenario = scenario,
    conns = {}, conn_count = 0, response_count = 0, in_flight = 0, closed = false,
    basic = opts.api_key and "Basic " .. base64(opts.api_key .. ":" .. opts.api_secret),
    bearer = opts.token and "Bearer " .. opts.token,
    rate_limit = opts.rate_limit and { limit = opts.rate_limit.limit or 100, window = opts.rate_limit.window or 60 },
  }, Server)
  self:reset()
  return self
end

function Server:reset()
  self.scripts, self.records, self.model = {}, {}, new_model(self.scenario)
  if self.rate_limit then self.rate_limit.window_end = nil end
end

function Server:stop()
  if self.closed then return end
  self.closed = true
  self.listener:close()
  for conn in pairs(self.conns) do conn.sock:close() end
  self.conns = {}
end

function Server:serve()
  while self:step(1) do end
end

-- One select round: accepts, then resumes every connection whose wait is over. False once stopped.
function Server:step(timeout)
  if self.closed then return false end
  local readers, writers = { self.listener }, {}
  local wake = now() + (timeout or 0)
  for conn in pairs(self.conns) do
    if conn.waiting == "read" then
      readers[#readers + 1] = conn.sock
    elseif conn.waiting == "write" then
      writers[#writers + 1] = conn.sock
    elseif conn.wake_at < wake then
      wake = conn.wake_at
    end
  end
  local readable, writable = socket.select(readers, writers, math.max(0, wake - now()))
  if readable[self.listener] then self:accept() end
  local t, ready = now(), {}
  for conn in pairs(self.conns) do
    local w = conn.waiting
    if (w == "read" and readable[conn.sock]) or (w == "write" and writable[conn.sock])
        or (w == "sleep" and conn.wake_at <= t) then
      ready[#ready + 1] = conn
    end
  end
  for _, conn in ipairs(ready) do
    if self.conns[conn] then self:resume(conn) end
  end
  return not self.closed
end

function Server:accept()
  while not self.closed do
    local sock = self.listener:accept()
    if not sock then return end
    sock:settimeout(0)
    sock:setoption("tcp-nodelay", true)
    self.conn_count = self.conn_count + 1
    local conn = new_conn(sock, self.conn_count)
    conn.co = coroutine.create(function() self:serve_connection(conn) end)
    self.conns[conn] = true
    self:resume(conn)
  end
end

function Server:resume(conn)
  conn.waiting = nil
  local ok, err = coroutine.resume(conn.co)
  if not ok and err ~= CLOSED then
    io.stderr:write("connectstatus.fake: ", debug.traceback(conn.co, tostring(err)), "\n")
  end
  if coroutine.status(conn.co) == "dead" then
    if conn.answering then self.in_flight = self.in_flight - 1 end
    conn.sock:close()
    self.conns[conn] = nil
  end
end

function Server:serve_connection(conn)
  while true do
    local req, refusal = conn:read_request()
    if not req then
      if refusal then self:deliver(conn, nil, refusal) end
      return
    end
    -- Requests being answered right now, so specs can see how many a client had open at once.
    self.in_flight = self.in_flight + 1
    conn.answering = true
    local response = self:dispatch(req)
    local keep = self:deliver(conn, req, response)
    conn.answering = nil
    self.in_flight = self.in_flight - 1
    if not keep then return end
  end
end

function Server:head(r, close)
  self.response_count = self.response_count + 1
  local lines = { ("HTTP/1.1 %d %s"):format(r.status, REASONS[r.status] or "Status") }
  if not find_header(r.headers, "content-type") then lines[#lines + 1] = "Content-Type: application/json" end
  if r.chunked or r.endless or r.size then
    lines[#lines + 1] = "Transfer-Encoding: chunked"
  else
    local length = r.content_length or #r.body
    lines[#lines + 1] = "Content-Length: " .. (type(length) == "number" and int(length) or tostring(length))
  end
  if not find_header(r.headers, "x-request-id") then
    lines[#lines + 1] = ("X-Request-Id: fake-%06d"):format(self.response_count)
  end
  for _, h in ipairs(r.headers) do lines[#lines + 1] = h[1] .. ": " .. h[2] end
  if close then lines[#lines + 1] = "Connection: close" end
  return table.concat(lines, "\r\n") .. "\r\n\r\n"
end

-- Writes the response with its faults; true when the connection may serve another request.
function Server:deliver(conn, req, r)
  if r.delay then conn:sleep(r.delay) end
  if r.empty then return false end
  if r.reset == "before_headers" then conn:abort() end
  local connection = (find_header(r.headers, "connection") or ""):lower()
  local close = r.truncate or r.content_length or r.reset or r.endless or r.then_stop
    or not wants_keep_alive(req) or connection:find("close", 1, true)
  conn:send(self:head(r, close))
  if r.reset == "after_headers" then conn:abort() end
  if r.endless then conn:send_endless() end
  if r.size then
    conn:send_endless(tonumber(r.size))
    return not close
  end
  local truncate = tonumber(r.truncate)
  local payload = r.chunked and chunked(r.body, truncate) or r.body:sub(1, truncate or #r.body)
  conn:send_paced(payload, r.drip)
  if r.then_stop then self:stop() end
  return not close
end

function Server:dispatch(req)
  local segments, query = split_target(req.target)
  if segments[1] == "_fake" then return self:control(req, segments) end
  self:record(req)
  local scripted = self:take_script(req)
  if scripted then return scripted end
  if segments[1] == "connect" and segments[2] == "v1" then return self:confluent(req, segments, query) end
  if segments[1] == "v0" then return self:feldera(req, segments) end
  return confluent_error(404, "Not Found")
end

function Server:record(req)
  local records = self.records
  records[#records + 1] = { method = req.method, target = req.target, headers = req.headers, raw = req.raw,
    body = req.body, connection = req.connection, in_flight = self.in_flight, at = now() }
  if #records > MAX_RECORDS then table.remove(records, 1) end
end

function Server:take_script(req)
  for i, script in ipairs(self.scripts) do
    if (script.method == nil or script.method == req.method) and (script.path == nil or script.path == req.target) then
      local r = table.remove(script.responses, 1)
      if #script.responses == 0 then table.remove(self.scripts, i) end
      return r
    end
  end
end

---------------------------------------------------------------------------------------------------
-- Confluent Cloud Connect v1.

function Server:confluent(req, segments, query)
  local given = req.headers.authorization
  if (self.basic or self.bearer) and not (given and (given == self.basic or given == self.bearer)) then
    return confluent_error(401, "Unauthorized")
  end
  local limited, limit_headers = self:take_rate_limit()
  local r = limited or self:confluent_route(req, segments, query)
  for _, h in ipairs(limit_headers or {}) do r.headers[#r.headers + 1] = h end
  return r
end

-- Counts one request against the window; a 429 response when none are left, and the headers.
function Server:take_rate_limit()
  local rl = self.rate_limit
  if not rl then return nil end
  local t = now()
  if not rl.window_end or t >= rl.window_end then rl.window_end, rl.remaining = t + rl.window, rl.limit end
  local reset = int(math.ceil(rl.window_end - t))
  local limited
  if rl.remaining <= 0 then
    limited = confluent_error(429, "Too Many Requests")
    limited.headers[#limited.headers + 1] = { "Retry-After", reset }
  else
    rl.remaining = rl.remaining - 1
  end
  return limited, { { "X-RateLimit-Limit", int(rl.limit) }, { "X-RateLimit-Remaining", int(rl.remaining) },
    { "X-RateLimit-Reset", reset } }
end

local CONFLUENT_ROUTES = {}

function Server:confluent_route(req, seg, query)
  if seg[3] ~= "environments" or seg[5] ~= "clusters" or seg[7] ~= "connectors" then
    return confluent_error(404, "Not Found")
  end
  if seg[4] ~= DEMO_ENV or seg[6] ~= DEMO_CLUSTER then return confluent_error(404, "account not found") end
  if req.method ~= "GET" then return confluent_error(405, "Method Not Allowed") end
  if #seg == 7 then return self:list_connectors(query) end
  local c = self.model.connectors[seg[8]]
  if not c then return confluent_error(404, ("Connector %s not found"):format(seg[8])) end
  local route = CONFLUENT_ROUTES[table.concat(seg, "/", 9)]
  if not route then return confluent_error(404, "Not Found") end
  return route(c)
end

function Server:list_connectors(query)
  local want = expansions(query)
  local names = array()
  for name in pairs(self.model.connectors) do names[#names + 1] = name end
  table.sort(names)
  if not want then return json_response(200, names) end
  for item in pairs(want) do
    if item ~= "id" and item ~= "info" and item ~= "status" then
      return confluent_error(400, "invalid expand value: " .. item)
    end
  end
  local map = {}
  for _, name in ipairs(names) do
    local c = self.model.connectors[name]
    map[name] = {
      id = want.id and { id = c.id, id_type = "ID" } or nil,
      info = want.info and { name = name, config = c.config, type = c.type } or nil,
      status = want.status and status_body(c, peek(c.states, c.reads)) or nil,
    }
  end
  return json_response(200, map)
end

CONFLUENT_ROUTES.status = function(c)
  local snap = peek(c.states, c.reads)
  c.reads = c.reads + 1
  return json_response(200, status_body(c, snap))
end

CONFLUENT_ROUTES.tasks = function(c)
  local tasks = array()
  for i, t in ipairs(peek(c.states, c.reads).tasks or {}) do
    tasks[i] = { id = { connector = c.name, task = t.id or i - 1 }, config = c.config }
  end
  return json_response(200, tasks)
end

CONFLUENT_ROUTES["offsets/request/status"] = function(c)
  if not c.offsets then
    return confluent_error(404, ("No offsets request found for connector %s"):format(c.name))
  end
  local body = peek(c.offsets, c.offset_reads)
  c.offset_reads = c.offset_reads + 1
  return json_response(200, body)
end

---------------------------------------------------------------------------------------------------
-- Feldera v0.

function Server:feldera(req, seg)
  if self.bearer and req.headers.authorization ~= self.bearer then
    return json_response(401, { message = "Unauthorized", error_code = "Unauthorized" })
  end
  local is_stats = seg[2] == "pipelines" and seg[4] == "tables" and seg[6] == "connectors" and seg[8] == "stats"
  if not is_stats or #seg ~= 8 then return feldera_error(404, "Not Found", "NotFound", {}) end
  if req.method ~= "GET" then return feldera_error(405, "Method Not Allowed", "MethodNotAllowed", {}) end
  if not self.model.pipelines[seg[3]] then
    return feldera_error(404, ("Unknown pipeline name '%s'"):format(seg[3]), "UnknownPipelineName",
      { pipeline_name = seg[3] })
  end
  local endpoint = self.model.endpoints[endpoint_key(seg[3], seg[5], seg[7])]
  if not endpoint then
    local name = seg[5] .. "." .. seg[7]
    return feldera_error(404, ("Unknown input endpoint '%s'"):format(name), "UnknownInputEndpoint",
      { endpoint_name = name })
  end
  local stats = peek(endpoint.stats, endpoint.reads)
  endpoint.reads = endpoint.reads + 1
  return json_response(200, stats)
end

---------------------------------------------------------------------------------------------------
-- The /_fake/ control API.

local function is_array(v)
  return type(v) == "table" and #v > 0
end

local function normalize_state(state)
  if type(state) == "string" then return snapshot(state) end
  if type(state) == "table" and type(state.connector) == "table" and type(state.connector.state) == "string" then
    return state
  end
end

function Server:set_connector(spec)
  local name = spec.connector
  if type(name) ~= "string" or name == "" then return "connector must be a non-empty string" end
  local c = self.model.connectors[name]
  if not c and not is_array(spec.states) then return "a new connector needs states" end
  c = c or new_connector(name, "sink", "lcc-fake" .. name:gsub("%W", ""):sub(1, 8):lower(), {}, {})
  c.config = type(spec.config) == "table" and spec.config or c.config
  c.type = type(spec.type) == "string" and spec.type or c.type
  if next(c.config) == nil then c.config = connector_config(name, "DatagenSource", c.type, {}) end
  if spec.states ~= nil then
    if not is_array(spec.states) then return "states must be a non-empty array" end
    local states = {}
    for i, state in ipairs(spec.states) do
      states[i] = normalize_state(state)
      if not states[i] then return "each state is a string or an object with connector.state" end
    end
    c.states, c.reads = states, 0
  end
  if spec.offsets ~= nil then
    if not is_array(spec.offsets) then return "offsets must be a non-empty array" end
    c.offsets, c.offset_reads = spec.offsets, 0
  end
  self.model.connectors[name] = c
end

function Server:set_feldera(spec)
  for _, key in ipairs { "pipeline", "table", "connector" } do
    if type(spec[key]) ~= "string" or spec[key] == "" then return "feldera." .. key .. " must be a non-empty string" end
  end
  if not is_array(spec.stats) then return "feldera.stats must be a non-empty array" end
  self.model.pipelines[spec.pipeline] = true
  self.model.endpoints[endpoint_key(spec.pipeline, spec.table, spec.connector)] = { stats = spec.stats, reads = 0 }
end

local CONTROL = {}

CONTROL["POST script"] = function(self, spec)
  if type(spec) ~= "table" or not is_array(spec.responses) then return "responses must be a non-empty array" end
  local script = { method = spec.method, path = spec.path, responses = {} }
  for i, r in ipairs(spec.responses) do
    local response, err = scripted_response(r)
    if not response then return ("responses[%d]: %s"):format(i, err) end
    script.responses[i] = response
  end
  self.scripts[#self.scripts + 1] = script
  return nil, { queued = #script.responses }
end

CONTROL["GET requests"] = function(self)
  local copy = array()
  for i, r in ipairs(self.records) do copy[i] = r end
  return nil, copy
end

CONTROL["POST reset"] = function(self)
  self:reset()
  return nil, { ok = true }
end

CONTROL["POST set"] = function(self, spec)
  if type(spec) ~= "table" or (spec.connector == nil and spec.feldera == nil) then
    return "set needs connector or feldera"
  end
  if type(spec.feldera) ~= "table" and spec.feldera ~= nil then return "feldera must be an object" end
  local err = spec.connector ~= nil and self:set_connector(spec)
  if not err and spec.feldera ~= nil then err = self:set_feldera(spec.feldera) end
  if err then return err end
  return nil, { ok = true }
end

CONTROL["POST shutdown"] = function()
  return nil, { ok = true }, true
end

function Server:control(req, segments)
  local handler = #segments == 2 and CONTROL[req.method .. " " .. segments[2]]
  if not handler then return confluent_error(404, "unknown control request " .. req.method .. " " .. req.target) end
  local spec
  if req.body ~= "" then
    local err
    spec, err = core.json_decode(req.body)
    if spec == nil then return confluent_error(400, "body is not JSON: " .. tostring(err)) end
  end
  local problem, result, then_stop = handler(self, spec)
  if problem then return confluent_error(400, problem) end
  local r = json_response(200, result)
  r.then_stop = then_stop
  return r
end

---------------------------------------------------------------------------------------------------
-- Running the server in its own process, and the handle that controls it.

local function own_pid()
  local f = io.open("/proc/self/stat")
  if not f then return 0 end
  local pid = f:read("*n")
  f:close()
  return pid or 0
end

-- False once the process is gone or a zombie; true when there is no /proc to ask.
local function alive(pid)
  local f = io.open(("/proc/%d/stat"):format(pid))
  if not f then return own_pid() == 0 end
  local stat = f:read("*a")
  f:close()
  return stat:match("%) (%a)") ~= "Z"
end

-- Serves until a shutdown request, or until the process opts.exit_with_pid ends (so that a test
-- run that dies leaves no server behind). First prints "listening <port> <pid>" for fake.start.
function M.run(opts)
  local server = M.new(opts)
  local parent = opts and tonumber(opts.exit_with_pid)
  io.stdout:write(("listening %d %d\n"):format(server.port, own_pid()))
  io.stdout:flush()
  local next_check = now() + 1
  while server:step(1) do
    if parent and now() >= next_check then
      if not alive(parent) then server:stop() end
      next_check = now() + 1
    end
  end
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function interpreter()
  if rawget(_G, "jit") then return "luajit" end
  return "lua" .. _VERSION:match("%d+%.%d+")
end

-- A plain HTTP/1.1 exchange over luasocket (not connectstatus's client, which is what is tested).
local function control_request(port, method, path, body)
  body = body or ""
  local sock = socket.tcp()
  sock:settimeout(CONTROL_TIMEOUT)
  local ok, err = sock:connect(LOOPBACK, port)
  if ok then
    ok, err = sock:send(("%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n" ..
      "Content-Length: %d\r\nConnection: close\r\n\r\n%s"):format(method, path, LOOPBACK, port, #body, body))
  end
  local response
  if ok then response, err = sock:receive("*a") end
  sock:close()
  if not response then return nil, err end
  local status, response_body = response:match("^HTTP/1%.1 (%d+) .-\r\n\r\n(.*)$")
  if not status then return nil, "malformed response: " .. response:sub(1, 200) end
  return tonumber(status), response_body
end

local Handle = {}
Handle.__index = Handle

function Handle:call(method, path, spec)
  local body = spec ~= nil and encode(spec) or nil
  local status, response = control_request(self.port, method, path, body)
  if status ~= 200 then
    error(("connectstatus.fake: %s %s failed: %s %s"):format(method, path, tostring(status), tostring(response)), 3)
  end
  return assert(core.json_decode(response))
end

function Handle:script(spec) return self:call("POST", "/_fake/script", spec) end
function Handle:requests() return self:call("GET", "/_fake/requests") end
function Handle:reset() return self:call("POST", "/_fake/reset") end
function Handle:set(spec) return self:call("POST", "/_fake/set", spec) end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local text = f:read("*a")
  f:close()
  return text
end

-- Idempotent. Whatever the server wrote to stderr (internal errors) is passed on to ours.
function Handle:stop()
  if self.stopped then return end
  self.stopped = true
  if not control_request(self.port, "POST", "/_fake/shutdown") then
    os.execute(("kill %d 2>/dev/null"):format(self.pid))
  end
  local extra = read_all(self.log):gsub("^listening [^\n]*\n", "")
  if extra ~= "" then io.stderr:write(extra) end
  os.remove(self.log)
end

-- Waits for the child's first line; fails as soon as it prints anything else or exits.
local function wait_for_listening(log, pid, timeout)
  local deadline = now() + timeout
  while now() < deadline do
    local text = read_all(log)
    local line = text:match("^(listening %d+ %d+)\n")
    if line then return line end
    if (text ~= "" and ("listening"):sub(1, #text) ~= text:sub(1, 9)) or not alive(pid) then
      socket.sleep(0.1)
      return nil, "it exited or failed: " .. read_all(log)
    end
    socket.sleep(0.02)
  end
  return nil, "it printed no port within " .. timeout .. " seconds"
end

function M.start(opts)
  opts = opts or {}
  local child_opts = {}
  for k, v in pairs(opts) do
    if k ~= "interpreter" and k ~= "start_timeout" then child_opts[k] = v end
  end
  child_opts.exit_with_pid = own_pid() ~= 0 and own_pid() or nil
  local setup = ("package.path=%q package.cpath=%q"):format(package.path, package.cpath)
  local run = ("require('connectstatus.fake').run(require('connectstatus.core').json_decode(%q))")
    :format(encode(child_opts))
  local log = os.tmpname()
  local pipe = assert(io.popen(("%s -e %s -e %s >%s 2>&1 & echo $!"):format(
    shell_quote(opts.interpreter or interpreter()), shell_quote(setup), shell_quote(run), shell_quote(log))))
  local child_pid = tonumber(pipe:read("*l"))
  pipe:close()
  local line, problem = wait_for_listening(log, child_pid, opts.start_timeout or START_TIMEOUT)
  if not line then
    os.execute(("kill %d 2>/dev/null"):format(child_pid))
    os.remove(log)
    error("connectstatus.fake: the server process did not start: " .. problem, 2)
  end
  local port = tonumber(line:match("^listening (%d+)"))
  return setmetatable({ url = "http://" .. LOOPBACK .. ":" .. port, port = port, pid = child_pid, log = log }, Handle)
end

return M
