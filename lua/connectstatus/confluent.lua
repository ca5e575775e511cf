-- Backend for Confluent Cloud Connect v1: connector status, tasks, the list with expansions and
-- the status of an alter-offsets request.
local transport = require "connectstatus.transport"
local path = require "connectstatus.path"

local M = {}

M.DEFAULT_BASE_URL = "https://api.confluent.cloud"

local Confluent = { __name = "connectstatus.Confluent" }
Confluent.__index = Confluent

local EXPANSIONS = { id = true, info = true, status = true }

local function credentials(opts)
  local has_key = opts.api_key ~= nil or opts.api_secret ~= nil
  if has_key and opts.token ~= nil then
    error("give either api_key/api_secret or token, not both", 3)
  end
  if has_key then
    if type(opts.api_key) ~= "string" or type(opts.api_secret) ~= "string" then
      error("api_key and api_secret must both be strings", 3)
    end
    return opts.api_key, opts.api_secret, nil
  end
  if type(opts.token) ~= "string" then
    error("credentials required: api_key and api_secret, or token", 3)
  end
  return nil, nil, opts.token
end

function M.new(opts)
  if type(opts) ~= "table" then error("confluent{...} expects a table of options", 2) end
  local username, password, token = credentials(opts)
  local env = path.segment(opts.environment, "environment", 2)
  local cluster = path.segment(opts.cluster, "cluster", 2)
  local t = transport.new({
    base_url = opts.base_url or M.DEFAULT_BASE_URL,
    username = username, password = password, token = token,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout, stall_timeout = opts.stall_timeout,
    max_body = opts.max_body, max_depth = opts.max_depth,
    cafile = opts.cafile, capath = opts.capath, proxy = opts.proxy,
    retry = opts.retry, retry_500 = true,
    sleep = opts.sleep, clock = opts.clock, random = opts.random,
    allow_insecure_http = opts.allow_insecure_http,
  }, 2)
  return setmetatable({
    transport = t,
    environment = opts.environment,
    cluster = opts.cluster,
    prefix = "/connect/v1/environments/" .. env .. "/clusters/" .. cluster .. "/connectors",
  }, Confluent)
end

function Confluent:connector_path(name, suffix)
  return self.prefix .. "/" .. path.segment(name, "connector name", 3) .. suffix
end

function Confluent:status(name)
  return self.transport:get(self:connector_path(name, "/status"))
end

function Confluent:tasks(name)
  return self.transport:get(self:connector_path(name, "/tasks"))
end

function Confluent:offset_request_status(name)
  return self.transport:get(self:connector_path(name, "/offsets/request/status"))
end

local function expand_query(opts)
  if opts == nil then return "" end
  if type(opts) ~= "table" then error("list{...} expects a table of options", 3) end
  local expand = opts.expand
  if expand == nil then return "" end
  if type(expand) == "string" then expand = { expand } end
  if type(expand) ~= "table" then error("expand must be a list of 'id', 'info', 'status'", 3) end
  for _, e in ipairs(expand) do
    if not EXPANSIONS[e] then
      error("expand must be a list of 'id', 'info', 'status', got " .. tostring(e), 3)
    end
  end
  if #expand == 0 then return "" end
  return "?expand=" .. table.concat(expand, ",")
end

-- Without expand: an array of names. With expand: a map name -> {id=, info=, status=}.
function Confluent:list(opts)
  return self.transport:get(self.prefix .. expand_query(opts))
end

function Confluent:wait_for_state(name, target, opts)
  return require("connectstatus.wait").wait_for_state(self, name, target, opts)
end

function Confluent:wait_for_offset_phase(name, phase, opts)
  return require("connectstatus.wait").wait_for_offset_phase(self, name, phase, opts)
end

function Confluent:rate_limit()
  return self.transport:rate_limit()
end

function Confluent:close()
  self.transport:close()
end

Confluent.__close = Confluent.close

function Confluent:__tostring()
  local closed = self.transport:is_closed() and " (closed)" or ""
  return ("connectstatus.Confluent %s/%s%s"):format(self.environment, self.cluster, closed)
end

M.Confluent = Confluent
return M
