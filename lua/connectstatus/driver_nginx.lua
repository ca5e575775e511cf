-- connectstatus.driver_nginx: the HTTP driver for OpenResty (issue 11). HTTP/1.1 over cosockets
-- (ngx.socket.tcp), so a request yields to nginx's event loop instead of stalling the worker the way a
-- blocking libcurl call does. Implements the request seam (see transport.lua):
--   driver:request{ method =, path = (under the base URL) | url = (absolute, same origin), body = JSON text,
--                   timeout = seconds for the whole exchange, select = (not used yet) }
--   -> { status =, value = | raw = and decode_error = | empty = true, request_id =, retry_after =,
--        rate_limit = { limit =, remaining =, reset = } (raw), location = (absolute, for a 3xx) }
--   or nil, kind, message (kind: connect, timeout, tls, transport, too_large)
-- It never follows redirects: a 3xx comes back with its absolute `location` and the transport decides.
-- Everything read from the network is hostile: heads and bodies are capped, framing is checked.
local core = require "connectstatus.core"

local M = {}

local MAX_HEAD = 64 * 1024 -- status line and headers of one response
local READ_SIZE = 64 * 1024
local SNIPPET = 512
local SPLIT_AT = 16 * 1024 -- a receive buffer larger than this moves into the body's parts
local METHODS = { GET = true, PUT = true, POST = true, PATCH = true, DELETE = true }

-- ---- phases ----

-- Where the lua-nginx-module allows cosockets (and ngx.sleep).
local COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}
-- Where nothing is served yet (or any more), so blocking with libcurl stalls no client.
local BLOCKING_PHASES = { init = true, init_worker = true, exit_worker = true }

local function ngx_api()
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.get_phase) == "function" then return ngx end
end

-- Whether this Lua state runs inside nginx (OpenResty's ngx API is there).
function M.inside()
  return ngx_api() ~= nil
end

-- True in the phases where cosockets work; false outside nginx and in init/init_worker/exit_worker
-- (the caller blocks with libcurl there); raises in the phases where neither may run.
function M.usable(level)
  local ngx = ngx_api()
  if not ngx then return false end
  local phase = ngx.get_phase()
  if COSOCKET_PHASES[phase] then return true end
  if BLOCKING_PHASES[phase] then return false end
  error(("connectstatus: cosockets are disabled in nginx's %s phase (and blocking there would stall the " ..
    "worker); run the call from ngx.timer.at(0, fn), or in rewrite, access or content"):format(phase),
    (level or 1) + 1)
end

-- Sleeps without stalling nginx where it can (ngx.sleep); blocks in init and init_worker, where
-- ngx.sleep is disabled and no client is served yet, and outside nginx.
function M.sleep(seconds)
  if M.usable(2) then return ngx_api().sleep(seconds) end
  return core.sleep(seconds)
end

-- ---- construction ----

-- The type of every option and request field, checked once up front: a wrong one raises naming it.
local OPTION_TYPES = {
  base_url = "string", username = "string", password = "string", token = "string", headers = "table",
  timeout = "number", connect_timeout = "number", stall_timeout = "number", max_body = "number",
  max_depth = "number", pool_size = "number", keepalive_timeout = "number",
}
local REQUEST_TYPES = { path = "string", url = "string", body = "string", timeout = "number" }

local function check_types(t, types, prefix, level)
  for name, expected in pairs(types) do
    local v = t[name]
    if v ~= nil and type(v) ~= expected then
      error(("%s'%s' must be a %s, got %s"):format(prefix, name, expected, type(v)), level + 1)
    end
  end
end

local function positive(config, name, default, level)
  local v = config[name]
  if v == nil then return default end
  if v ~= v or v <= 0 or v == math.huge then -- NaN too
    error(("option '%s' must be a positive number, got %s"):format(name, tostring(v)), level + 1)
  end
  return v
end

local function integer(config, name, default, low, high, level)
  local v = config[name]
  if v == nil then return default end
  if not (v >= low and v <= high) or v ~= math.floor(v) then
    error(("option '%s' must be an integer from %d to %.0f, got %s"):format(name, low, high, tostring(v)), level + 1)
  end
  return v
end

local function header_safe(s)
  return not s:find("[\r\n%z]")
end

local UNSUPPORTED = {
  cafile = "inside nginx, name the CA file with the lua_ssl_trusted_certificate directive",
  capath = "inside nginx, name a CA bundle with the lua_ssl_trusted_certificate directive",
  proxy = "cosockets cannot go through a proxy; call the API directly from nginx",
}

local function parse_base_url(url, level)
  local scheme, authority, prefix = (url or ""):match("^(https?)://([^/?#@]+)([^?#]*)$")
  if not scheme or url:find("[%c%s]") or prefix:find("^[^/]") then
    error("option 'base_url' must look like http(s)://host[:port][/path] without credentials", level + 1)
  end
  local host, port = authority:match("^(%[[%x:.]+%])(.*)$")
  if not host then host, port = authority:match("^([^:]+)(.*)$") end
  port = port ~= "" and tonumber(port:match("^:(%d+)$"))
  if port == false then port = scheme == "https" and 443 or 80 end
  if not port or port < 1 or port > 65535 then error("option 'base_url' has a bad port", level + 1) end
  return {
    scheme = scheme, host = host, port = port, authority = authority,
    origin = scheme .. "://" .. authority, prefix = prefix:gsub("/+$", ""),
  }
end

-- "Authorization: ..." or nil; the caller keeps it in a closure only.
local function auth_line(config, level)
  for _, name in ipairs { "username", "password", "token" } do
    if config[name] and not header_safe(config[name]) then
      error(("option '%s' contains CR, LF or NUL"):format(name), level + 1)
    end
  end
  if config.token then return "Authorization: Bearer " .. config.token .. "\r\n" end
  if config.username then
    local ngx = ngx_api()
    if not ngx then error("connectstatus.driver_nginx runs inside OpenResty only", level + 1) end
    return "Authorization: Basic " .. ngx.encode_base64(config.username .. ":" .. (config.password or "")) .. "\r\n"
  end
end

local function header_lines(headers, level)
  local lines = {}
  for i, line in ipairs(headers or {}) do
    if type(line) ~= "string" or not header_safe(line) or not line:find("^[!#-'*+.0-9A-Z^_`a-z|~-]+:") then
      error(("header %d must be one 'Name: value' line without CR, LF or NUL"):format(i), level + 1)
    end
    lines[i] = line .. "\r\n"
  end
  return table.concat(lines)
end

-- ---- the connection: reads against a deadline ----

local function now(ngx)
  ngx.update_time()
  return ngx.now()
end

local function ms(seconds)
  return math.max(1, math.floor(seconds * 1000 + 0.5))
end

local Conn = {}
Conn.__index = Conn

-- The read timeout: the stall timeout, shrunk to what is left of the total.
function Conn:read_budget()
  local left = self.deadline - now(self.ngx)
  if left <= 0 then return nil end
  return math.min(self.stall, left)
end

function Conn.fail(_, kind, message)
  return nil, kind, message
end

-- Appends what the socket has to the buffer; true, or false at a clean end of stream, or nil, kind, message.
function Conn:fill()
  local budget = self:read_budget()
  if not budget then return self:fail("timeout", ("no complete answer within %g s"):format(self.timeout)) end
  self.sock:settimeouts(ms(budget), ms(budget), ms(budget))
  local data, err = self.sock:receiveany(READ_SIZE)
  if data then
    self.buf = self.buf .. data
    self.received = self.received + #data
    return true
  end
  if err == "closed" then return false end
  if err == "timeout" then
    if self:read_budget() then
      return self:fail("timeout", ("no data for %g s"):format(self.stall))
    end
    return self:fail("timeout", ("no complete answer within %g s"):format(self.timeout))
  end
  return self:fail("transport", "receive failed: " .. tostring(err))
end

-- One line (without its CRLF) of at most limit bytes, or nil, kind, message.
function Conn:line(limit, what)
  while true do
    local stop = self.buf:find("\n", 1, true)
    if stop then
      local line = self.buf:sub(1, stop - 1):gsub("\r$", "")
      self.buf = self.buf:sub(stop + 1)
      if line:find("[\r%z]") then return self:fail("transport", "bad framing: control character in " .. what) end
      return line
    end
    if #self.buf > limit then return self:fail("transport", "bad framing: " .. what .. " too long") end
    local ok, kind, message = self:fill()
    if ok == false then return self:fail("transport", "connection closed in the " .. what) end
    if not ok then return nil, kind, message end
  end
end

-- The body collector: parts and their total, capped at max_body.
function Conn:keep(piece)
  if #piece == 0 then return true end
  self.body_len = self.body_len + #piece
  if self.body_len > self.max_body then
    return self:fail("too_large", ("response body exceeds %d bytes"):format(self.max_body))
  end
  self.parts[#self.parts + 1] = piece
  return true
end

-- Moves exactly n bytes into the body.
function Conn:copy(n)
  while true do
    if #self.buf >= n then
      local ok, kind, message = self:keep(self.buf:sub(1, n))
      self.buf = self.buf:sub(n + 1)
      return ok, kind, message
    end
    if #self.buf > SPLIT_AT then
      n = n - #self.buf
      local ok, kind, message = self:keep(self.buf)
      self.buf = ""
      if not ok then return nil, kind, message end
    end
    local ok, kind, message = self:fill()
    if ok == false then return self:fail("transport", "connection closed before the end of the body") end
    if not ok then return nil, kind, message end
  end
end

function Conn:until_closed()
  while true do
    local ok, kind, message = self:keep(self.buf)
    self.buf = ""
    if not ok then return nil, kind, message end
    ok, kind, message = self:fill()
    if ok == false then return true end
    if not ok then return nil, kind, message end
  end
end

function Conn:chunked()
  while true do
    local line, kind, message = self:line(1024, "chunk size")
    if not line then return nil, kind, message end
    local hex = line:match("^(%x+)[ \t]*;") or line:match("^(%x+)[ \t]*$")
    if not hex or #hex > 8 then return self:fail("transport", "bad framing: bad chunk size") end
    local size = tonumber(hex, 16)
    if size == 0 then break end
    if self.body_len + size > self.max_body then
      return self:fail("too_large", ("response body exceeds %d bytes"):format(self.max_body))
    end
    local ok
    ok, kind, message = self:copy(size)
    if not ok then return nil, kind, message end
    line, kind, message = self:line(2, "chunk end")
    if not line then return nil, kind, message end
    if line ~= "" then return self:fail("transport", "bad framing: chunk longer than its size") end
  end
  repeat -- trailers, ignored
    local line, kind, message = self:line(MAX_HEAD, "trailer")
    if not line then return nil, kind, message end
  until line == ""
  return true
end

-- ---- the response head ----

local function parse_header(headers, line)
  local name, value = line:match("^([!#-'*+.0-9A-Z^_`a-z|~-]+):[ \t]*(.-)[ \t]*$")
  if not name then return nil end
  name = name:lower()
  if headers[name] and name == "content-length" then return nil end -- which one frames the body?
  headers[name] = headers[name] and headers[name] .. ", " .. value or value
  return true
end

-- Status, HTTP minor version and headers (lower-case names) of the next final response.
function Conn:head()
  while true do
    local line, kind, message = self:line(MAX_HEAD, "status line")
    if not line then return nil, kind, message end
    local minor, status = line:match("^HTTP/1%.([01]) (%d%d%d)")
    if not minor then return self:fail("transport", "bad framing: not an HTTP/1.x status line") end
    local headers, size = {}, #line
    while true do
      line, kind, message = self:line(MAX_HEAD - size, "headers")
      if not line then return nil, kind, message end
      if line == "" then break end
      size = size + #line
      if not parse_header(headers, line) then return self:fail("transport", "bad framing: malformed header") end
    end
    status = tonumber(status)
    -- 1xx are interim (100 Continue); 101 would switch protocols, which was never asked for.
    if status >= 200 or status == 101 then return status, tonumber(minor), headers end
  end
end

-- Reads the body as the head frames it; the second value says whether the connection may be reused.
function Conn:body(status, minor, headers)
  local close = minor == 0 or (headers.connection or ""):lower():find("close", 1, true) ~= nil
  if status == 101 then return true, false end -- switched away from HTTP: never reused
  if status == 204 or status == 304 then return true, not close end
  local te = headers["transfer-encoding"]
  if te then
    if not te:lower():match("^%s*chunked%s*$") then
      return self:fail("transport", "bad framing: unsupported Transfer-Encoding")
    end
    local ok, kind, message = self:chunked()
    if not ok then return nil, kind, message end
    return true, not close
  end
  local length = headers["content-length"]
  if length then
    local n = length:match("^%d+$") and tonumber(length)
    if not n or #length > 15 then return self:fail("transport", "bad framing: bad Content-Length") end
    if n > self.max_body then
      return self:fail("too_large", ("response body exceeds %d bytes"):format(self.max_body))
    end
    local ok, kind, message = self:copy(n)
    if not ok then return nil, kind, message end
    return true, not close
  end
  local ok, kind, message = self:until_closed()
  if not ok then return nil, kind, message end
  return true, false
end

-- ---- results ----

-- An absolute URL for a Location header, resolved against the request's URL (RFC 3986, section 5.2,
-- for the forms servers send: absolute, network-path, absolute-path and relative-path).
function M.resolve_location(location, request_url)
  if location:match("^%a[%w+.-]*:") then return location end
  local scheme, authority, path = request_url:match("^(%a[%w+.-]*:)//([^/?#]*)([^?#]*)")
  if location:sub(1, 2) == "//" then return scheme .. location end
  if location:sub(1, 1) == "/" then return scheme .. "//" .. authority .. location end
  if location:sub(1, 1) == "?" or location == "" then return scheme .. "//" .. authority .. path .. location end
  return scheme .. "//" .. authority .. path:gsub("[^/]*$", "") .. location
end

-- The one call site of the JSON decoder; select is the request's compiled selection or nil.
local function decode_json(body, max_depth, select)
  if select then return core.json_decode(body, { max_depth = max_depth, select = select }) end
  return core.json_decode(body, max_depth)
end

local function result_of(answer, conf, url, select)
  local status, headers, body = answer.status, answer.headers, answer.body
  local r = {
    status = status, request_id = headers["x-request-id"], retry_after = headers["retry-after"],
  }
  local limit, remaining, reset = headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"],
    headers["x-ratelimit-reset"]
  if limit or remaining or reset then r.rate_limit = { limit = limit, remaining = remaining, reset = reset } end
  if status >= 300 and status <= 399 and headers.location then
    r.location = M.resolve_location(headers.location, url)
  end
  if body == "" then
    r.empty = true
  else
    local value, err = decode_json(body, conf.max_depth, select)
    if value ~= nil then
      r.value = value
    else
      r.raw, r.decode_error = body:sub(1, SNIPPET), err
    end
  end
  return r
end

-- ---- one exchange ----

local function connect_kind(err)
  if err == "timeout" then return "timeout" end
  return "connect"
end

local function tls_message(conf, err)
  local by_address = conf.host:find("^[%d.]+$") or conf.host:find("^%[")
  local hint = by_address and err ~= "timeout" and
    " (nginx matches certificates to DNS names only: name the host in base_url)" or ""
  return ("TLS with %s failed: %s%s"):format(conf.origin, tostring(err), hint)
end

local function connect(ngx, conf, deadline)
  local sock = ngx.socket.tcp()
  local left = deadline - now(ngx)
  local t = ms(math.min(conf.connect_timeout, math.max(left, 0.001)))
  sock:settimeouts(t, t, t)
  local ok, err = sock:connect(conf.host, conf.port, { pool = conf.pool, pool_size = conf.pool_size })
  if not ok then
    local hint = tostring(err):find("no resolver", 1, true) and " (add a resolver directive to nginx.conf)" or ""
    return nil, connect_kind(err), ("cannot connect to %s: %s%s"):format(conf.origin, tostring(err), hint)
  end
  local reused
  reused, err = sock:getreusedtimes()
  if not reused then
    sock:close()
    return nil, "connect", ("cannot connect to %s: %s"):format(conf.origin, tostring(err))
  end
  -- Only connections that passed the verified handshake below are ever put into the pool.
  if conf.scheme == "https" and reused == 0 then
    -- false: no session object back (a new handshake per connection; kept-alive ones skip it).
    ok, err = sock:sslhandshake(false, conf.server_name, true)
    -- lua-nginx-module 0.10.23 may report success for a handshake it refused and closed (a host
    -- mismatch found at once); the closed socket tells, before a byte of the request is sent.
    if ok and not sock:getreusedtimes() then ok, err = nil, "refused (nginx's error log says why)" end
    if not ok then
      sock:close()
      return nil, err == "timeout" and "timeout" or "tls", tls_message(conf, err)
    end
  end
  return sock, reused > 0
end

local function request_text(conf, auth, req, target)
  local lines = { req.method, " ", target, " HTTP/1.1\r\nHost: ", conf.authority, "\r\n",
    conf.headers, auth or "" }
  if req.body then
    lines[#lines + 1] = "Content-Type: application/json\r\nContent-Length: " .. #req.body .. "\r\n\r\n"
    lines[#lines + 1] = req.body
  elseif req.method ~= "GET" and req.method ~= "DELETE" then
    lines[#lines + 1] = "Content-Length: 0\r\n\r\n"
  else
    lines[#lines + 1] = "\r\n"
  end
  return table.concat(lines)
end

-- The request target on the wire and the URL it stands for: req.path under the base URL, or req.url,
-- an absolute URL on the base URL's origin (a redirect the transport chose to follow).
local function check_request(conf, req, level)
  if type(req) ~= "table" then error("driver:request expects a table", level + 1) end
  check_types(req, REQUEST_TYPES, "req.", level + 1)
  if not METHODS[req.method] then error("req.method must be GET, PUT, POST, PATCH or DELETE", level + 1) end
  local target, url
  if req.url ~= nil then
    if req.url:sub(1, #conf.origin + 1) ~= conf.origin .. "/" then
      error("req.url must be on the base URL's origin " .. conf.origin, level + 1)
    end
    target, url = req.url:sub(#conf.origin + 1), req.url
  else
    if not req.path or req.path:sub(1, 1) ~= "/" then error("req.path must start with /", level + 1) end
    target = conf.prefix .. req.path
    url = conf.origin .. target
  end
  if target:find("[%c%s]") then
    error("the request target must hold no spaces or control characters (CR, LF, NUL...)", level + 1)
  end
  return target, url
end

-- Sends the request on sock and reads the answer: { status =, headers =, body = }; or nil, kind,
-- message and whether nothing at all came back.
local function exchange(ngx, conf, sock, text, deadline, timeout)
  local c = setmetatable({
    ngx = ngx, sock = sock, buf = "", parts = {}, body_len = 0, received = 0, deadline = deadline,
    stall = conf.stall_timeout, timeout = timeout, max_body = conf.max_body,
  }, Conn)
  local budget = c:read_budget()
  if not budget then return nil, "timeout", ("no complete answer within %g s"):format(timeout), true end
  sock:settimeouts(ms(budget), ms(budget), ms(budget))
  local sent, err = sock:send(text)
  if not sent then
    return nil, err == "timeout" and "timeout" or "transport", "send failed: " .. tostring(err), true
  end
  local status, minor, headers = c:head()
  if not status then return nil, minor, headers, c.received == 0 end
  local ok, reusable, message = c:body(status, minor, headers)
  if not ok then return nil, reusable, message end
  if reusable and c.buf == "" then
    sock:setkeepalive(conf.keepalive_ms, conf.pool_size)
  else
    sock:close()
  end
  return { status = status, headers = headers, body = table.concat(c.parts) }
end

function M.new(config, level)
  level = (level or 1) + 1
  if type(config) ~= "table" then error("driver_nginx.new expects a table of options", level) end
  for name, why in pairs(UNSUPPORTED) do
    if config[name] ~= nil then error(("option '%s' is not supported inside nginx: %s"):format(name, why), level) end
  end
  check_types(config, OPTION_TYPES, "option ", level)
  local conf = parse_base_url(config.base_url, level)
  local auth = auth_line(config, level)
  conf.headers = header_lines(config.headers, level)
  conf.timeout = positive(config, "timeout", 30, level)
  conf.connect_timeout = positive(config, "connect_timeout", 10, level)
  conf.stall_timeout = positive(config, "stall_timeout", math.min(conf.timeout, 30), level)
  conf.max_body = integer(config, "max_body", 64 * 1024 * 1024, 1, 4e9, level)
  conf.max_depth = integer(config, "max_depth", 128, 0, 1e6, level)
  conf.pool_size = integer(config, "pool_size", 32, 1, 1e6, level)
  conf.keepalive_ms = ms(positive(config, "keepalive_timeout", 60, level))
  -- Pools are per worker and by name: one per origin, never shared with other code's connections.
  conf.pool = "connectstatus " .. conf.scheme .. "://" .. conf.host .. ":" .. conf.port
  conf.server_name = conf.host:gsub("^%[(.*)%]$", "%1")

  local driver = { origin = conf.origin, base_url = conf.origin .. conf.prefix, pool = conf.pool }
  function driver.request(_, req)
    local target, url = check_request(conf, req, 2)
    if not M.usable(2) then error("connectstatus.driver_nginx needs cosockets; this phase blocks with libcurl", 2) end
    local ngx = ngx_api()
    local timeout = req.timeout or conf.timeout
    local deadline = now(ngx) + timeout
    local text = request_text(conf, auth, req, target)
    -- A kept-alive connection the server has closed meanwhile answers nothing: one fresh try.
    for attempt = 1, 2 do
      local sock, reused, message = connect(ngx, conf, deadline)
      if not sock then return nil, reused, message end
      local answer, kind, problem, silent = exchange(ngx, conf, sock, text, deadline, timeout)
      if answer then return result_of(answer, conf, url, req.select) end
      sock:close()
      if not (reused and silent and attempt == 1 and kind ~= "timeout") then return nil, kind, problem end
    end
  end
  return setmetatable(driver, {
    __tostring = function() return "connectstatus.NginxDriver (" .. conf.origin .. ")" end,
  })
end

return M
