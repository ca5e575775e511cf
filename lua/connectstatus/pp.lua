-- pp: a readable, deterministic rendering of any result for the REPL and logs (sorted keys,
-- integers exact, cycles marked).
local core = require "connectstatus.core"

local M = {}

local function is_identifier(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta == "number" end
  return a < b
end

local function scalar(v)
  if v == core.null then return "null" end
  if type(v) == "string" then return ("%q"):format(v):gsub("\\\n", "\\n") end
  if math.type and math.type(v) == "integer" then return ("%d"):format(v) end
  if type(v) == "number" and v == math.floor(v) and v >= -2 ^ 53 and v <= 2 ^ 53 then
    return ("%.0f"):format(v)
  end
  return tostring(v)
end

local render

local function render_table(t, indent, seen, out)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  if #keys == 0 then
    out[#out + 1] = "{}"
    return
  end
  table.sort(keys, key_order)
  local is_array = #keys == #t
  seen[t] = true
  out[#out + 1] = "{\n"
  for _, k in ipairs(keys) do
    out[#out + 1] = indent .. "  "
    if not is_array then
      out[#out + 1] = is_identifier(k) and k or "[" .. scalar(k) .. "]"
      out[#out + 1] = " = "
    end
    render(t[k], indent .. "  ", seen, out)
    out[#out + 1] = ",\n"
  end
  out[#out + 1] = indent .. "}"
  seen[t] = nil
end

function render(v, indent, seen, out)
  if type(v) ~= "table" then
    out[#out + 1] = scalar(v)
  elseif seen[v] then
    out[#out + 1] = "<cycle>"
  elseif getmetatable(v) and getmetatable(v).__tostring then
    out[#out + 1] = tostring(v)
  else
    render_table(v, indent, seen, out)
  end
end

function M.format(v)
  local out = {}
  render(v, "", {}, out)
  return table.concat(out)
end

-- Prints each argument's rendering on its own line and returns them, so `pp(cc:status(n))` also
-- shows the error of a `nil, err` pair.
function M.pp(...)
  local n = select("#", ...)
  for i = 1, n do
    print(M.format((select(i, ...))))
  end
  return ...
end

return M
