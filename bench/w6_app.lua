-- Loaded inside W6's front nginx (bench/w6_nginx.lua): the two contenders, each with one client per
-- worker, reading the same status from the upstream.
local core = require "connectstatus.core"
local driver_nginx = require "connectstatus.driver_nginx"

local M = {}

local driver, client

local function answer(ok, state, problem)
  if not ok or state ~= "RUNNING" then
    ngx.status = 502
    return ngx.print(problem)
  end
  ngx.print(state)
end

function M.cosocket(upstream, path)
  driver = driver or driver_nginx.new { base_url = upstream, pool_size = 64 }
  local r, kind, message = driver:request { method = "GET", path = path }
  local state = r and r.status == 200 and type(r.value) == "table" and r.value.connector.state
  answer(r, state, tostring(kind) .. " " .. tostring(message))
end

function M.libcurl(upstream, path)
  client = client or core.new_client { base_url = upstream }
  local status, body = client:get(path)
  local state = status == 200 and type(body) == "table" and body.connector.state
  answer(status, state, tostring(status) .. " " .. tostring(body))
end

return M
