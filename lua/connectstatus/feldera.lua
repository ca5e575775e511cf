-- Backend for the Feldera pipeline manager (v0): input connector stats.
local transport = require "connectstatus.transport"
local path = require "connectstatus.path"

local M = {}

local Feldera = { __name = "connectstatus.Feldera" }
Feldera.__index = Feldera

function M.new(opts)
  if type(opts) ~= "table" then error("feldera{...} expects a table of options", 2) end
  if opts.base_url == nil then error("option 'base_url' is required (e.g. http://127.0.0.1:8080)", 2) end
  for _, name in ipairs { "api_key", "tenant" } do
    if opts[name] ~= nil and type(opts[name]) ~= "string" then
      error(("option '%s' must be a string"):format(name), 2)
    end
  end
  if opts.tenant and opts.tenant:find("[%c]") then
    error("option 'tenant' contains CR, LF or NUL", 2)
  end
  local t = transport.new({
    base_url = opts.base_url,
    token = opts.api_key,
    headers = opts.tenant and { "Feldera-Tenant: " .. opts.tenant } or nil,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout, stall_timeout = opts.stall_timeout,
    max_body = opts.max_body, max_depth = opts.max_depth,
    cafile = opts.cafile, capath = opts.capath, proxy = opts.proxy,
    -- Feldera asks clients not to retry its 500s; 503 (not deployed yet) is retried.
    retry = opts.retry, retry_500 = false,
    sleep = opts.sleep, clock = opts.clock, random = opts.random,
    allow_insecure_http = opts.allow_insecure_http,
  }, 2)
  return setmetatable({ transport = t, base_url = t.base_url }, Feldera)
end

function Feldera:input_stats(pipeline, table_name, connector)
  return self.transport:get("/v0/pipelines/" .. path.segment(pipeline, "pipeline", 2) ..
    "/tables/" .. path.segment(table_name, "table name", 2) ..
    "/connectors/" .. path.segment(connector, "connector name", 2) .. "/stats")
end

function Feldera:wait_for_end_of_input(pipeline, table_name, connector, opts)
  return require("connectstatus.wait").wait_for_end_of_input(self, pipeline, table_name, connector, opts)
end

function Feldera:rate_limit()
  return self.transport:rate_limit()
end

function Feldera:close()
  self.transport:close()
end

Feldera.__close = Feldera.close

function Feldera:__tostring()
  local closed = self.transport:is_closed() and " (closed)" or ""
  return "connectstatus.Feldera " .. self.base_url .. closed
end

M.Feldera = Feldera
return M
