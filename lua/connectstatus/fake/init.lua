-- connectstatus.fake: a loopback fake of the Confluent Cloud Connect v1, Feldera v0 and Apache
-- Kafka Connect REST APIs over HTTP/1.1, so runbooks and tests can run without a cloud account or a
-- worker. Pure Lua on lua-socket. One server serves all three by path (/connect/v1/..., /v0/...,
-- / and /connectors/...), with scriptable faults and the /_fake/ control API.
local socket = require "socket"
local common = require "connectstatus.fake.common"
local http = require "connectstatus.fake.http"
local control = require "connectstatus.fake.control"

local M = {}

local LOOPBACK = "127.0.0.1"
local MAX_RECORDS = 1000
local START_TIMEOUT = 5
local CONTROL_TIMEOUT = 5
local APIS = control.APIS -- by model name
local ROUTING_ORDER = { "confluent", "feldera", "kafka_connect" }

local now, int, encode = common.now, common.int, common.encode
M.base64 = common.base64

---------------------------------------------------------------------------------------------------
-- The server.

local Server = {}
Server.__index = Server
http.install(Server)

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
    conns = {}, conn_count = 0, response_count = 0, in_flight = 0, closed = false, started = now(),
    basic = opts.api_key and "Basic " .. common.base64(opts.api_key .. ":" .. opts.api_secret),
    bearer = opts.token and "Bearer " .. opts.token,
    rate_limit = opts.rate_limit and { limit = opts.rate_limit.limit or 100, window = opts.rate_limit.window or 60 },
  }, Server)
  self:reset()
  return self
end

function Server:reset()
  self.scripts, self.records, self.clock_offset, self.last_stamp = {}, {}, 0, 0
  self.model = {}
  for name, api in pairs(control.APIS) do self.model[name] = api.new_model(self.scenario) end
  if self.rate_limit then self.rate_limit.window_end = nil end
end

-- The fake's own clock (what it stamps requests with), which the control API can shift.
function Server:clock()
  return now() + self.clock_offset
end

-- A strictly increasing clock reading at millisecond precision, so no two stamps are equal.
function Server:stamp()
  local t = math.max(math.floor(self:clock() * 1000), self.last_stamp + 1)
  self.last_stamp = t
  return t / 1000
end

-- Whether the request carries the configured credentials (any, when none are configured);
-- Basic is accepted only where the API takes it.
function Server:authorized(req, basic_too)
  if not (self.basic or self.bearer) then return true end
  local given = req.headers.authorization
  return given ~= nil and (given == self.bearer or (basic_too and given == self.basic))
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
    limited = common.confluent_error(429, "Too Many Requests")
    limited.headers[#limited.headers + 1] = { "Retry-After", reset }
  else
    rl.remaining = rl.remaining - 1
  end
  return limited, { { "X-RateLimit-Limit", int(rl.limit) }, { "X-RateLimit-Remaining", int(rl.remaining) },
    { "X-RateLimit-Reset", reset } }
end

function Server:dispatch(req)
  local segments, query = common.split_target(req.target)
  if segments[1] == "_fake" then return control.handle(self, req, segments) end
  self:record(req)
  local scripted = self:take_script(req)
  if scripted then return scripted end
  for _, name in ipairs(ROUTING_ORDER) do
    if APIS[name].matches(segments) then return APIS[name].handle(self, req, segments, query) end
  end
  return common.confluent_error(404, "Not Found")
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

local Handle = { __name = "connectstatus.fake" }
Handle.__index = Handle

function Handle:__tostring()
  if self.stopped then return "connectstatus.fake " .. self.url .. " (stopped)" end
  return ("connectstatus.fake %s (Confluent Cloud, Kafka Connect and Feldera; pid %d)"):format(self.url, self.pid)
end

function Handle:call(method, path, spec)
  local body = spec ~= nil and encode(spec) or nil
  local status, response = control_request(self.port, method, path, body)
  if status ~= 200 then
    error(("connectstatus.fake: %s %s failed: %s %s"):format(method, path, tostring(status), tostring(response)), 3)
  end
  return assert(common.decode(response))
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

M.Handle = Handle

return M
