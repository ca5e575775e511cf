-- The backend base: what every API client shares, so a backend is only its paths. It builds the
-- transport from the options all backends accept, checks per-call options, and gives each
-- backend close, rate_limit, tostring and the request helpers.
local core = require "connectstatus.core"
local options = require "connectstatus.options"
local transport = require "connectstatus.transport"
local wait = require "connectstatus.wait"

local M = {}

-- Options every backend hands to the transport unchanged.
local TRANSPORT_OPTIONS = {
  "base_url", "timeout", "connect_timeout", "stall_timeout", "max_body", "max_depth", "max_redirects",
  "cafile", "capath", "proxy", "retry", "sleep", "clock", "random", "allow_insecure_http", "driver",
  "pool_size", "keepalive_timeout", -- nginx cosockets only
}

local Base = {}

-- A new backend class named name (for tostring and error messages), inheriting Base.
function M.class(name)
  local class = { __name = name }
  class.__index = class
  class.__tostring = Base.__tostring
  class.__close = Base.close
  return setmetatable(class, { __index = Base })
end

-- Every option a backend takes: its own and the transport's. A misspelt one raises with a
-- suggestion ("did you mean 'cluster'?"), naming the user's own word.
local function check_known(opts, own, what, level)
  local known = {}
  for name in pairs(own) do known[#known + 1] = name end
  for _, name in ipairs(TRANSPORT_OPTIONS) do known[#known + 1] = name end
  options.check(opts, known, what, level + 1)
end

-- backend.new(class, opts, spec, level): spec = { what = "cs.confluent", own = { option = true },
-- defaults = { base_url = ... }, transport = { username =, password =, token =, headers =,
-- rules = } }. Returns the instance with its transport.
function M.new(class, opts, spec, level)
  level = (level or 1) + 1
  check_known(opts, spec.own or {}, spec.what, level)
  local t = {}
  for _, name in ipairs(TRANSPORT_OPTIONS) do t[name] = opts[name] end
  for k, v in pairs(spec.defaults or {}) do if t[k] == nil then t[k] = v end end
  for k, v in pairs(spec.transport or {}) do t[k] = v end
  return setmetatable({ transport = transport.new(t, level) }, class)
end

local CALL_OPTIONS = { timeout = "number", select = "table" }

-- A selection given as a list of paths is compiled once per call, here, so that a bad path
-- raises at the caller before anything is sent.
local function selection(v, level)
  if type(v) == "userdata" then return v end
  local ok, sel = pcall(core.json_selection, v)
  if not ok then error((tostring(sel):gsub("^bad argument #1 to '[^']*' %((.*)%)$", "%1")), level + 1) end
  return sel
end

-- The options of one call (timeout: seconds for the whole call, retries included; select: the
-- paths to decode, or a compiled cs.json.selection), checked and copied with the documented
-- top-level type of the answer.
function M.call(opts, expect, level)
  level = (level or 1) + 1
  local call = { expect = expect }
  if opts == nil then return call end
  if type(opts) ~= "table" then error("call options must be a table, got " .. type(opts), level) end
  options.check(opts, CALL_OPTIONS, "a call", level)
  for key, v in pairs(opts) do
    local expected = CALL_OPTIONS[key]
    if type(v) ~= expected and not (key == "select" and type(v) == "userdata") then
      error(("call option '%s' must be a %s, got %s"):format(key, expected, type(v)), level)
    end
    call[key] = v
  end
  if call.select then call.select = selection(call.select, level) end
  if call.timeout and (call.timeout ~= call.timeout or call.timeout <= 0) then
    error("call option 'timeout' must be positive", level)
  end
  return call
end

-- GET target with checked call options (see M.call).
function Base:get(target, call)
  return self.transport:request("GET", target, call)
end

-- The wait options of an action's opts, or nil when it does not wait: opts.wait = true reads
-- them from opts itself (less the action's own keys), opts.wait = { ... } gives them apart.
function M.wait_options(opts, own, level)
  level = (level or 1) + 1
  if opts == nil then return nil end
  if type(opts) ~= "table" then error("options must be a table, got " .. type(opts), level) end
  local given = opts.wait
  if given == nil or given == false then return nil end
  if type(given) == "table" then return given end
  if given ~= true then error("option 'wait' must be true, false or a table of wait options", level) end
  local copy = {}
  for k, v in pairs(opts) do
    if k ~= "wait" and not (own and own[k]) then copy[k] = v end
  end
  return copy
end

local function names(...)
  local list = {}
  for _, set in ipairs { ... } do
    for name in pairs(set) do list[#list + 1] = name end
  end
  return list
end

-- An action's opts -> call options, wait options (nil: no wait). own = { name = "type" } are the
-- action's own options, which it reads from opts itself. Without a wait the others are the
-- call's (timeout); with one they are the wait's, for the action to check with wait.check before
-- anything is sent. what names the action in messages.
function M.action_options(opts, own, what, level)
  level = (level or 1) + 1
  own = own or {}
  local wait_opts = M.wait_options(opts, own, level)
  for key, expected in pairs(own) do
    local v = opts and opts[key]
    if v ~= nil and type(v) ~= expected then
      error(("option '%s' must be a %s, got %s"):format(key, expected, type(v)), level)
    end
  end
  if wait_opts then
    -- With the wait's options apart, opts holds only the action's own.
    if type(opts.wait) == "table" then options.check(opts, names(own, { wait = true }), what, level) end
    return { expect = "any" }, wait_opts
  end
  local rest = {}
  for k, v in pairs(opts or {}) do
    if k ~= "wait" and not own[k] then rest[k] = v end
  end
  options.check(rest, names(own, CALL_OPTIONS, { wait = true }), what, level)
  return M.call(rest, "any", level), nil
end

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

-- Sends one write (body: a Lua value sent as JSON, or nil) and returns the API's answer (true for
-- an empty 2xx). With wait_opts, returns what outcome(answer, wait_opts) returns instead: act,
-- then wait for the outcome, in one call, one timeout bounding both: the write gets the wait's
-- timeout as its own and the wait what is left of it afterwards, on the wait's clock.
-- call: checked call options (timeout, expect; see M.call).
function Base:act(method, target, body, call, wait_opts, outcome)
  call = call or {}
  local request = { body = body ~= nil and core.json_encode(body) or nil, expect = call.expect or "any",
    timeout = call.timeout }
  if not wait_opts then return self.transport:request(method, target, request) end
  local clock = wait_opts.clock or self.transport.clock
  local timeout = wait_opts.timeout or wait.DEFAULT_TIMEOUT
  request.timeout = timeout > 0 and timeout or nil
  local started = clock()
  local answer, err = self.transport:request(method, target, request)
  if answer == nil then return nil, err end
  local left = copy(wait_opts)
  left.timeout = math.max(timeout - (clock() - started), 0)
  return outcome(answer, left)
end

function Base:rate_limit()
  return self.transport:rate_limit()
end

function Base:close()
  self.transport:close()
end

function Base:is_closed()
  return self.transport:is_closed()
end

function Base:__tostring()
  local mt = getmetatable(self)
  return mt.__name .. " " .. self:describe() .. (self:is_closed() and " (closed)" or "")
end

return M
