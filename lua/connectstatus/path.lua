-- Path segments: validated at once (a programmer error raises) and percent-encoded byte by byte.
local M = {}

local function encode_byte(c)
  return ("%%%02X"):format(c:byte())
end

-- Every byte outside the RFC 3986 unreserved set is encoded; the class is spelled out rather than
-- %w so the result never depends on the C locale.
function M.encode(s)
  return (s:gsub("[^A-Za-z0-9%-%._~]", encode_byte))
end

function M.segment(value, what, level)
  level = (level or 1) + 1
  if type(value) ~= "string" then
    error(("%s must be a string, got %s"):format(what, type(value)), level)
  end
  if value == "" or value == "." or value == ".." then
    error(("%s must not be empty, '.' or '..'"):format(what), level)
  end
  if value:find("%c") then error(what .. " must not contain control characters", level) end
  return M.encode(value)
end

return M
