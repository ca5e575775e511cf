-- Backend for Confluent Cloud Connect v1: connector status, tasks, the list with expansions and
-- the status of an alter-offsets request.
local backend = require "connectstatus.backend"
local path = require "connectstatus.path"

local M = {}

M.DEFAULT_BASE_URL = "https://api.confluent.cloud"

local Confluent = backend.class("connectstatus.Confluent")

local EXPANSIONS = { id = true, info = true, status = true }

local function credentials(opts)
  local has_key = opts.api_key ~= nil or opts.api_secret ~= nil
  if has_key and opts.token ~= nil then
    error("give either api_key/api_secret or token, not both", 4)
  end
  if has_key then
    if type(opts.api_key) ~= "string" or type(opts.api_secret) ~= "string" then
      error("api_key and api_secret must both be strings", 4)
    end
    return opts.api_key, opts.api_secret, nil
  end
  if type(opts.token) ~= "string" then
    error("credentials required: api_key and api_secret, or token", 4)
  end
  return nil, nil, opts.token
end

local OWN = { api_key = true, api_secret = true, token = true, environment = true, cluster = true }

function M.new(opts)
  if type(opts) ~= "table" then error("confluent{...} expects a table of options", 3) end
  local username, password, token = credentials(opts)
  local env = path.segment(opts.environment, "environment", 3)
  local cluster = path.segment(opts.cluster, "cluster", 3)
  local self = backend.new(Confluent, opts, {
    what = "cs.confluent", own = OWN,
    defaults = { base_url = M.DEFAULT_BASE_URL },
    transport = { username = username, password = password, token = token, rules = { retry_500 = true } },
  }, 3)
  self.environment, self.cluster = opts.environment, opts.cluster
  self.prefix = "/connect/v1/environments/" .. env .. "/clusters/" .. cluster .. "/connectors"
  return self
end

function Confluent:connector_path(name, suffix)
  return self.prefix .. "/" .. path.segment(name, "connector name", 3) .. suffix
end

function Confluent:status(name, opts)
  return self:get(self:connector_path(name, "/status"), backend.call(opts, "object", 2))
end

function Confluent:tasks(name, opts)
  return self:get(self:connector_path(name, "/tasks"), backend.call(opts, "array", 2))
end

function Confluent:offset_request_status(name, opts)
  return self:get(self:connector_path(name, "/offsets/request/status"), backend.call(opts, "object", 2))
end

local function expand_query(expand)
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
  if opts ~= nil and type(opts) ~= "table" then error("list{...} expects a table of options", 2) end
  local rest = {}
  for k, v in pairs(opts or {}) do if k ~= "expand" then rest[k] = v end end
  local query = expand_query(opts and opts.expand)
  return self:get(self.prefix .. query, backend.call(rest, query == "" and "array" or "object", 2))
end

function Confluent:wait_for_state(name, target, opts)
  return require("connectstatus.wait").wait_for_state(self, name, target, opts)
end

function Confluent:wait_for_offset_phase(name, phase, opts)
  return require("connectstatus.wait").wait_for_offset_phase(self, name, phase, opts)
end

function Confluent:describe()
  return ("%s/%s"):format(self.environment, self.cluster)
end

M.Confluent = Confluent
return M
