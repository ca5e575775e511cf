-- The JSON codec of connectstatus.core: numbers, nulls, strings, errors, limits, encode.
local core = require "connectstatus.core"
local decode, encode, null = core.json_decode, core.json_encode, core.null

local has_integers = math.type ~= nil -- Lua 5.3+; LuaJIT and 5.1 only have doubles

local function is_integer(v) return has_integers and math.type(v) == "integer" end
local function is_float(v) return (not has_integers and type(v) == "number") or math.type(v) == "float" end

local function decodes_to_error(s, pattern, ...)
  local v, err = decode(s, ...)
  assert.is_nil(v)
  assert.is_string(err)
  if pattern then assert.matches(pattern, err) end
  return err
end

describe("json_decode numbers", function()
  it("keeps integer literals exact as integers on 5.3+", function()
    if not has_integers then return pending "LuaJIT/5.1: every number is a double" end
    for text, value in pairs {
      ["0"] = 0, ["-0"] = 0, ["7"] = 7, ["-12"] = -12,
      ["9007199254740993"] = 9007199254740993,
      ["9223372036854775807"] = math.maxinteger,
      ["-9223372036854775808"] = math.mininteger,
    } do
      local v = decode(text)
      assert.is_true(is_integer(v), text)
      assert.equals(value, v, text)
    end
    assert.equals("9007199254740993", tostring(decode "9007199254740993"))
  end)

  it("makes integers that do not fit floats, never wrapping", function()
    for _, text in ipairs { "9223372036854775808", "-9223372036854775809", "18446744073709551616",
      "123456789012345678901234567890" } do
      local v = decode(text)
      assert.is_true(is_float(v), text)
      assert.equals(tonumber(text), v, text)
    end
    assert.is_true(decode "9223372036854775808" > 0)
    assert.is_true(decode "-9223372036854775809" < 0)
  end)

  it("makes every number a double on LuaJIT and 5.1", function()
    if has_integers then return pending "5.3+ has integers" end
    assert.equals(9007199254740992, decode "9007199254740993") -- nearest double
    assert.equals(2 ^ 63, decode "9223372036854775807")
    assert.equals(0, decode "-0")
  end)

  it("makes fractions and exponents floats, correctly rounded", function()
    for text, value in pairs {
      ["1.5"] = 1.5, ["-0.25"] = -0.25, ["1e2"] = 100, ["1E+2"] = 100, ["2.5e-3"] = 0.0025,
      ["0.1"] = 0.1, ["0.30000000000000004"] = 0.30000000000000004, ["1.0"] = 1,
      ["123456789012345678901234567890e-10"] = 1.2345678901234568e19,
      ["2.2250738585072014e-308"] = 2.2250738585072014e-308, ["5e-324"] = 5e-324,
      ["1.7976931348623157e308"] = 1.7976931348623157e308, ["0.000001234"] = 1.234e-6,
    } do
      local v = decode(text)
      assert.is_true(is_float(v), text)
      assert.equals(value, v, text)
    end
    assert.equals(-1 / 0, 1 / decode "-0.0") -- a negative zero
  end)

  it("turns exponents beyond the double range into inf or 0, like strtod", function()
    assert.equals(1 / 0, decode "1e400")
    assert.equals(-1 / 0, decode "-1e99999999999999999999")
    assert.equals(0, decode "1e-400")
    assert.equals(0, decode "0e99999")
  end)

  it("does not depend on the C locale's decimal point", function()
    local old = os.setlocale(nil, "numeric")
    local comma = os.setlocale("de_DE.UTF-8", "numeric") or os.setlocale("fr_FR.UTF-8", "numeric")
    finally(function() os.setlocale(old, "numeric") end)
    if not comma then return pending "no locale with a decimal comma is installed" end
    assert.equals(0.1, decode "0.1")
    assert.equals(1.2345678901234567e-300, decode "1.2345678901234567e-300")
    assert.equals(3.14159265358979311599796346854, decode "3.14159265358979311599796346854")
    assert.equals("[0.1,2.5]", encode { 0.1, 2.5 })
  end)

  it("rejects what the grammar forbids", function()
    for _, text in ipairs { "01", "-", "1.", ".5", "+1", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity",
      "1.e2", "- 1" } do
      decodes_to_error(text, " at byte %d+$")
    end
  end)
end)

describe("json_decode nulls", function()
  it("leaves null members out of objects", function()
    local t = decode '{"a": null, "b": 1, "c": null}'
    assert.same({ b = 1 }, t)
    assert.is_nil(next(t, next(t)))
  end)

  it("lets a later null drop an earlier duplicate (the last member wins)", function()
    assert.same({}, decode '{"a": 1, "a": null}')
    assert.same({ a = 2 }, decode '{"a": 1, "a": 2}')
    assert.same({ a = 3 }, decode '{"a": null, "a": 3}')
  end)

  it("keeps null array items as the NULL light userdata, equal to cjson.null", function()
    local t = decode "[null, 1, null]"
    assert.equals(3, #t)
    assert.equals(null, t[1])
    assert.equals(null, t[3])
    assert.equals("userdata", type(t[1]))
    local ok, cjson = pcall(require, "cjson")
    if ok then assert.equals(cjson.null, t[1]) end
  end)

  it("decodes a top-level null as the NULL light userdata", function()
    assert.equals(null, decode " null ")
  end)
end)

describe("json_decode strings", function()
  it("decodes every escape", function()
    assert.equals('"\\/\b\f\n\r\t', decode [["\"\\\/\b\f\n\r\t"]])
    assert.equals("A\0B", decode [["\u0041\u0000\u0042"]])
  end)

  it("turns \\u escapes and surrogate pairs into UTF-8", function()
    assert.equals("\195\169", decode [["\u00e9"]])
    assert.equals("\226\130\172", decode [["\u20AC"]])
    assert.equals("\239\191\191", decode [["\uffff"]])
    assert.equals("\240\159\152\128", decode [["\uD83D\uDE00"]])
    assert.equals("\244\143\191\191", decode [["\uDBFF\uDFFF"]])
    assert.equals("x\240\157\132\158y", decode [["x\ud834\udd1ey"]])
  end)

  it("rejects lone and inverted surrogates", function()
    decodes_to_error([["\uD800"]], "^unpaired surrogate at byte 2$")
    decodes_to_error([["\uDC00"]], "^unpaired surrogate at byte 2$")
    decodes_to_error([["\uDE00\uD83D"]], "unpaired surrogate")
    decodes_to_error([["\uD800\u0041"]], "unpaired surrogate")
    decodes_to_error([["\uD800\n"]], "unpaired surrogate")
  end)

  it("rejects bad escapes, raw control characters and unterminated strings", function()
    decodes_to_error([["ab\x"]], "^invalid escape at byte 4$")
    decodes_to_error([["\u12G4"]], "^invalid \\u escape at byte 2$")
    decodes_to_error('"a\nb"', "^control character in string at byte 3$")
    decodes_to_error('"a\tb\\n"', "^control character in string at byte 3$")
    decodes_to_error('"abc', "^unexpected end of input at byte 5$")
    decodes_to_error('"abc\\', "^unexpected end of input at byte 6$")
    decodes_to_error('"\\u12', "unexpected end of input")
  end)

  it("passes other bytes through as they are, valid UTF-8 or not", function()
    assert.equals("\233t\233 \255\192\128", decode '"\233t\233 \255\192\128"')
    assert.equals("\127 / \240\159\152\128", decode '"\127 / \240\159\152\128"')
  end)

  it("handles long strings with escapes at every position of a word", function()
    for i = 0, 17 do
      local s = string.rep("x", i) .. "\\n" .. string.rep("y", 20)
      assert.equals(string.rep("x", i) .. "\n" .. string.rep("y", 20), decode('"' .. s .. '"'))
    end
    local big = string.rep("abcdefgh", 10000)
    assert.equals(big, decode('"' .. big .. '"'))
  end)
end)

describe("json_decode structure", function()
  it("decodes objects, arrays and scalars", function()
    assert.same({ a = { 1, 2, { b = true } }, c = "d", e = false }, decode [[
      { "a" : [ 1 , 2 , { "b" : true } ] , "c" : "d" , "e" : false }
    ]])
    assert.equals(true, decode "true")
    assert.equals("s", decode '"s"')
    assert.equals(42, decode " 42 ")
  end)

  it("gives an empty array the shared array metatable, and nothing else one", function()
    local t = decode '{"a": [], "b": {}, "c": [1]}'
    assert.equals(core.json_array_mt, getmetatable(t.a))
    assert.is_nil(getmetatable(t.b))
    assert.is_nil(getmetatable(t.c))
    assert.is_nil(getmetatable(t))
    assert.equals(core.json_array_mt, getmetatable(decode "[ ]"))
  end)

  it("ignores a UTF-8 byte order mark at the start", function()
    assert.same({}, decode "\239\187\191{}")
    decodes_to_error("\239\187\191", "^unexpected end of input at byte 4$")
    decodes_to_error(' \239\187\191{}', "^expected a value at byte 2$")
  end)

  it("names the byte offset and what was expected", function()
    assert.equals("expected ',' or ']' at byte 4", decodes_to_error "[1 2]")
    assert.equals("expected ',' or '}' at byte 9", decodes_to_error '{"a": 1 "b": 2}')
    assert.equals("expected ':' at byte 6", decodes_to_error '{"a" 1}')
    assert.equals("expected a string key at byte 2", decodes_to_error "{1: 2}")
    assert.equals("expected a string key at byte 10", decodes_to_error '{"a": 1, }')
    assert.equals("expected a value at byte 4", decodes_to_error "[1,]")
    assert.equals("expected end of input at byte 5", decodes_to_error "[1] [2]")
    assert.equals("unexpected end of input at byte 1", decodes_to_error "")
    assert.equals("unexpected end of input at byte 4", decodes_to_error "   ")
    assert.equals("unexpected end of input at byte 8", decodes_to_error '{"a": 1')
    assert.equals("invalid literal at byte 2", decodes_to_error "[tru]")
    assert.equals("expected a digit at byte 3", decodes_to_error "[-x]")
    assert.equals("expected a value at byte 1", decodes_to_error "\0")
  end)

  it("keeps the last of duplicate keys", function()
    assert.same({ a = 3, b = 2 }, decode '{"a": 1, "b": 2, "a": 3}')
  end)

  it("decodes big arrays and objects", function()
    local parts, obj = {}, {}
    for i = 1, 5000 do
      parts[i] = tostring(i)
      obj[i] = string.format('"k%d": %d', i, i)
    end
    local a = decode("[" .. table.concat(parts, ",") .. "]")
    assert.equals(5000, #a)
    assert.equals(5000, a[5000])
    local o = decode("{" .. table.concat(obj, ",") .. "}")
    assert.equals(4321, o.k4321)
  end)

  it("keeps order, duplicates and nulls right across the batches of a big container", function()
    -- Items wait on the Lua stack and move into the table in batches of 64 members or 128 items.
    local items, want = {}, {}
    for i = 1, 300 do
      items[i] = i % 7 == 0 and "null" or ("[%d]"):format(i)
      want[i] = i % 7 == 0 and null or { i }
    end
    assert.same(want, decode("[" .. table.concat(items, ",") .. "]"))
    local members = { '"dup": 1', '"gone": 1', '"back": null' }
    for i = 4, 200 do members[i] = ('"k%d": %d'):format(i, i) end
    members[150], members[180], members[190] = '"dup": 2', '"gone": null', '"back": 3'
    local o = decode("{" .. table.concat(members, ",") .. "}")
    assert.equals(2, o.dup)
    assert.is_nil(o.gone)
    assert.equals(3, o.back)
    assert.equals(200, o.k200)
    local count = 0
    for _ in pairs(o) do count = count + 1 end
    assert.equals(197 - 3 + 2, count) -- k4..k200 but for three replaced slots, plus dup and back
  end)

  it("decodes objects and arrays of varying size and nesting", function()
    local t = decode [==[[{"x": {"a": 1, "b": 2, "c": 3, "d": 4}}, {"x": {"a": 1}}, {"x": [1, 2, 3]},
      {"x": {}}, {"x": {"a": [{"x": {"q": 1}}]}}, [[1, 2, 3, 4, 5], [6], {"y": 7}, []]]
    ]==]
    assert.same({ a = 1, b = 2, c = 3, d = 4 }, t[1].x)
    assert.same({ a = 1 }, t[2].x)
    assert.same({ 1, 2, 3 }, t[3].x)
    assert.same({ 6 }, t[6][2])
    assert.same({ y = 7 }, t[6][3])
    assert.same({ q = 1 }, t[5].x.a[1].x)
  end)

  it("handles many distinct member names (the name cache is only a cache)", function()
    local parts = {}
    local function name(i) return string.rep(string.char(97 + i % 26), 1 + i % 37) .. i end
    for i = 1, 3000 do parts[i] = string.format('"%s": %d', name(i), i) end
    local doc = "{" .. table.concat(parts, ",") .. "}"
    local t = decode(doc)
    for i = 1, 3000, 7 do assert.equals(i, t[name(i)]) end
    local list = decode("[" .. table.concat({ doc, doc, doc }, ",") .. "]")
    assert.same(t, list[3])
  end)
end)

describe("json_decode nesting limit", function()
  local function nest(n) return string.rep("[", n) .. string.rep("]", n) end

  it("allows 128 levels by default and refuses the 129th before descending", function()
    assert.is_table(decode(nest(128)))
    assert.equals("nesting deeper than 128 at byte 129", decodes_to_error(nest(129)))
    -- the 129th container is the '{' of the 65th '{"a":['
    assert.equals("nesting deeper than 128 at byte 385", decodes_to_error(string.rep('{"a":[', 65)))
  end)

  it("takes a custom limit", function()
    assert.is_table(decode(nest(3), 3))
    assert.equals("nesting deeper than 3 at byte 4", decodes_to_error(nest(4), nil, 3))
    assert.equals("nesting deeper than 0 at byte 1", decodes_to_error("[]", nil, 0))
    assert.equals(1, decode("1", 0))
    local deep = decode(nest(1000), 1000)
    for _ = 1, 999 do deep = deep[1] end
    assert.equals(core.json_array_mt, getmetatable(deep))
  end)

  it("rejects 100,000 nested arrays cleanly, with any limit", function()
    local s = string.rep("[", 100000)
    assert.matches("^nesting deeper than 128 at byte 129$", decodes_to_error(s))
    local v, err = decode(s, 1000000) -- the Lua stack gives out first, or the input ends
    assert.is_nil(v)
    assert.is_string(err)
  end)

  it("raises only for a bad argument", function()
    assert.has_error(function() decode(nil) end)
    assert.has_error(function() decode(12) end)
    assert.has_error(function() decode({}) end)
    assert.has_error(function() decode("[]", -1) end)
  end)
end)

describe("json_encode", function()
  it("encodes scalars", function()
    assert.equals("null", encode(null))
    assert.equals("null", encode(nil))
    assert.equals("true", encode(true))
    assert.equals("false", encode(false))
    assert.equals('"x"', encode "x")
    assert.equals("12", encode(12))
    assert.equals("-7", encode(-7))
    assert.equals("1.5", encode(1.5))
    assert.equals("0.1", encode(0.1))
    assert.equals("1e+300", encode(1e300))
    assert.equals("0.30000000000000004", encode(0.1 + 0.2))
    assert.equals(5e-324, decode(encode(5e-324)))
  end)

  it("writes integers exactly and keeps integral floats floats on 5.3+", function()
    if has_integers then
      assert.equals("9223372036854775807", encode(math.maxinteger))
      assert.equals("-9223372036854775808", encode(math.mininteger))
      assert.equals("3.0", encode(3.0))
      assert.equals("-0.0", encode(-0.0))
      assert.is_true(is_float(decode(encode(3.0))))
      assert.equals("9.223372036854776e+18", encode(2.0 ^ 63))
    else
      assert.equals("3", encode(3.0))
      assert.equals("9007199254740992", encode(2 ^ 53))
      assert.equals("18014398509481984", encode(2 ^ 54)) -- %.17g, exact
    end
  end)

  it("escapes per RFC 8259 and passes other bytes through", function()
    assert.equals([["a\"b\\c/d\n\r\t\b\f\u0000\u001f\u0001"]], encode 'a"b\\c/d\n\r\t\b\f\0\31\1')
    assert.equals('"\127\195\169\255"', encode "\127\195\169\255")
    local long = string.rep("abc\"def\n", 1000)
    assert.equals(long, decode(encode(long)))
  end)

  it("tells arrays from objects", function()
    assert.equals("[1,2,3]", encode { 1, 2, 3 })
    assert.equals('{"a":1}', encode { a = 1 })
    assert.equals("{}", encode {})
    assert.equals("[]", encode(setmetatable({}, core.json_array_mt)))
    assert.equals("[null,2]", encode { null, 2 })
    assert.equals('[[],{}]', encode(decode "[[],{}]"))
    assert.equals('{"a":[]}', encode(decode '{"a":[]}'))
  end)

  it("raises for values JSON cannot hold", function()
    assert.has_error(function() encode(0 / 0) end, "json_encode: cannot encode NaN")
    assert.has_error(function() encode { 1 / 0 } end, "json_encode: cannot encode inf")
    assert.has_error(function() encode { x = -1 / 0 } end, "json_encode: cannot encode -inf")
    assert.has_error(function() encode(print) end, "json_encode: cannot encode a function")
    assert.has_error(function() encode(coroutine.create(function() end)) end, "json_encode: cannot encode a thread")
    assert.has_error(function() encode(io.stdout) end, "json_encode: cannot encode a userdata")
    assert.has_error(function() encode() end)
  end)

  it("raises for keys that are neither 1..n nor strings", function()
    assert.has_error(function() encode { [true] = 1 } end)
    assert.has_error(function() encode { [1.5] = 1 } end)
    assert.has_error(function() encode { [2] = 1 } end)
    assert.has_error(function() encode { 1, 2, x = 3 } end,
      "json_encode: cannot encode a table mixing items 1..n with a string key")
    assert.has_error(function() encode { a = 1, [1] = 2, [3] = 4 } end)
    assert.has_error(function() encode { [{}] = 1 } end)
    local holes = { 1, 2, 3, 4 }
    holes[2] = nil
    assert.has_error(function() encode(holes) end)
  end)

  it("raises for cycles and for nesting deeper than max_depth (128 by default, as decode)", function()
    local t = {}
    t[1] = t
    assert.has_error(function() encode(t) end, "json_encode: tables nested deeper than 128 (a reference cycle?)")
    local o = {}
    o.self = { back = o }
    assert.has_error(function() encode(o) end)
    local deep = {}
    for _ = 1, 127 do deep = { deep } end
    assert.equals(string.rep("[", 127) .. "{}" .. string.rep("]", 127), encode(deep))
    assert.has_error(function() encode { deep } end, "json_encode: tables nested deeper than 128 (a reference cycle?)")
    for _ = 1, 872 do deep = { deep } end
    assert.is_string(encode(deep, 1000))
    assert.is_string(encode(deep, { max_depth = 1000 }))
    assert.has_error(function() encode(deep, { max_depth = 999 }) end,
      "json_encode: tables nested deeper than 999 (a reference cycle?)")
    assert.equals("1", encode(1, 0))
    assert.has_error(function() encode({}, 0) end, "json_encode: tables nested deeper than 0 (a reference cycle?)")
  end)

  it("raises for a bad max_depth or an unknown option", function()
    assert.has_error(function() encode({}, -1) end)
    assert.has_error(function() encode({}, { max_depth = 1.5 }) end)
    assert.has_error(function() encode({}, { max_depth = "7" }) end)
    assert.has_error(function() encode({}, { max_depth = 0 / 0 }) end)
    assert.has_error(function() encode({}, { select = { "a" } }) end)
  end)

  it("encodes 5,000 nested tables with a limit to match (iterative), and 300,000 without a crash", function()
    local deep = {}
    for _ = 1, 4999 do deep = { deep } end
    local text = encode(deep, 5000)
    assert.equals(10000, #text)
    assert.equals("[[[", text:sub(1, 3))
    for _ = 1, 295000 do deep = { deep } end
    local ok, err = pcall(encode, deep, 1000000) -- the Lua stack gives out first (LuaJIT: 8,000 slots)
    assert(ok or err:match "^json_encode: tables nested too deep" or err:match "stack overflow", err)
  end)

  it("round-trips with decode, keeping every integer digit", function()
    local text = '{"big":9223372036854775807,"neg":-9223372036854775808,"odd":9007199254740993,'
      .. '"f":0.1,"e":1e-07,"list":[0,-1,2.5,"s",true,false,null],"empty":[],"obj":{}}'
    local v = decode(text)
    local again = decode(encode(v))
    assert.same(v, again)
    if has_integers then
      assert.matches('"big":9223372036854775807', encode(v))
      assert.matches('"odd":9007199254740993', encode(v))
      assert.matches('"neg":%-9223372036854775808', encode(v))
    end
    assert.equals(core.json_array_mt, getmetatable(again.empty))
    assert.is_nil(getmetatable(again.obj))
  end)

  it("round-trips random floats exactly", function()
    local seed = 12345
    for _ = 1, 2000 do
      seed = seed * 16807 % 2147483647
      local x = (seed / 2147483647 - 0.5) * 10 ^ (seed % 40 - 20)
      assert.equals(x, decode(encode(x)))
    end
  end)
end)

describe("json fuzz regressions", function()
  -- Inputs kept from fuzzing runs (tools/fuzz.sh); each must decode or fail cleanly.
  local lfs = require "lfs"
  local dir = "spec/fixtures/json"
  it("decode and re-encode without error", function()
    if not lfs.attributes(dir) then return pending "no fixtures" end
    for name in lfs.dir(dir) do
      if name:match "^fuzz" then
        local f = assert(io.open(dir .. "/" .. name, "rb"))
        local s = f:read "*a"
        f:close()
        local v, err = decode(s)
        if v == nil then
          assert.matches(" at byte %d+$", err)
        else
          local ok, text = pcall(encode, v)
          if ok then assert.same(v, decode(text)) else assert.matches("inf", text) end
        end
      end
    end
  end)
end)
