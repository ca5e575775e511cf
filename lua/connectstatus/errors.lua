-- connectstatus.Error: the one value every runtime failure returns as `nil, err`.
local M = {}

local Error = { __name = "connectstatus.Error" }
Error.__index = Error

local KIND_BY_STATUS = {
  [400] = "bad_request",
  [401] = "unauthorized",
  [403] = "forbidden",
  [404] = "not_found",
  [409] = "conflict",
  [429] = "rate_limited",
}

function M.kind_for_status(status)
  if KIND_BY_STATUS[status] then return KIND_BY_STATUS[status] end
  if status >= 500 and status <= 599 then return "server" end
  return "http"
end

function M.new(kind, message, fields)
  local err = fields or {}
  err.kind, err.message = kind, message
  return setmetatable(err, Error)
end

function M.is_error(v)
  return getmetatable(v) == Error
end

function Error.__tostring(err)
  local parts = { "connectstatus: ", err.kind, ": ", tostring(err.message) }
  if err.status and not tostring(err.message):find("HTTP " .. err.status, 1, true) then
    parts[#parts + 1] = " (HTTP " .. err.status .. ")"
  end
  if err.code ~= nil then parts[#parts + 1] = " [code " .. tostring(err.code) .. "]" end
  if err.url then parts[#parts + 1] = " <" .. err.url .. ">" end
  if err.request_id then parts[#parts + 1] = " request-id " .. err.request_id end
  if err.attempts and err.attempts > 1 then
    parts[#parts + 1] = " after " .. err.attempts .. " attempts"
  end
  return table.concat(parts)
end

function Error.__concat(a, b)
  return tostring(a) .. tostring(b)
end

M.Error = Error
return M
