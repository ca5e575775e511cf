-- W1 the way a Lua 5.4 user on Debian writes it today: socket.http (a new connection per request) + lua-cjson.
--   lua5.4 bench/luasocket_poll.lua URL N
local url, n = ...
n = assert(tonumber(n), "usage: luasocket_poll.lua URL N")

local http = require "socket.http"
local ltn12 = require "ltn12"
local mime = require "mime"
local cjson = require "cjson"
local gettime = require("socket").gettime

local headers = {
  authorization = "Basic " .. mime.b64("BENCHKEY0123456789:bench-secret-not-real"),
  accept = "application/json",
}

local function get_json(u)
  local chunks = {}
  local ok, code = http.request { url = u, headers = headers, sink = ltn12.sink.table(chunks) }
  if not ok or code ~= 200 then error("GET " .. u .. ": " .. tostring(code)) end
  return cjson.decode(table.concat(chunks))
end

local running = 0
local started = gettime()
for _ = 1, n do
  if get_json(url).connector.state == "RUNNING" then running = running + 1 end
end
local seconds = gettime() - started

print(("result contender=luasocket-cjson workload=W1 n=%d seconds=%.6f ok=%d"):format(n, seconds, running))
if running ~= n then
  io.stderr:write(("luasocket_poll: %d of %d reads said RUNNING\n"):format(running, n))
  os.exit(1)
end
