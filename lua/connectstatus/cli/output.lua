-- What the CLI writes: a checked writer (a full disk is an error, not a silent exit 0), text made
-- safe for a terminal, tables with optional colour, and JSON through pp.json (sorted keys).
local pp = require "connectstatus.pp"
local core = require "connectstatus.core"

local M = {}

-- ---- writing ----

local Writer = {}
Writer.__index = Writer

-- A writer over a file that remembers the first write error instead of raising.
function M.writer(file)
  return setmetatable({ file = file }, Writer)
end

function Writer:write(...)
  if self.failed then return end
  local ok, err = self.file:write(...)
  if not ok then self.failed = err or "write failed" end
end

-- Flushes; returns nil and the error of the first failed write or of the flush.
function Writer:finish()
  if not self.failed then
    local ok, err = self.file:flush()
    if not ok then self.failed = err or "flush failed" end
  end
  if self.failed then return nil, self.failed end
  return true
end

-- ---- terminals ----

local function is_terminal(fd)
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" then return false end
  local r = os.execute("test -t " .. fd)
  return r == true or r == 0
end

M.is_terminal = is_terminal

-- Colour on a terminal only, and never with NO_COLOR set (https://no-color.org).
function M.use_colour()
  local no = os.getenv("NO_COLOR")
  if no ~= nil and no ~= "" then return false end
  return is_terminal(1)
end

local COLOURS = {
  FAILED = "31", failed = "31", DELETED = "31", RUNNING = "32", healthy = "32", degraded = "33", DEGRADED = "33",
  PAUSED = "33", STOPPED = "33",
}

function M.colour(text, padded, on)
  local code = on and COLOURS[text]
  if not code then return padded end
  return "\27[" .. code .. "m" .. text .. "\27[0m" .. padded:sub(#text + 1)
end

-- ---- safe text ----

local function escape_byte(c)
  return ("\\x%02x"):format(c:byte())
end

-- API text made inert for a terminal: C0 controls (ESC, CR, BEL...), DEL and the C1 controls
-- (U+0080..U+009F, which some terminals obey like ESC sequences) become \xNN escapes. keep_lines
-- leaves LF and TAB for multi-line traces.
function M.clean(s, keep_lines)
  s = tostring(s)
  local pattern = keep_lines and "[%z\1-\8\11-\31\127]" or "[%z\1-\31\127]"
  s = s:gsub(pattern, escape_byte)
  return (s:gsub("\194([\128-\159])", function(c) return "\\u00" .. ("%02x"):format(c:byte()) end))
end

-- A cell's text: integers exact, inexact numbers marked "~", nil as "-", first line of strings.
function M.cell(v)
  if v == nil or v == core.null then return "-" end
  if type(v) == "string" then return M.clean(v:match("^[^\r\n]*")) end
  if pp.is_inexact(v) then return "~" .. pp.format(v) end
  return M.clean(pp.format(v))
end

-- Rows of cells under headers; highlight(row, column, texts of the row) -> true draws a cell in reverse video
-- (the --watch changes). Cells are made safe here, so callers pass raw API values.
function M.table(w, headers, rows, opts)
  opts = opts or {}
  local widths, texts = {}, {}
  for i, h in ipairs(headers) do widths[i] = #h end
  for r, row in ipairs(rows) do
    texts[r] = {}
    for i = 1, #headers do
      texts[r][i] = M.cell(row[i])
      widths[i] = math.max(widths[i], #texts[r][i])
    end
  end
  local function line(cells, r)
    local parts = {}
    for i = 1, #headers do
      local padded = i < #headers and cells[i] .. (" "):rep(widths[i] - #cells[i]) or cells[i]
      padded = r and M.colour(cells[i], padded, opts.colour) or padded
      if r and opts.highlight and opts.highlight(r, i, cells) then padded = "\27[7m" .. padded .. "\27[27m" end
      parts[i] = padded
    end
    w:write(table.concat(parts, "  "), "\n")
  end
  line(headers)
  for r, cells in ipairs(texts) do line(cells, r) end
  return texts
end

-- ---- machine output ----

-- One JSON document and a newline; a warning on stderr when numbers may be inexact (LuaJIT/5.1).
function M.json(w, v, errw)
  local text, inexact = pp.json(v)
  w:write(text, "\n")
  if inexact > 0 and errw then
    errw:write(("connectstatus: warning: %d number(s) beyond 2^53 may be inexact on %s; run the CLI on " ..
      "Lua 5.3 or later for exact 64-bit integers\n"):format(inexact, rawget(_G, "jit") and "LuaJIT" or _VERSION))
  end
end

-- A Prometheus label value: backslash, quote and newline escaped (text exposition format).
function M.label(s)
  return (tostring(s):gsub("[\\\"\n]", { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

return M
