-- The blocking HTTP driver: one libcurl easy handle per client, kept between calls so its
-- connection stays alive. Used outside any cs.loop task; the call returns when the answer is in.
local M = {}

local Driver = { __name = "connectstatus.driver.curl" }
Driver.__index = Driver

function M.new(client)
  return setmetatable({ client = client }, Driver)
end

-- The request interface every driver implements; see transport.lua.
function Driver:request(req)
  local t = self.transfer
  if t == nil then
    t = self.client:transfer()
    self.transfer = t
  end
  t:start(req.method, req.url or req.path, req.body, req.timeout, req.url ~= nil)
  return t:perform(req.select)
end

-- The transfer borrows the client's header lists and holds its kept-alive connection: closing it
-- lets the client's close release both (and wipe the credentials) at once.
function Driver:close()
  if self.transfer then self.transfer:close() end
  self.transfer = nil
end

return M
