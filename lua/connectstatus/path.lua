-- Path segments: validated at once (a programmer error raises) and percent-encoded byte by byte.
local options = require "connectstatus.options"

local M = {}

local function encode_byte(c)
  return ("%%%02X"):format(c:byte())
end

-- Every byte outside the RFC 3986 unreserved set is encoded; the class is spelled out rather than
-- %w so the result never depends on the C locale.
function M.encode(s)
  return (s:gsub("[^A-Za-z0-9%-%._~]", encode_byte))
end

-- A bad value is the caller's mistake: it raises at the user's line, however deep in the library
-- the path is built (a wait's read included).
local refuse = options.raise

function M.segment(value, what)
  if type(value) ~= "string" then refuse(("%s must be a string, got %s"):format(what, type(value))) end
  if value == "" or value == "." or value == ".." then refuse(("%s must not be empty, '.' or '..'"):format(what)) end
  if value:find("%c") then refuse(what .. " must not contain control characters") end
  return M.encode(value)
end

return M
