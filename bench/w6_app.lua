-- Loaded inside W6's front nginx (bench/w6_nginx.lua): the two contenders, each with one client per
-- worker, reading the same status from the upstream through the public API.
local cs = require "connectstatus"

local M = {}

local clients = {}

local function answer(status, err)
  local state = status and status.connector.state
  if state ~= "RUNNING" then
    ngx.status = 502
    return ngx.print(tostring(err))
  end
  ngx.print(state)
end

-- driver = nil: inside nginx the client picks the cosocket driver by itself; "curl" forces the
-- blocking libcurl driver, which stalls the worker for every read.
local function read(contender, upstream, driver)
  local client = clients[contender]
  if not client then
    client = cs.confluent { api_key = "bench-key", api_secret = "bench-secret", environment = "env-bench",
      cluster = "lkc-bench", base_url = upstream, driver = driver }
    clients[contender] = client
  end
  answer(client:status("orders-sink"))
end

function M.cosocket(upstream) read("cosocket", upstream, nil) end

function M.libcurl(upstream) read("libcurl", upstream, "curl") end

return M
