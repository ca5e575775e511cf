-- W5 for luasocket + lua-cjson: status reads of N distinct connectors, one after another, on one
-- kept-alive connection (socket.http cannot keep one alive, so this speaks HTTP/1.1 itself).
--   lua5.4 bench/w5_luasocket.lua HOST PORT N
local host, port, n = ...
n = assert(tonumber(n), "usage: w5_luasocket.lua HOST PORT N")
local socket = require "socket"
local cjson = require "cjson"

local conn = assert(socket.connect(host, tonumber(port)))
conn:setoption("tcp-nodelay", true)
local function get(path)
  assert(conn:send(("GET %s HTTP/1.1\r\nHost: %s:%s\r\nAccept: application/json\r\n" ..
    "Authorization: Bearer bench-token-not-real\r\n\r\n"):format(path, host, port)))
  local status = assert(conn:receive("*l"))
  local length
  while true do
    local line = assert(conn:receive("*l"))
    if line == "" then break end
    local v = line:lower():match("^content%-length:%s*(%d+)")
    if v then length = tonumber(v) end
  end
  local body = assert(conn:receive(length))
  return tonumber(status:match(" (%d%d%d)")), cjson.decode(body)
end

local started = socket.gettime()
local running = 0
for i = 1, n do
  local code, st = get(("/connect/v1/environments/env-bench/clusters/lkc-bench/connectors/w5-%03d/status"):format(i))
  assert(code == 200, "HTTP " .. tostring(code))
  if st.connector.state == "RUNNING" then running = running + 1 end
end
print(("result contender=luasocket-cjson-sequential workload=W5 n=%d running=%d seconds=%.6f"):format(
  n, running, socket.gettime() - started))
