-- Backend for the Feldera pipeline manager (v0): input connector stats.
local backend = require "connectstatus.backend"
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

function Feldera:input_stats(pipeline, table_name, connector, opts)
  return self:get("/v0/pipelines/" .. path.segment(pipeline, "pipeline", 2) ..
    "/tables/" .. path.segment(table_name, "table name", 2) ..
    "/connectors/" .. path.segment(connector, "connector name", 2) .. "/stats", backend.call(opts, "object", 2))
end

function Feldera:wait_for_end_of_input(pipeline, table_name, connector, opts)
  return require("connectstatus.wait").wait_for_end_of_input(self, pipeline, table_name, connector, opts)
end

function Feldera:describe()
  return self.base_url
end

M.Feldera = Feldera
return M
