-- Transport: URL policy, the retry loop, rate-limit pacing and turning HTTP answers into values or
-- connectstatus.Error. The C core performs one transfer per call; everything about time lives here,
-- so sleep and clock can be swapped (tests, OpenResty).
local core = require "connectstatus.core"
local errors = require "connectstatus.errors"

local M = {}

local Transport = {}
Transport.__index = Transport

local function default_sleep()
  local ngx = rawget(_G, "ngx")
  if ngx and type(ngx.sleep) == "function" and ngx.get_phase and ngx.get_phase() ~= "init" then
    return ngx.sleep
  end
  return core.sleep
end

local function check_type(value, expected, name, level)
  if value ~= nil and type(value) ~= expected then
    error(("option '%s' must be a %s, got %s"):format(name, expected, type(value)), level + 1)
  end
end

local function is_loopback(host)
  host = host:lower()
  return host == "localhost" or host == "[::1]" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end

-- Returns the normalised base URL (no trailing slash) and its host; raises on anything unsafe.
-- The URL is never echoed when it carries credentials.
function M.check_base_url(url, has_credentials, allow_insecure_http, level)
  level = (level or 1) + 1
  if type(url) ~= "string" then error("option 'base_url' must be a string", level) end
  local scheme, authority, path = url:match("^(%a[%w+.-]*)://([^/?#]*)([^?#]*)$")
  if not scheme then
    if url:find("@", 1, true) then error("base_url must not contain credentials", level) end
    error("base_url must look like https://host[:port][/path], got " .. url, level)
  end
  if authority:find("@", 1, true) then
    error("base_url must not contain user:pass@ credentials; pass api_key/api_secret or token", level)
  end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then
    error("base_url must use http or https, got " .. scheme, level)
  end
  if url:find("[%c%s]") then error("base_url must not contain spaces or control characters", level) end
  local host = authority:match("^(%[[^%]]+%])") or authority:match("^[^:]*")
  if host == "" then error("base_url has no host: " .. url, level) end
  if scheme == "http" and has_credentials and not allow_insecure_http and not is_loopback(host) then
    error("refusing to send credentials over plain http to " .. host ..
      " (use https, or allow_insecure_http = true)", level)
  end
  return scheme .. "://" .. authority .. path:gsub("/+$", ""), host
end

local RETRY_DEFAULTS = { attempts = 4, base = 1, cap = 30, max_retry_after = 60, budget = 10 }

local function retry_policy(opts, level)
  check_type(opts, "table", "retry", level + 1)
  local policy = {}
  for k, default in pairs(RETRY_DEFAULTS) do
    local v = opts and opts[k]
    check_type(v, "number", "retry." .. k, level + 1)
    if v ~= nil and v < 0 then error("option 'retry." .. k .. "' must not be negative", level + 1) end
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

-- opts: base_url, username/password or token, headers, retry, retry_500, sleep, clock, random,
-- allow_insecure_http, and the core's timeouts and limits.
function M.new(opts, level)
  level = (level or 1) + 1
  for name, expected in pairs(CORE_OPTIONS) do check_type(opts[name], expected, name, level) end
  for _, name in ipairs { "sleep", "clock", "random" } do check_type(opts[name], "function", name, level) end
  local has_credentials = opts.username ~= nil or opts.token ~= nil
  local base_url, host = M.check_base_url(opts.base_url, has_credentials, opts.allow_insecure_http, level)
  local core_opts = {
    base_url = base_url, username = opts.username, password = opts.password, token = opts.token,
    headers = opts.headers, user_agent = "connectstatus/" .. core.version .. " libcurl/" .. core.curl_version,
  }
  for name in pairs(CORE_OPTIONS) do core_opts[name] = opts[name] end
  local ok, client = pcall(core.new_client, core_opts)
  if not ok then error(client, level) end
  local retry = retry_policy(opts.retry, level)
  return setmetatable({
    client = client,
    base_url = base_url,
    host = host,
    retry = retry,
    retry_500 = opts.retry_500 == true,
    sleep = opts.sleep or default_sleep(),
    clock = opts.clock or core.monotonic,
    random = opts.random or math.random,
    -- The retry budget, in tenths of a retry so that ten successes refill exactly one
    -- (0.1 added ten times is less than 1 in floating point).
    tenths = retry.budget * 10,
    limits = nil,
  }, Transport)
end

-- ---- answers to values ----

local function sanitise(body)
  local text = body:sub(1, 512):gsub("[%c]+", " "):gsub("%s%s+", " ")
  return text
end

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

local function rate_limit_of(meta)
  if not (meta.ratelimit_limit or meta.ratelimit_remaining or meta.ratelimit_reset) then return nil end
  return {
    limit = number_or_nil(meta.ratelimit_limit),
    remaining = number_or_nil(meta.ratelimit_remaining),
    reset = number_or_nil(meta.ratelimit_reset),
  }
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
end

local function http_error(status, body, meta, url)
  local err = errors.new(errors.kind_for_status(status), nil, { status = status, url = url })
  if type(body) == "string" then
    err.body = sanitise(body)
  else
    api_error_fields(body, err)
  end
  if type(err.message) ~= "string" or err.message == "" then
    err.message = "HTTP " .. status
  else
    err.message = "HTTP " .. status .. ": " .. err.message
  end
  if meta and meta.location_origin then
    -- A Location may carry someone's user:pass@; name only scheme, host and port.
    local origin = meta.location_origin:gsub("^([^/]*//)[^/]*@", "%1")
    err.message = "HTTP " .. status .. ": redirect to " .. origin .. " not followed"
  end
  return err
end

local function attach_meta(err, meta, now)
  if not meta then return end
  err.request_id = meta.request_id
  err.retry_after = M.parse_retry_after(meta.retry_after, now)
  err.rate_limit = rate_limit_of(meta)
end

-- ---- the request loop ----

function Transport:remember_limits(meta)
  local rl = meta and rate_limit_of(meta)
  if rl then
    rl.seen_at = self.clock()
    self.limits = rl
  end
end

function Transport:rate_limit()
  local rl = self.limits
  if not rl then return nil end
  return { limit = rl.limit, remaining = rl.remaining, reset = rl.reset }
end

-- When the last answer said no requests remain, wait out the window instead of provoking a 429.
function Transport:pace()
  local rl = self.limits
  if not (rl and rl.remaining == 0 and rl.reset) then return end
  local wait = rl.seen_at + rl.reset - self.clock()
  if wait > 0 then self.sleep(wait) end
  self.limits = nil
end

local RETRYABLE_STATUS = { [429] = true, [502] = true, [503] = true, [504] = true }

function Transport:is_retryable(err)
  if err.status then
    return RETRYABLE_STATUS[err.status] or (err.status == 500 and self.retry_500)
  end
  return err.kind == "connect" or err.kind == "timeout" or err.kind == "transport"
end

-- One transfer: the decoded body, or nil and an Error.
function Transport:once(path)
  local status, body, meta, decode_err = self.client:get(path)
  if not status then
    return nil, errors.new(body, meta, { url = self.base_url .. path })
  end
  self:remember_limits(meta)
  local err
  if status >= 200 and status <= 299 then
    if decode_err or body == nil then
      err = errors.new("decode", "response is not JSON: " .. (decode_err or "empty body"),
        { status = status, url = self.base_url .. path, body = body and sanitise(body) })
    else
      return body
    end
  else
    err = http_error(status, body, meta, self.base_url .. path)
  end
  attach_meta(err, meta)
  return nil, err
end

function Transport:backoff(attempt)
  local ceiling = math.min(self.retry.cap, self.retry.base * 2 ^ (attempt - 1))
  return self.random() * ceiling
end

-- The delay before the next attempt, or nil when this error must be returned now.
function Transport:next_delay(err, attempt, started)
  local policy = self.retry
  if attempt >= policy.attempts or not self:is_retryable(err) then return nil end
  if err.retry_after and err.retry_after > policy.max_retry_after then return nil end
  if self.tenths < 10 then return nil end
  local delay = err.retry_after or self:backoff(attempt)
  if policy.deadline and self.clock() + delay - started > policy.deadline then return nil end
  return delay
end

function Transport:get(path)
  local started = self.clock()
  local attempt = 0
  while true do
    attempt = attempt + 1
    self:pace()
    local body, err = self:once(path)
    if body ~= nil then
      -- Successes slowly refill the retry budget that a storm of failures drains.
      self.tenths = math.min(self.retry.budget * 10, self.tenths + 1)
      return body
    end
    err.attempts = attempt
    local delay = self:next_delay(err, attempt, started)
    if not delay then return nil, err end
    self.tenths = self.tenths - 10
    self.sleep(delay)
  end
end

function Transport:close()
  self.client:close()
end

function Transport:is_closed()
  return tostring(self.client):find("(closed)", 1, true) ~= nil
end

return M
