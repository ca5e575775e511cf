-- Backend for the Feldera pipeline manager (v0): input, output and pipeline stats, input
-- connector control (start, pause) and completion tokens.
local backend = require "connectstatus.backend"
local errors = require "connectstatus.errors"
local path = require "connectstatus.path"

local M = {}

local Feldera = backend.class("connectstatus.Feldera")

local OWN = { api_key = true, tenant = true }

function M.new(opts)
  if type(opts) ~= "table" then error("feldera{...} expects a table of options", 3) end
  if opts.base_url == nil then error("option 'base_url' is required (e.g. http://127.0.0.1:8080)", 3) end
  for _, name in ipairs { "api_key", "tenant" } do
    if opts[name] ~= nil and type(opts[name]) ~= "string" then
      error(("option '%s' must be a string"):format(name), 3)
    end
  end
  if opts.tenant and opts.tenant:find("[%c]") then
    error("option 'tenant' contains CR, LF or NUL", 3)
  end
  local self = backend.new(Feldera, opts, {
    what = "cs.feldera", own = OWN,
    -- Feldera asks clients not to retry its 500s; 503 (not deployed yet) is retried.
    transport = { token = opts.api_key, headers = opts.tenant and { "Feldera-Tenant: " .. opts.tenant } or nil,
      rules = { retry_500 = false } },
  }, 3)
  self.base_url = self.transport.base_url
  return self
end

-- "/v0/pipelines/P/tables|views/T/connectors/C/", each name checked (see path.segment).
local function connector_path(pipeline, side, name, connector)
  return "/v0/pipelines/" .. path.segment(pipeline, "pipeline") ..
    (side == "views" and "/views/" .. path.segment(name, "view name")
      or "/tables/" .. path.segment(name, "table name")) ..
    "/connectors/" .. path.segment(connector, "connector name") .. "/"
end

function Feldera:input_stats(pipeline, table_name, connector, opts)
  local target = connector_path(pipeline, "tables", table_name, connector) .. "stats"
  return self:get(target, backend.call(opts, "object", 2))
end

function Feldera:output_stats(pipeline, view, connector, opts)
  local target = connector_path(pipeline, "views", view, connector) .. "stats"
  return self:get(target, backend.call(opts, "object", 2))
end

-- Global metrics and the stats of every input and output endpoint, in one call.
function Feldera:pipeline_stats(pipeline, opts)
  local target = "/v0/pipelines/" .. path.segment(pipeline, "pipeline") .. "/stats"
  return self:get(target, backend.call(opts, "object", 2))
end

-- POST .../connectors/C/{action}: true once Feldera has processed it.
local function connector_action(self, action, pipeline, table_name, connector, opts)
  local target = connector_path(pipeline, "tables", table_name, connector) .. action
  local ok, err = self:act("POST", target, nil, backend.call(opts, "any", 3))
  if not ok then return nil, err end
  return true
end

function Feldera:pause_connector(pipeline, table_name, connector, opts)
  local ok, err = connector_action(self, "pause", pipeline, table_name, connector, opts)
  return ok, err
end

function Feldera:start_connector(pipeline, table_name, connector, opts)
  local ok, err = connector_action(self, "start", pipeline, table_name, connector, opts)
  return ok, err
end

-- A token for the input connector's current position; see wait_for_completion.
function Feldera:completion_token(pipeline, table_name, connector, opts)
  local target = connector_path(pipeline, "tables", table_name, connector) .. "completion_token"
  local answer, err = self:get(target, backend.call(opts, "object", 2))
  if not answer then return nil, err end
  if type(answer.token) ~= "string" or answer.token == "" then
    return nil, errors.new("decode", "the completion token answer has no token", { url = self.base_url .. target })
  end
  return answer.token
end

-- { status = "complete" | "inprogress", step = }: Feldera answers 200 once complete, 202 before.
function Feldera:completion_status(pipeline, token, opts)
  if type(token) ~= "string" or token == "" then
    error("completion token must be a non-empty string, got " .. type(token), 2)
  end
  local target = "/v0/pipelines/" .. path.segment(pipeline, "pipeline") .. "/completion_status?token=" ..
    path.encode(token)
  return self:get(target, backend.call(opts, "object", 2))
end

function Feldera:wait_for_end_of_input(pipeline, table_name, connector, opts)
  return require("connectstatus.wait").wait_for_end_of_input(self, pipeline, table_name, connector, opts)
end

-- Polls completion_status until the token is complete; returns that last answer.
function Feldera:wait_for_completion(pipeline, token, opts)
  local wait = require "connectstatus.wait"
  wait.check(2, "wait_for_completion", self, "completion_status", pipeline, token, opts)
  local answer, err = wait.wait_for_completion(self, pipeline, token, opts)
  return answer, err
end

function Feldera:describe()
  return self.base_url
end

M.Feldera = Feldera
return M
