-- The reference for JSON selections, shared by spec/json_select_spec.lua and the fuzz target
-- (fuzz/json_fuzz.c): what core.json_decode(s, {select = paths}) must give, computed in Lua from
-- the full decode. A path is a dotted list of segments; `*` matches any member and any array item.
local array_mt = require("connectstatus.core").json_array_mt

-- LuaJIT 2.1.0-beta3's compiler gets this module wrong now and then: pruning one tree twice, even one
-- lua-cjson decoded, gave two different answers in about one run in three. The interpreter never does.
if rawget(_G, "jit") then jit.off(true, true) end

local M = {}

local function split(path)
  local segs = {}
  for seg in path:gmatch "[^.]+" do segs[#segs + 1] = seg end
  return segs
end

-- The paths that go on below a member named key (key == nil: an array item), first segment taken.
local function below(paths, key)
  local rest = {}
  for _, p in ipairs(paths) do
    if p[1] == "*" or (key ~= nil and p[1] == key) then
      local tail = {}
      for i = 2, #p do tail[i - 1] = p[i] end
      rest[#rest + 1] = tail
    end
  end
  return rest
end

local function is_array(t) return getmetatable(t) == array_mt or t[1] ~= nil end

-- The full decode v with every member and item on no selected path left out. A value where a
-- path ends is whole; a scalar on the way to a path is kept as is; an array that keeps no item
-- gets the array metatable, as an empty one in the input does.
local function prune(v, paths)
  for _, p in ipairs(paths) do
    if #p == 0 then return v end
  end
  if type(v) ~= "table" then return v end
  local out = {}
  if is_array(v) then
    local rest = below(paths, nil)
    if #rest > 0 then
      for i = 1, #v do out[i] = prune(v[i], rest) end
    end
    if out[1] == nil then setmetatable(out, array_mt) end
    return out
  end
  for k, x in pairs(v) do
    local rest = below(paths, k)
    if #rest > 0 then out[k] = prune(x, rest) end
  end
  return out
end

function M.prune(v, paths)
  local segs = {}
  for i, p in ipairs(paths) do segs[i] = split(p) end
  return prune(v, segs)
end

-- Deep equality, metatables and integer/float kinds included: true, or false and where they differ.
local function same(a, b, where)
  if type(a) ~= type(b) then return false, where .. ": " .. type(a) .. " ~= " .. type(b) end
  if type(a) ~= "table" then
    local kind = math.type or type
    if a ~= b or kind(a) ~= kind(b) then return false, where .. ": " .. tostring(a) .. " ~= " .. tostring(b) end
    return true
  end
  if getmetatable(a) ~= getmetatable(b) then return false, where .. ": metatables differ" end
  for k, x in pairs(a) do
    local ok, why = same(x, b[k], where .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, where .. "." .. tostring(k) .. ": missing" end
  end
  return true
end
M.same = same

-- Member names of v usable as segments (non-empty, without a dot), up to limit of them.
local function names_of(v, out, limit)
  if type(v) ~= "table" then return out end
  for k, x in pairs(v) do
    if #out >= limit then break end
    if type(k) == "string" and k ~= "" and not k:find(".", 1, true) then out[#out + 1] = k end
    names_of(x, out, limit)
  end
  return out
end

-- For the fuzz target: one to four paths drawn from the input s (its bytes seed the draw) and from
-- the member names of its full decode v (nil if it was refused), "*" in a third of the segments.
function M.fuzz_paths(s, v)
  local seed = #s + 1
  for i = 1, math.min(#s, 24) do seed = (seed * 31 + s:byte(i)) % 2147483647 end
  if seed == 0 then seed = 1 end
  local function rand(n)
    seed = seed * 16807 % 2147483647 -- Park-Miller: exact in doubles, the same on every Lua
    return seed % n + 1
  end
  local names = names_of(v, {}, 64)
  names[#names + 1] = "a"
  for run in s:sub(1, 64):gmatch "[%w_]+" do names[#names + 1] = run end
  local paths = {}
  for i = 1, rand(4) do
    local segs = {}
    for j = 1, rand(5) do segs[j] = rand(3) == 1 and "*" or names[rand(#names)] end
    paths[i] = table.concat(segs, ".")
  end
  return paths
end

return M
