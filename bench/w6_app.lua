-- Loaded inside W6's front nginx (bench/w6_nginx.lua): the two contenders, each with one client per
-- worker, reading the same status from the upstream.
local cs = require "connectstatus"
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

-- Through the public API with libcurl forced (driver = "curl", which the client before the request
-- seam ignores: it has no other).
function M.libcurl(upstream)
  client = client or cs.confluent { api_key = "bench-key", api_secret = "bench-secret", environment = "env-bench",
    cluster = "lkc-bench", base_url = upstream, driver = "curl" }
  local status, err = client:status("orders-sink")
  answer(status, status and status.connector.state, tostring(err))
end

return M
