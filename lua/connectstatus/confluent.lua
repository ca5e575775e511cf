-- Backend for Confluent Cloud Connect v1: connector status, tasks, the list with expansions,
-- offsets and the status of an alter-offsets request; and the actions (pause, resume, alter and
-- reset offsets), each of which can wait for its outcome in the same call.
local backend = require "connectstatus.backend"
local core = require "connectstatus.core"
local errors = require "connectstatus.errors"
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
  local env = path.segment(opts.environment, "environment")
  local cluster = path.segment(opts.cluster, "cluster")
  local self = backend.new(Confluent, opts, {
    what = "cs.confluent", own = OWN,
    defaults = { base_url = M.DEFAULT_BASE_URL },
    transport = { username = username, password = password, token = token, rules = { retry_500 = true } },
  }, 3)
  self.environment, self.cluster = opts.environment, opts.cluster
  self.prefix = "/connect/v1/environments/" .. env .. "/clusters/" .. cluster .. "/connectors"
  return self
end

-- level: where a bad name raises, counted from connector_path's caller (default: its caller).
function Confluent:connector_path(name, suffix)
  return self.prefix .. "/" .. path.segment(name, "connector name") .. suffix
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

function Confluent:offsets(name, opts)
  return self:get(self:connector_path(name, "/offsets"), backend.call(opts, "object", 2))
end

function Confluent:wait_for_state(name, target, opts)
  return require("connectstatus.wait").wait_for_state(self, name, target, opts)
end

function Confluent:wait_for_offset_phase(name, phase, opts)
  return require("connectstatus.wait").wait_for_offset_phase(self, name, phase, opts)
end

-- ---- actions ----

-- pause and resume; level 3 is the user's line (public method, then this).
local function state_action(self, verb, name, target, opts)
  local url = self:connector_path(name, "/" .. verb)
  local call, wait_opts = backend.action_options(opts, nil, verb, 3)
  local wait = require "connectstatus.wait"
  if wait_opts then wait.check(3, "wait_for_state", self, "status", name, target, wait_opts) end
  local result, err = self:act("PUT", url, nil, call, wait_opts, function(_, w)
    return wait.wait_for_state(self, name, target, w)
  end)
  return result, err
end

-- PUT .../pause, asynchronous on the server. Returns true (the API's empty 202); with opts.wait,
-- waits until the connector and every task are PAUSED and returns that status.
function Confluent:pause(name, opts)
  local result, err = state_action(self, "pause", name, "PAUSED", opts)
  return result, err
end

-- PUT .../resume: the same, waiting for RUNNING.
function Confluent:resume(name, opts)
  local result, err = state_action(self, "resume", name, "RUNNING", opts)
  return result, err
end

local OFFSETS_SHAPE = "{ partition = { ... }, offset = { ... } }"

-- A table of named fields (a JSON object with at least one member).
local function is_object(v)
  if type(v) ~= "table" or next(v) == nil then return false end
  for k in pairs(v) do
    if type(k) ~= "string" then return false end
  end
  return true
end

local function check_entry(i, entry, level)
  if type(entry) ~= "table" then
    error(("offsets[%d] must be %s, got %s"):format(i, OFFSETS_SHAPE, type(entry)), level + 1)
  end
  for k in pairs(entry) do
    if k ~= "partition" and k ~= "offset" then
      error(("offsets[%d] has an unknown field '%s' (expected %s)"):format(i, tostring(k), OFFSETS_SHAPE), level + 1)
    end
  end
  for _, field in ipairs { "partition", "offset" } do
    if not is_object(entry[field]) then
      error(("offsets[%d].%s must be a table of named fields (the connector's own, e.g. kafka_topic and " ..
        "kafka_partition, kafka_offset for a sink), got %s"):format(i, field, type(entry[field])), level + 1)
    end
  end
end

-- offsets: a non-empty list of { partition = {...}, offset = {...} }, the fields of which depend
-- on the connector (see the API's AlterOffsetRequest). The JSON body, or a raise naming the fault.
local function offsets_body(kind, offsets, level)
  level = level + 1
  local body = { type = kind }
  if offsets == nil and kind == "DELETE" then return body end
  if type(offsets) ~= "table" or offsets[1] == nil then
    error(("offsets must be a non-empty list of %s%s, got %s"):format(OFFSETS_SHAPE,
      kind == "DELETE" and " (or nil to reset them all)" or "", type(offsets)), level)
  end
  local n = #offsets
  for k in pairs(offsets) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then
      error("offsets must be a list (keys 1.." .. n .. "), got the key " .. tostring(k), level)
    end
  end
  for i = 1, n do check_entry(i, offsets[i], level) end
  body.offsets = offsets
  local ok, why = pcall(core.json_encode, body)
  if not ok then error("offsets cannot be sent as JSON: " .. tostring(why):gsub("^[^\n]-:%d+: ", ""), level) end
  return body
end

-- The accepted request's stamp, which the wait matches: the server's clock, never ours.
local function wait_for_request(self, name, accepted, w)
  if type(accepted) ~= "table" or type(accepted.requested_at) ~= "string" or accepted.requested_at == "" then
    return nil, errors.new("decode", "the API accepted the offsets request of " .. name ..
      " without a requested_at to wait on", { body = accepted })
  end
  w.request = { requested_at = accepted.requested_at, type = type(accepted.type) == "string" and accepted.type or nil }
  return require("connectstatus.wait").wait_for_offset_phase(self, name, "APPLIED", w)
end

local function offsets_action(self, kind, name, offsets, opts)
  local url = self:connector_path(name, "/offsets/request")
  local body = offsets_body(kind, offsets, 3)
  local call, wait_opts = backend.action_options(opts, nil, kind == "PATCH" and "alter_offsets" or "reset_offsets", 3)
  if wait_opts then
    -- The request to match comes with the answer; a stand-in lets the rest be checked now.
    local probe = {}
    for k, v in pairs(wait_opts) do probe[k] = v end
    probe.request = { requested_at = "1970-01-01T00:00:00Z" }
    require("connectstatus.wait").check(3, "wait_for_offset_phase", self, "offset_request_status", name,
      "APPLIED", probe)
  end
  call.expect = "object"
  local result, err = self:act("POST", url, body, call, wait_opts, function(accepted, w)
    return wait_for_request(self, name, accepted, w)
  end)
  return result, err
end

-- POST .../offsets/request of type PATCH. Returns the accepted request (with its requested_at);
-- with opts.wait, waits for that request to be APPLIED and returns its final status.
function Confluent:alter_offsets(name, offsets, opts)
  local result, err = offsets_action(self, "PATCH", name, offsets, opts)
  return result, err
end

-- The same with type DELETE: offsets nil resets them all.
function Confluent:reset_offsets(name, offsets, opts)
  local result, err = offsets_action(self, "DELETE", name, offsets, opts)
  return result, err
end

function Confluent:describe()
  return ("%s/%s"):format(self.environment, self.cluster)
end

M.Confluent = Confluent
return M
