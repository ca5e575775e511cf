-- JSONTestSuite over core.json_decode (every y_ accepted, every n_ rejected, every i_ as
-- listed in the README), then a differential check against lua-cjson.
local core = require "connectstatus.core"
local lfs = require "lfs"
local decode, null = core.json_decode, core.null

local DIR = "../shared/json-test-suite/test_parsing"

local function files(prefix)
  local list = {}
  if lfs.attributes(DIR, "mode") ~= "directory" then return list end
  for name in lfs.dir(DIR) do
    if name:sub(1, #prefix) == prefix and name:match "%.json$" then list[#list + 1] = name end
  end
  table.sort(list)
  return list
end

local function read(name)
  local f = assert(io.open(DIR .. "/" .. name, "rb"))
  local s = f:read "*a"
  f:close()
  return s
end

-- The string between the first pair of quotes, as raw bytes: what an as-is decode must give.
local function raw_string(s) return s:match '^%["(.*)"%]$' end

local inf = 1 / 0
local function array_of(value) return function(v) return type(v) == "table" and #v == 1 and v[1] == value end end
local function big_float(v)
  local x = type(v) == "table" and #v == 1 and v[1]
  return type(x) == "number" and (not math.type or math.type(x) == "float") and math.abs(x) >= 1e20
end
local function rejected(v) return v == nil end
local function as_is(s) return function(v) return type(v) == "table" and v[1] == raw_string(s) end end

-- The decoder's choice for each i_ file (the README lists them):
-- numbers beyond the double range become inf or 0 like strtod, integers beyond 64 bits floats;
-- \u surrogates that do not form a pair are rejected; raw bytes, valid UTF-8 or not, are kept
-- as they are; UTF-16 is rejected; a UTF-8 BOM is skipped; 500 levels exceed the default limit.
local I_CHOICES = {
  ["i_number_double_huge_neg_exp.json"] = array_of(0),
  ["i_number_huge_exp.json"] = array_of(inf),
  ["i_number_neg_int_huge_exp.json"] = array_of(-inf),
  ["i_number_pos_double_huge_exp.json"] = array_of(inf),
  ["i_number_real_neg_overflow.json"] = array_of(-inf),
  ["i_number_real_pos_overflow.json"] = array_of(inf),
  ["i_number_real_underflow.json"] = array_of(0),
  ["i_number_too_big_neg_int.json"] = big_float,
  ["i_number_too_big_pos_int.json"] = big_float,
  ["i_number_very_big_negative_int.json"] = big_float,
  ["i_object_key_lone_2nd_surrogate.json"] = rejected,
  ["i_string_1st_surrogate_but_2nd_missing.json"] = rejected,
  ["i_string_1st_valid_surrogate_2nd_invalid.json"] = rejected,
  ["i_string_incomplete_surrogate_and_escape_valid.json"] = rejected,
  ["i_string_incomplete_surrogate_pair.json"] = rejected,
  ["i_string_incomplete_surrogates_escape_valid.json"] = rejected,
  ["i_string_invalid_lonely_surrogate.json"] = rejected,
  ["i_string_invalid_surrogate.json"] = rejected,
  ["i_string_inverted_surrogates_U+1D11E.json"] = rejected,
  ["i_string_lone_second_surrogate.json"] = rejected,
  ["i_string_UTF-16LE_with_BOM.json"] = rejected,
  ["i_string_utf16BE_no_BOM.json"] = rejected,
  ["i_string_utf16LE_no_BOM.json"] = rejected,
  ["i_string_UTF-8_invalid_sequence.json"] = "as is",
  ["i_string_UTF8_surrogate_U+D800.json"] = "as is",
  ["i_string_invalid_utf-8.json"] = "as is",
  ["i_string_iso_latin_1.json"] = "as is",
  ["i_string_lone_utf8_continuation_byte.json"] = "as is",
  ["i_string_not_in_unicode_range.json"] = "as is",
  ["i_string_overlong_sequence_2_bytes.json"] = "as is",
  ["i_string_overlong_sequence_6_bytes.json"] = "as is",
  ["i_string_overlong_sequence_6_bytes_null.json"] = "as is",
  ["i_string_truncated-utf-8.json"] = "as is",
  ["i_structure_500_nested_arrays.json"] = rejected,
  ["i_structure_UTF-8_BOM_empty_object.json"] = function(v) return type(v) == "table" and next(v) == nil end,
}

local have_suite = #files "y_" > 0

local function check_suite(body)
  return function()
    if not have_suite then return pending("JSONTestSuite not found at " .. DIR) end
    body()
  end
end

describe("JSONTestSuite", function()
  it("accepts every y_ file", check_suite(function()
    local list = files "y_"
    assert.is_true(#list > 90)
    for _, name in ipairs(list) do
      local v, err = decode(read(name))
      assert(v ~= nil, name .. ": " .. tostring(err))
    end
  end))

  it("rejects every n_ file with a message naming the byte", check_suite(function()
    local list = files "n_"
    assert.is_true(#list > 180)
    for _, name in ipairs(list) do
      local v, err = decode(read(name))
      assert(v == nil, name .. " was accepted")
      assert(type(err) == "string" and err:match " at byte %d+$", name .. ": " .. tostring(err))
    end
  end))

  it("decides every i_ file as documented", check_suite(function()
    for _, name in ipairs(files "i_") do
      local choice = I_CHOICES[name]
      assert(choice, name .. " has no documented choice")
      local s = read(name)
      if choice == "as is" then choice = as_is(s) end
      local v, err = decode(s)
      assert(choice(v), name .. " gave " .. tostring(v) .. " " .. tostring(err))
      if v == nil then assert.matches(" at byte %d+$", err) end
    end
  end))

  it("accepts the 500 nested arrays with a limit of 500", check_suite(function()
    assert.is_table(decode(read "i_structure_500_nested_arrays.json", 500))
  end))
end)

-- Deep equality with a cjson result: numbers by value (integers beyond 2^53, where cjson's
-- doubles are inexact, are skipped), a cjson.null member is a member we leave out, metatables
-- are ignored (we mark empty arrays).
local LIMIT = 2 ^ 53
local function same(ours, theirs, path)
  if type(theirs) == "number" and type(ours) == "number" then
    if math.abs(theirs) >= LIMIT or math.abs(ours) >= LIMIT then return true end
    if ours ~= theirs and not (ours ~= ours and theirs ~= theirs) then
      error(path .. ": " .. tostring(ours) .. " ~= " .. tostring(theirs), 0)
    end
    return true
  end
  if type(theirs) ~= "table" or type(ours) ~= "table" then
    if ours ~= theirs then error(path .. ": " .. tostring(ours) .. " ~= " .. tostring(theirs), 0) end
    return true
  end
  for k, v in pairs(theirs) do
    if type(k) == "string" and v == null then
      if ours[k] ~= nil then error(path .. "." .. k .. ": a null member was kept", 0) end
    else
      same(ours[k], v, path .. "." .. tostring(k))
    end
  end
  for k in pairs(ours) do
    if theirs[k] == nil then error(path .. "." .. tostring(k) .. ": extra key", 0) end
  end
  return true
end

-- Random documents from a fixed seed (Park-Miller: exact in doubles, so the same on every Lua).
local seed
local function rand(n)
  seed = seed * 16807 % 2147483647
  return seed % n + 1
end

local function pick(list) return list[rand(#list)] end

local WS = { "", "", "", " ", "\n", "\t", "\r\n  " }
local ESCAPES = { '\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u00e9", "\\u20AC", "\\uD83D\\uDE00",
  "\\u0000", "\\u001f", "\\uFFFF" }
local PLAIN = { "a", "Z", "0", " ", "-", "_", ".", "\195\169", "\226\130\172", "\240\159\152\128", "lcc-", "RUNNING" }

local function random_string()
  local t = {}
  for i = 1, rand(12) - 1 do t[i] = rand(4) == 1 and pick(ESCAPES) or pick(PLAIN) end
  return '"' .. table.concat(t) .. '"'
end

local function digits(n)
  local t = { tostring(rand(9)) }
  for i = 2, n do t[i] = tostring(rand(10) - 1) end
  return table.concat(t)
end

local function random_number()
  local sign = rand(3) == 1 and "-" or ""
  local int = rand(5) == 1 and "0" or digits(rand(19))
  local kind = rand(4)
  if kind == 1 then return sign .. int end
  local frac = kind ~= 3 and ("." .. digits(rand(17))) or ""
  local exp = kind ~= 2 and (pick { "e", "E", "e+", "e-", "E-" } .. tostring(rand(300) - 1)) or ""
  return sign .. int .. frac .. exp
end

local function random_value(depth)
  local r = rand(depth > 4 and 6 or 9)
  if r == 1 then return random_string() end
  if r == 2 then return random_number() end
  if r == 3 then return pick { "true", "false", "null" } end
  if r <= 6 then return rand(2) == 1 and random_string() or random_number() end
  local parts = {}
  local object = r >= 8
  for i = 1, rand(6) - 1 do
    local v = pick(WS) .. random_value(depth + 1) .. pick(WS)
    parts[i] = object and (random_string() .. pick(WS) .. ":" .. v) or v
  end
  local open, close = "[", "]"
  if object then open, close = "{", "}" end
  return open .. pick(WS) .. table.concat(parts, ",") .. pick(WS) .. close
end

describe("differential against lua-cjson", function()
  local ok, cjson = pcall(require, "cjson")

  it("agrees on every y_ file cjson accepts", check_suite(function()
    if not ok then return pending "lua-cjson is not installed" end
    local compared = 0
    for _, name in ipairs(files "y_") do
      local s = read(name)
      local cj_ok, theirs = pcall(cjson.decode, s)
      if cj_ok then
        same(decode(s), theirs, name)
        compared = compared + 1
      end
    end
    assert.is_true(compared > 80)
  end))

  it("agrees on 400 random documents", function()
    if not ok then return pending "lua-cjson is not installed" end
    seed = 4242
    for i = 1, 400 do
      local s = pick(WS) .. random_value(0) .. pick(WS)
      local theirs = cjson.decode(s)
      local ours, err = decode(s)
      assert(ours ~= nil, "document " .. i .. ": " .. tostring(err) .. "\n" .. s)
      same(ours, theirs, "document " .. i)
    end
  end)
end)
