-- Checking what a user typed: option tables for unknown names, and state or phase names in any
-- case against the ones the APIs know, both with a "did you mean" suggestion.
local M = {}

-- Connector (and task) states of both APIs. Confluent Cloud: NONE, PROVISIONING, RUNNING, DEGRADED,
-- FAILED, PAUSED, DELETED. Kafka Connect: UNASSIGNED, RUNNING, PAUSED, FAILED, RESTARTING, STOPPED.
M.CONNECTOR_STATES = { "DEGRADED", "DELETED", "FAILED", "NONE", "PAUSED", "PROVISIONING", "RESTARTING", "RUNNING",
  "STOPPED", "UNASSIGNED" }
-- Phases of a Confluent Cloud alter-offsets request (an extensible enum in the API document).
M.OFFSET_PHASES = { "APPLIED", "FAILED", "PENDING", "PENDING_VALIDATION" }

-- Optimal string alignment distance: Levenshtein plus the swap of two neighbours ("clutser").
function M.distance(a, b)
  local la, lb = #a, #b
  local rows = {}
  for i = 0, la do
    rows[i] = { [0] = i }
  end
  for j = 1, lb do rows[0][j] = j end
  for i = 1, la do
    local ca = a:sub(i, i)
    for j = 1, lb do
      local cb = b:sub(j, j)
      local cost = ca == cb and 0 or 1
      local d = math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and ca == b:sub(j - 1, j - 1) and a:sub(i - 1, i - 1) == cb then
        d = math.min(d, rows[i - 2][j - 2] + 1)
      end
      rows[i][j] = d
    end
  end
  return rows[la][lb]
end

-- The candidate closest to word (case-insensitively), when close enough to be a typo: at most a
-- third of the word's length away (at least 1), or the word is a prefix of exactly that candidate.
-- Ties go to the first in candidates order, so callers pass a sorted list for stable answers.
function M.suggest(word, candidates)
  if type(word) ~= "string" or word == "" then return nil end
  local lower = word:lower()
  local limit = math.max(1, math.floor(#word / 3))
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = M.distance(lower, c:lower())
    if c:lower():sub(1, #lower) == lower and #lower >= 3 then d = math.min(d, 1) end
    if d <= limit and (best_d == nil or d < best_d) then best, best_d = c, d end
  end
  return best
end

local function names_of(known)
  local list = {}
  if #known > 0 then
    for i, name in ipairs(known) do list[i] = name end
  else
    for name in pairs(known) do list[#list + 1] = name end
  end
  table.sort(list)
  return list
end

-- " (did you mean 'x'?)" or ""; before and after replace the quotes ("--" and "" for a flag).
function M.did_you_mean(word, candidates, before, after)
  local s = M.suggest(word, candidates)
  if not s then return "" end
  before = before or "'"
  return (" (did you mean %s%s%s?)"):format(before, s, after or (before == "'" and "'" or ""))
end

-- The folder this file was loaded from, which holds every file of the library (nil when it was
-- loaded from a string).
local LIBRARY = debug.getinfo(1, "S").source:match("^@(.*[/\\])")

-- The level for error() in the function that calls this that points at the first frame outside
-- the library: the user's call, however many of the library's frames (and Lua 5.1's tail calls)
-- lie in between.
function M.outside_level()
  local level = 3
  while LIBRARY do
    local info = debug.getinfo(level, "S")
    if not (info and (info.what == "tail" or info.source:sub(2, #LIBRARY + 1) == LIBRARY)) then break end
    level = level + 1
  end
  return level - 1
end

-- Raises message (a wrong argument) at the user's call, past the library's own frames.
function M.raise(message)
  error(message, M.outside_level())
end

-- The level for error() in the caller of this function that points at the user's call: level
-- as that caller would pass it, moved past the "(tail call)" frames Lua 5.1 leaves where a
-- wrapper such as cs.health tail-called the library function.
function M.user_level(level)
  local l = level + 1 -- the same frame, seen from here
  local info = debug.getinfo(l, "S")
  while info and info.what == "tail" do
    l = l + 1
    info = debug.getinfo(l, "S")
  end
  return l - 1
end

-- Raises on the first key of opts (in sorted order) that is not a known option name:
--   unknown option 'clutser' for connectstatus.confluent (did you mean 'cluster'?)
-- known: a list of names or a set { name = true }. what names the call in the message. level is
-- what the calling function would pass to error() to point at its own caller (default 2).
function M.check(opts, known, what, level)
  level = M.user_level((level or 2) + 1)
  if type(opts) ~= "table" then return end
  local names = names_of(known)
  local set = {}
  for _, name in ipairs(names) do set[name] = true end
  local unknown = {}
  for k in pairs(opts) do
    if type(k) ~= "string" then
      error(("option names for %s must be strings, got a %s key"):format(what, type(k)), level)
    end
    if not set[k] then unknown[#unknown + 1] = k end
  end
  if #unknown == 0 then return end
  table.sort(unknown)
  error(("unknown option '%s' for %s%s"):format(unknown[1], what, M.did_you_mean(unknown[1], names)), level)
end

local KNOWN = { state = M.CONNECTOR_STATES, phase = M.OFFSET_PHASES }

-- A state ("state") or offsets phase ("phase") name in any case -> its canonical (upper case)
-- spelling, or nil and a message naming the known ones. force accepts an unknown name as given.
function M.canonical(value, kind, force)
  local known = KNOWN[kind] or error("kind must be 'state' or 'phase', got " .. tostring(kind), 2)
  if type(value) ~= "string" or value == "" then
    return nil, ("a %s must be a non-empty string, got %s"):format(kind, type(value))
  end
  local upper = value:upper()
  for _, name in ipairs(known) do
    if name == upper then return name end
  end
  if force then return value end
  return nil, ("unknown %s '%s'%s; known %ss: %s"):format(kind, value, M.did_you_mean(value, known), kind,
    table.concat(known, ", "))
end

-- The raising form of canonical, for library arguments: level as in check; opts.force (boolean)
-- accepts an unknown name; opts.hint is appended to the message (e.g. how to force it).
function M.state(value, kind, level, opts)
  opts = opts or {}
  local name, message = M.canonical(value, kind, opts.force)
  if not name then error(message .. (opts.hint or ""), M.user_level((level or 2) + 1)) end
  return name
end

return M
