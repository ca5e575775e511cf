-- connectstatus.fake.http: the fake's HTTP/1.1 server side. One coroutine per connection, driven by
-- socket.select, so a client may keep its connection alive while another connection scripts
-- faults through the control API. Adds the loop's methods to a server class (see M.install).
local socket = require "socket"
local common = require "connectstatus.fake.common"
local faults = require "connectstatus.fake.faults"

local M = {}

local MAX_HEAD = 64 * 1024
local MAX_BODY = 16 * 1024 * 1024
local READ_SIZE = 8192
local now, int, find_header = common.now, common.int, common.find_header

local REASONS = {
  [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [301] = "Moved Permanently", [302] = "Found", [303] = "See Other", [307] = "Temporary Redirect",
  [308] = "Permanent Redirect", [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [409] = "Conflict", [410] = "Gone",
  [413] = "Payload Too Large", [429] = "Too Many Requests", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway", [503] = "Service Unavailable", [504] = "Gateway Timeout",
}

-- Raised inside a connection's coroutine when its peer is gone; ends the coroutine quietly.
local CLOSED = setmetatable({}, { __tostring = function() return "connection closed" end })

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
    self:send(faults.ENDLESS_CHUNK)
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
  if not req then return nil, common.confluent_error(400, "malformed request") end
  if req.headers["transfer-encoding"] then
    return nil, common.confluent_error(501, "request bodies must have a Content-Length")
  end
  local length = tonumber(req.headers["content-length"] or "0")
  if not length or length < 0 or length > MAX_BODY then
    return nil, common.confluent_error(400, "bad Content-Length")
  end
  if (req.headers.expect or ""):lower() == "100-continue" then self:send("HTTP/1.1 100 Continue\r\n\r\n") end
  req.body = self:read_body(length)
  if not req.body then return nil end
  req.connection = self.id
  return req
end

---------------------------------------------------------------------------------------------------
-- The loop, as methods of the server: self.listener, self.conns, self.closed, self:dispatch(req).

local Loop = {}

function Loop:stop()
  if self.closed then return end
  self.closed = true
  self.listener:close()
  for conn in pairs(self.conns) do conn.sock:close() end
  self.conns = {}
end

function Loop:serve()
  while self:step(1) do end
end

-- One select round: accepts, then resumes every connection whose wait is over. False once stopped.
function Loop:step(timeout)
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

function Loop:accept()
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

function Loop:resume(conn)
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

function Loop:serve_connection(conn)
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

function Loop:head(r, close)
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
function Loop:deliver(conn, req, r)
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
  local payload = r.chunked and faults.chunked(r.body, truncate) or r.body:sub(1, truncate or #r.body)
  conn:send_paced(payload, r.drip)
  if r.then_stop then self:stop() end
  return not close
end

function M.install(class)
  for name, f in pairs(Loop) do class[name] = f end
end

return M
