-- W2/W4 by hand with socket.http + lua-cjson: fetch the expanded list, decode, count the FAILED connectors.
--   lua5.4 bench/luasocket_fleet.lua URL CLUSTER
local url, cluster = ...
assert(cluster, "usage: luasocket_fleet.lua URL CLUSTER")

local http = require "socket.http"
local ltn12 = require "ltn12"
local mime = require "mime"
local cjson = require "cjson"
local gettime = require("socket").gettime

local headers = {
  authorization = "Basic " .. mime.b64("BENCHKEY0123456789:bench-secret-not-real"),
  accept = "application/json",
}

local started = gettime()
local chunks = {}
local ok, code = http.request { url = url, headers = headers, sink = ltn12.sink.table(chunks) }
if not ok or code ~= 200 then error("GET " .. url .. ": " .. tostring(code)) end
local fetched = gettime()
local fleet = cjson.decode(table.concat(chunks))
local decoded = gettime()
local connectors, failed = 0, 0
for _, c in pairs(fleet) do
  connectors = connectors + 1
  local st = c.status
  local bad = st.connector.state == "FAILED"
  for _, t in ipairs(st.tasks) do
    if t.state == "FAILED" then bad = true end
  end
  if bad then failed = failed + 1 end
end
local finished = gettime()
local seconds = finished - started

-- The phases, for the report's "where the time goes".
print(("result contender=luasocket-cjson workload=W2 cluster=%s n=%d seconds=%.6f failed=%d fetch_s=%.6f "
  .. "decode_s=%.6f count_s=%.6f"):format(cluster, connectors, seconds, failed, fetched - started,
  decoded - fetched, finished - decoded))
