-- Transport: the policy layer between a backend and the HTTP drivers. It checks URLs, assembles
-- the headers, picks a driver per call (a cs.loop task, nginx or plain blocking libcurl), retries
-- (as connectstatus.retry decides), paces by the API's rate limit, follows same-origin redirects
-- and turns answers into values or a connectstatus.Error. It never knows which driver ran.
--
-- The request interface every driver implements:
--   driver:request{ method =, path = (appended to the base URL) | url = (absolute, same origin),
--                   body = JSON text | nil, timeout = seconds, select = selection | nil }
--   -> { status =, value = | raw =, decode_error =, empty = true (no body), request_id =,
--        retry_after =, rate_limit = { limit =, remaining =, reset = } (raw strings), location = }
--   or nil, kind, message (kind: connect, timeout, tls, transport, too_large)
local core = require "connectstatus.core"
local errors = require "connectstatus.errors"
local retry = require "connectstatus.retry"
local loop = require "connectstatus.loop"
local options = require "connectstatus.options"
local driver_curl = require "connectstatus.driver_curl"
local driver_loop = require "connectstatus.driver_loop"
local driver_nginx = require "connectstatus.driver_nginx"

local M = {}

local Transport = {}
Transport.__index = Transport

local MAX_RESET = 86400 -- a rate-limit reset beyond a day (or an epoch timestamp) is garbage

local function check_type(value, expected, name, level)
  if value ~= nil and type(value) ~= expected then
    error(("option '%s' must be a %s, got %s"):format(name, expected, type(value)), level + 1)
  end
end

local function is_loopback(host)
  host = host:lower()
  return host == "localhost" or host == "[::1]" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end
M.is_loopback = is_loopback

-- Splits an http(s) URL into scheme, authority and path; nil when it is not one.
local function split_url(url)
  local scheme, authority, path = url:match("^(%a[%w+.-]*)://([^/?#]*)([^?#]*)$")
  return scheme and scheme:lower(), authority, path
end

local function host_of(authority)
  return authority:match("^(%[[^%]]+%])") or authority:match("^[^:]*")
end

-- Returns the normalised base URL (no trailing slash) and its host; raises on anything unsafe.
-- The URL is never echoed when it carries credentials.
function M.check_base_url(url, has_credentials, allow_insecure_http, level)
  level = (level or 1) + 1
  if type(url) ~= "string" then error("option 'base_url' must be a string", level) end
  local scheme, authority, path = split_url(url)
  if not scheme then
    if url:find("@", 1, true) then error("base_url must not contain credentials", level) end
    error("base_url must look like https://host[:port][/path], got " .. url, level)
  end
  if authority:find("@", 1, true) then
    error("base_url must not contain user:pass@ credentials; pass api_key/api_secret or token", level)
  end
  if scheme ~= "http" and scheme ~= "https" then
    error("base_url must use http or https, got " .. scheme, level)
  end
  if url:find("[%c%s]") then error("base_url must not contain spaces or control characters", level) end
  local host = host_of(authority)
  if host == "" then error("base_url has no host: " .. url, level) end
  if scheme == "http" and has_credentials and not allow_insecure_http and not is_loopback(host) then
    error("refusing to send credentials over plain http to " .. host ..
      " (use https, or allow_insecure_http = true)", level)
  end
  return scheme .. "://" .. authority .. path:gsub("/+$", ""), host
end

-- The proxy libcurl is told to use: "" (none) where the environment's proxy must not apply.
-- Environment proxies are honoured for https only (credentials then travel inside TLS); an
-- explicit proxy that would see credentials in clear text must itself be on loopback.
local function proxy_for(opts, scheme, host, has_credentials, level)
  local proxy = opts.proxy
  if proxy == nil then
    if scheme == "http" or is_loopback(host) then return "" end
    return nil
  end
  if proxy == "" then return "" end
  local pscheme, authority = split_url(proxy)
  if not pscheme then error("option 'proxy' must look like http://host:port", level + 1) end
  -- Through a proxy an https request is a tunnel; a plain http one is readable by the proxy.
  local proxy_host = host_of((authority:gsub("^.*@", ""))) -- without the proxy's own user:pass@
  if scheme == "http" and has_credentials and not opts.allow_insecure_http and not is_loopback(proxy_host) then
    error("refusing to send credentials over plain http through a proxy that is not on loopback" ..
      " (use https, or allow_insecure_http = true)", level + 1)
  end
  return proxy
end

-- The proxy a request goes through, for error messages (scheme, host and port only): the explicit
-- one, or for https the environment's (libcurl's no_proxy rules may still skip it).
local function proxy_note(proxy, scheme, host)
  if proxy == "" then return nil end
  local from = proxy
  if not from and scheme == "https" and not is_loopback(host) then
    from = os.getenv("https_proxy") or os.getenv("HTTPS_PROXY") or os.getenv("all_proxy") or os.getenv("ALL_PROXY")
  end
  local origin = from and from:match("^(%a[%w+.-]*://[^/?#]*)")
  return origin and origin:gsub("//[^/]*@", "//")
end

local RETRY_DEFAULTS = { attempts = 4, base = 1, cap = 30, max_retry_after = 60, budget = 10 }

local function retry_policy(opts, level)
  check_type(opts, "table", "retry", level + 1)
  local policy = {}
  for k, default in pairs(RETRY_DEFAULTS) do
    local v = opts and opts[k]
    check_type(v, "number", "retry." .. k, level + 1)
    if v ~= nil and (v ~= v or v < 0) then error("option 'retry." .. k .. "' must not be negative", level + 1) end
    policy[k] = v or default
  end
  if policy.attempts < 1 then error("option 'retry.attempts' must be at least 1", level + 1) end
  check_type(opts and opts.deadline, "number", "retry.deadline", level + 1)
  policy.deadline = opts and opts.deadline
  return policy
end

local CORE_OPTIONS = {
  timeout = "number", connect_timeout = "number", stall_timeout = "number", max_body = "number",
  max_depth = "number", cafile = "string", capath = "string", proxy = "string",
}

local DRIVERS = { auto = true, curl = true, loop = true, nginx = true }

local function check_driver(driver, level)
  if driver == nil then return "auto" end
  if type(driver) == "table" and type(driver.request) == "function" then return driver end
  if not DRIVERS[driver] then
    error("option 'driver' must be \"curl\", \"loop\", \"nginx\" or an object with a request method", level + 1)
  end
  return driver
end

local function check_max_redirects(v, level)
  if v == nil then return 3 end
  if type(v) ~= "number" or v < 0 or v > 20 or v ~= math.floor(v) then
    error("option 'max_redirects' must be a whole number from 0 to 20", level + 1)
  end
  return v
end

-- Replaces every plain occurrence of needle in s.
local function replace_plain(s, needle, with)
  local out, from = {}, 1
  while true do
    local i, j = s:find(needle, from, true)
    if not i then break end
    out[#out + 1] = s:sub(from, i - 1)
    out[#out + 1] = with
    from = j + 1
  end
  out[#out + 1] = s:sub(from)
  return table.concat(out)
end

-- A function that removes the client's credentials (and their base64 form) from text the server
-- sent back; the secrets stay in its upvalues, where no pairs() reaches them.
local function redactor(opts)
  local secrets = {}
  local function add(s) if type(s) == "string" and #s >= 4 then secrets[#secrets + 1] = s end end
  add(opts.password)
  add(opts.token)
  for _, secret in ipairs(opts.secrets or {}) do add(secret) end
  if opts.username and opts.password then add(core.base64(opts.username .. ":" .. opts.password)) end
  return function(text)
    for _, secret in ipairs(secrets) do text = replace_plain(text, secret, "[REDACTED]") end
    return text
  end
end

-- Inside nginx (OpenResty), the cosocket driver for this client, made with the client so that the
-- options cosockets cannot honour (cafile, capath, proxy) raise now; nil elsewhere.
local function nginx_driver(opts, base_url, headers, level)
  if not driver_nginx.inside() then return nil end
  local config = { base_url = base_url, headers = headers }
  for _, name in ipairs { "username", "password", "token", "timeout", "connect_timeout", "stall_timeout",
    "max_body", "max_depth", "cafile", "capath", "proxy", "pool_size", "keepalive_timeout" } do
    config[name] = opts[name]
  end
  return driver_nginx.new(config, level + 1)
end

-- opts: base_url, username/password or token, headers (extra "Name: value" lines), secrets (more
-- strings to keep out of errors: header values), retry,
-- rules ({ retry_500 =, retry_409 = }), driver, max_redirects, sleep, clock, random,
-- allow_insecure_http, and the core's timeouts and limits.
function M.new(opts, level)
  level = (level or 1) + 1
  for name, expected in pairs(CORE_OPTIONS) do check_type(opts[name], expected, name, level) end
  for _, name in ipairs { "sleep", "clock", "random" } do check_type(opts[name], "function", name, level) end
  for _, name in ipairs { "pool_size", "keepalive_timeout" } do check_type(opts[name], "number", name, level) end
  local has_credentials = opts.username ~= nil or opts.token ~= nil
  local base_url, host = M.check_base_url(opts.base_url, has_credentials, opts.allow_insecure_http, level)
  local scheme = base_url:match("^(%a+)")
  local headers = { "Accept: application/json",
    "User-Agent: connectstatus/" .. core.version .. " libcurl/" .. core.curl_version }
  for _, line in ipairs(opts.headers or {}) do headers[#headers + 1] = line end
  local core_opts = {
    base_url = base_url, username = opts.username, password = opts.password, token = opts.token,
    headers = headers,
  }
  for name in pairs(CORE_OPTIONS) do core_opts[name] = opts[name] end
  core_opts.proxy = proxy_for(opts, scheme, host, has_credentials, level)
  local ok, client = pcall(core.new_client, core_opts)
  if not ok then error(client, level) end
  local policy = retry_policy(opts.retry, level)
  local through = proxy_note(core_opts.proxy, scheme, host)
  return setmetatable({
    client = client,
    curl = driver_curl.new(client),
    nginx = nginx_driver(opts, base_url, headers, level),
    driver_choice = check_driver(opts.driver, level),
    base_url = base_url,
    origin = base_url:match("^(%a+://[^/]*)"),
    host = host,
    retry = policy,
    rules = opts.rules or {},
    max_redirects = check_max_redirects(opts.max_redirects, level),
    through = through and " (through the proxy " .. through .. ")" or "",
    sleep = opts.sleep,
    clock = opts.clock or core.monotonic,
    random = opts.random or math.random,
    redact = redactor(opts),
    -- The retry budget, in tenths of a retry so that ten successes refill exactly one
    -- (0.1 added ten times is less than 1 in floating point).
    tenths = policy.budget * 10,
    limits = nil,
    -- Requests in flight across the tasks sharing this client; weak, so that a cancelled task's
    -- abandoned request drops out with its coroutine.
    in_flight = setmetatable({}, { __mode = "k" }),
  }, Transport)
end

-- ---- which driver, which sleep: decided per call, by context ----

-- Runs one request on a loop of its own: driver = "loop" outside any task.
local function private_loop_driver(client)
  return { request = function(_, req)
    local l = loop.new()
    local task = l:spawn(function() return driver_loop.new(l, client):request(req) end)
    l:run()
    l:close()
    return task:result()
  end }
end

-- task: the running cs.loop task, or false outside one (looked up once per call, for both the
-- driver and the sleeper).
function Transport:driver(task)
  local choice = self.driver_choice
  if type(choice) == "table" then return choice end
  if choice == "curl" then return self.curl end
  -- Levels: 1 here, 2 Transport:request, 3 the caller (the backend methods tail-call request).
  if choice == "nginx" and not self.nginx then error("driver 'nginx' works inside OpenResty only", 3) end
  -- In nginx: cosockets where they work, libcurl in init/init_worker, an error in set/filters/log.
  if self.nginx and (choice == "nginx" or (choice == "auto" and not task)) and driver_nginx.usable(3) then
    return self.nginx
  end
  if task and (choice == "auto" or choice == "loop") then return driver_loop.new(task.loop, self.client) end
  if choice == "loop" then return private_loop_driver(self.client) end
  return self.curl
end

-- The sleep for this call: the one the user gave, a loop timer inside a task, else blocking.
-- task as for driver; nil looks it up (waits ask for their sleep this way).
function Transport:sleeper(task)
  if self.sleep then return self.sleep end
  if task == nil then task = loop.current() end
  if task then return loop.sleep end
  if self.nginx then return driver_nginx.sleep end -- ngx.sleep where it yields, blocking in init*
  return core.sleep
end

-- ---- answers to values ----

-- At most 512 bytes on one line: control characters (ESC, CR, LF, ...) from the network never
-- reach an error message or a terminal.
local function clean(text)
  return (text:sub(1, 512):gsub("%c+", " "):gsub("%s%s+", " "))
end
M.clean = clean

local function number_or_nil(s)
  return s and tonumber(s:match("^%s*(%d+%.?%d*)%s*$"))
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9,
  Oct = 10, Nov = 11, Dec = 12 }

-- Retry-After is seconds or an HTTP date; a date in the past or garbage gives nil.
function M.parse_retry_after(value, now)
  if not value then return nil end
  local secs = number_or_nil(value)
  if secs then return secs end
  local d, mon, y, h, mi, s = value:match("^%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  now = now or os.time()
  local utc_offset = os.time(os.date("*t", now)) - os.time(os.date("!*t", now))
  local at = os.time { year = tonumber(y), month = MONTHS[mon], day = tonumber(d), hour = tonumber(h),
    min = tonumber(mi), sec = tonumber(s), isdst = false } + utc_offset
  local wait = at - now
  if wait <= 0 then return nil end
  return wait
end

local function rate_limit_of(raw)
  if not raw then return nil end
  local reset = number_or_nil(raw.reset)
  if reset and reset > MAX_RESET then reset = nil end
  return { limit = number_or_nil(raw.limit), remaining = number_or_nil(raw.remaining), reset = reset }
end

local function text_or_nil(v)
  if type(v) == "string" then return v end
  if type(v) == "number" then return tostring(v) end
  return nil
end

-- The message and code of an API error body, in any of the shapes the three APIs use.
local function api_error_fields(body, err)
  if type(body) ~= "table" then return end
  local e = body.error
  if type(e) == "table" then
    err.code, err.message = e.code, e.message or e.detail
  elseif type(body.errors) == "table" and type(body.errors[1]) == "table" then
    local first = body.errors[1]
    err.code, err.message = first.code or first.status, first.detail or first.title or first.message
  else
    err.code, err.message, err.details = body.error_code, body.message, body.details
  end
  if type(err.code) == "string" then err.code = clean(err.code)
  elseif type(err.code) ~= "number" then err.code = nil end
  err.message = text_or_nil(err.message)
end

-- Only scheme, host and port of a Location, without any user:pass@.
local function origin_of(location)
  return (location:match("^(%a[%w+.-]*://[^/?#]*)") or "an unreadable location"):gsub("//[^/]*@", "//")
end

function Transport:http_error(status, res, url)
  local err = errors.new(errors.kind_for_status(status), nil, { status = status, url = url })
  if res.raw then
    err.body = self.redact(clean(res.raw))
  else
    api_error_fields(res.value, err)
  end
  if err.message == nil or err.message == "" then
    err.message = "HTTP " .. status
  else
    err.message = "HTTP " .. status .. ": " .. self.redact(clean(err.message))
  end
  if res.location then
    err.message = "HTTP " .. status .. ": redirect to " .. origin_of(res.location) .. " not followed"
  end
  err.request_id = res.request_id and clean(res.request_id)
  err.retry_after = M.parse_retry_after(res.retry_after)
  err.rate_limit = rate_limit_of(res.rate_limit)
  return err
end

-- Whether a decoded 2xx body has the top-level JSON type the endpoint documents.
local SHAPES = {
  object = function(v) return type(v) == "table" and v[1] == nil end,
  array = function(v) return type(v) == "table" and (v[1] ~= nil or next(v) == nil) end,
  any = function() return true end,
}

local function json_type(v)
  if type(v) == "table" then return v[1] ~= nil and "an array" or "an object" end
  if v == core.null then return "null" end
  return "a " .. type(v)
end

local function excerpt(value)
  local ok, text = pcall(core.json_encode, value)
  return ok and clean(text) or nil
end

function Transport:answer(res, target, call)
  local status, url = res.status, self.base_url .. target
  if status < 200 or status > 299 then return nil, self:http_error(status, res, url) end
  if res.empty then return true end
  local value = res.value
  if value == nil then
    return nil, errors.new("decode", "response is not JSON: " .. tostring(res.decode_error),
      { status = status, url = url, body = res.raw and self.redact(clean(res.raw)) })
  end
  local expect = call.expect or "object"
  if not SHAPES[expect](value) then
    return nil, errors.new("decode", ("response is %s, not the JSON %s the API documents"):format(
      json_type(value), expect), { status = status, url = url, body = excerpt(value) })
  end
  return value
end

-- ---- the request loop ----

-- The API's view after an answer, less the requests of other tasks still in flight: the server
-- may not have counted them yet.
function Transport:remember_limits(raw)
  local rl = rate_limit_of(raw)
  if not rl then return end
  if rl.remaining then
    local counted = 0 -- this request too, unless it is a blocking one
    for _ in pairs(self.in_flight) do counted = counted + 1 end
    rl.remaining = math.max(0, rl.remaining - math.max(0, counted - 1))
  end
  rl.seen_at = self.clock()
  self.limits = rl
end

function Transport:rate_limit()
  local rl = self.limits
  if not rl then return nil end
  return { limit = rl.limit, remaining = rl.remaining, reset = rl.reset }
end

-- Takes one of the requests the API said remain in its window, so that tasks sharing the client
-- do not all spend the last one. When none remain, waits the window out instead of provoking a
-- 429; but never past retry.max_retry_after or this call's deadline: then rate_limited at once.
function Transport:pace(sleep, deadline, target)
  while true do
    local rl = self.limits
    if not (rl and rl.remaining and rl.reset) then return nil end
    if rl.remaining > 0 then
      rl.remaining = rl.remaining - 1
      return nil
    end
    local now = self.clock()
    local wait = rl.seen_at + rl.reset - now
    if wait > self.retry.max_retry_after or now + wait > deadline then
      return errors.new("rate_limited", ("the API's rate limit resets in %gs, later than this call may wait"):format(
        wait), { retry_after = wait, rate_limit = self:rate_limit(), url = self.base_url .. target })
    end
    if wait > 0 then sleep(wait) end
    -- A new window: as many requests as the last one allowed, until an answer says otherwise.
    if self.limits == rl then
      self.limits = rl.limit and { limit = rl.limit, remaining = rl.limit, reset = rl.reset,
        seen_at = self.clock() } or nil
    end
  end
end

function Transport:backoff(attempt)
  local ceiling = math.min(self.retry.cap, self.retry.base * 2 ^ (attempt - 1))
  return self.random() * ceiling
end

-- The delay before the next attempt, or nil when this error must be returned now.
function Transport:next_delay(method, err, attempt, deadline)
  local policy = self.retry
  if attempt >= policy.attempts or not retry.retryable(self.rules, method, err) then return nil end
  if err.retry_after and err.retry_after > policy.max_retry_after then return nil end
  if self.tenths < 10 then return nil end
  local delay = err.retry_after or self:backoff(attempt)
  if self.clock() + delay >= deadline then return nil end -- no time left to send it
  return delay
end

-- Same-origin redirects of a GET are followed; anything else comes back as the 3xx itself.
function Transport:follows(method, location)
  if method ~= "GET" or not location then return false end
  local origin = location:match("^(%a[%w+.-]*://[^/?#]*)")
  return origin == self.origin and location:sub(#origin + 1, #origin + 1) == "/"
end

-- One exchange and the redirects it leads to: a value, or nil and an Error.
function Transport:exchange(driver, method, target, call, deadline)
  local req = { method = method, path = target, body = call.body, select = call.select }
  local url = self.base_url .. target
  for hop = 0, self.max_redirects do
    local left = deadline - self.clock()
    if left <= 0 then return nil, errors.new("timeout", "no time left for another request", { url = url }) end
    req.timeout = math.min(left, 86400)
    local res, kind, message = driver:request(req)
    if not res then
      local via = driver ~= self.nginx and self.through or "" -- cosockets never use a proxy
      return nil, errors.new(kind, self.redact(clean(tostring(message))) .. via, { url = url })
    end
    self:remember_limits(res.rate_limit)
    if hop == self.max_redirects or not self:follows(method, res.location) then
      return self:answer(res, target, call)
    end
    req = { method = "GET", url = res.location, select = call.select }
  end
end

local NO_CALL = {}

-- transport:request(method, target, call) -> value | true (an empty 2xx) | nil, err
-- call: body (JSON text), timeout (seconds for the whole call, retries included), expect
-- ("object", "array" or "any": the documented top-level type), select.
function Transport:request(method, target, call)
  if self.client:is_closed() then options.raise("attempt to use a closed connectstatus client") end
  call = call or NO_CALL
  local task = loop.current() or false -- false: looked, none
  local driver, sleep = self:driver(task), self:sleeper(task)
  local budget = math.min(call.timeout or math.huge, self.retry.deadline or math.huge)
  local deadline = self.clock() + budget
  local sent = 0
  while true do
    local err = self:pace(sleep, deadline, target)
    local value
    if not err then
      sent = sent + 1
      -- A blocking exchange is the only one in flight; others (tasks, nginx) are counted.
      local token = driver ~= self.curl and {}
      if token then self.in_flight[token] = true end
      value, err = self:exchange(driver, method, target, call, deadline)
      if token then self.in_flight[token] = nil end
      if value ~= nil then
        -- Successes slowly refill the retry budget that a storm of failures drains.
        self.tenths = math.min(self.retry.budget * 10, self.tenths + 1)
        return value
      end
    end
    err.attempts = sent
    local delay = self:next_delay(method, err, sent, deadline)
    if not delay then return nil, err end
    self.tenths = self.tenths - 10
    sleep(delay)
  end
end

function Transport:close()
  self.curl:close()
  self.client:close()
end

function Transport:is_closed()
  return self.client:is_closed()
end

return M
