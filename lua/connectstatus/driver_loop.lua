-- The non-blocking HTTP driver: transfers run on a cs.loop's libcurl multi handle, and the calling
-- task yields until its answer is in, so other tasks (and the host's frame) go on meanwhile.
local M = {}

local Driver = { __name = "connectstatus.driver.loop" }
Driver.__index = Driver

-- Made per call, so neither the loop nor the client keeps the other alive.
function M.new(loop, client)
  return setmetatable({ loop = loop, client = client }, Driver)
end

-- The request interface every driver implements; see transport.lua. Must be called from a task
-- of self.loop. Connections are kept alive by the loop's multi handle, not by the transfer, so
-- each request gets a fresh transfer.
function Driver:request(req)
  local t = self.client:transfer()
  t:start(req.method, req.url or req.path, req.body, req.timeout, req.url ~= nil)
  self.loop:await_transfer(t)
  local result, kind, message = t:response(req.select)
  t:close()
  return result, kind, message
end

return M
