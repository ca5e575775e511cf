-- Selections in the decoder (core.json_decode(s, {select = paths})): a differential check against
-- the full decode pruned by a reference written here in Lua, over every JSONTestSuite file and the
-- benchmark's generated fleets; refusals with the same message and byte whatever the selection.
local core = require "connectstatus.core"
local helpers = require "spec.helpers"
local reference = require "spec.json_prune"
local lfs = require "lfs"
local decode, selection, array_mt = core.json_decode, core.json_selection, core.json_array_mt

local SUITE = (os.getenv "JSON_TEST_SUITE" or "../shared/json-test-suite") .. "/test_parsing"

local function suite_files()
  local list = {}
  if lfs.attributes(SUITE, "mode") ~= "directory" then return list end
  for name in lfs.dir(SUITE) do
    if name:match "^[yni]_.*%.json$" then list[#list + 1] = name end
  end
  table.sort(list)
  return list
end

local function same(a, b, where) assert(reference.same(a, b, where)) end

-- Decodes s with each selection (as a plain list and compiled) and checks it against the pruned
-- full decode, or against the full decode's refusal, message and byte included.
local function check(s, selections, what, max_depth)
  local full, full_err = decode(s, max_depth)
  for _, paths in ipairs(selections) do
    local name = what .. " select {" .. table.concat(paths, ", ") .. "}"
    for _, sel in ipairs { paths, selection(paths) } do
      local v, err = decode(s, { select = sel, max_depth = max_depth })
      if full == nil then
        assert(v == nil, name .. ": accepted what the full decode refuses (" .. full_err .. ")")
        assert(err == full_err, name .. ": " .. tostring(err) .. " instead of " .. full_err)
      else
        assert(v ~= nil, name .. ": " .. tostring(err))
        same(v, reference.prune(full, paths), name)
      end
    end
  end
  return full ~= nil
end

-- Paths from the document itself: every member path of the full decode, as it is, with its first
-- or last segment made a wildcard, and cut short.
local function paths_of(v, prefix, out)
  if type(v) ~= "table" or #out >= 24 then return out end
  for k, x in pairs(v) do
    local seg = type(k) == "number" and "*" or k
    if not seg:find(".", 1, true) and seg ~= "" then
      local path = prefix and (prefix .. "." .. seg) or seg
      out[#out + 1] = path
      paths_of(x, path, out)
    end
  end
  return out
end

local FIXED = {
  { "*" }, { "*.*" }, { "*.*.*.*.*.*" }, { "a" }, { "*.a" }, { "a.*" }, { "nothing.at.all" },
  { "*.nothing" }, { "a", "*.b", "*.*.c" }, { "*.*", "*.*.*" },
}

local function selections_for(s)
  local list = {}
  for i, sel in ipairs(FIXED) do list[i] = sel end
  local v = decode(s)
  local derived = paths_of(v, nil, {})
  for i, p in ipairs(derived) do
    list[#list + 1] = { p }
    list[#list + 1] = { (p:gsub("^[^.]+", "*")) }
    list[#list + 1] = { (p:gsub("[^.]+$", "*")), derived[(i % #derived) + 1] }
  end
  return list
end

describe("json_decode with select, against the pruned full decode", function()
  it("agrees on every JSONTestSuite file, refusals included", function()
    local list = suite_files()
    if #list == 0 then return pending("JSONTestSuite not found at " .. SUITE) end
    local accepted, refused = 0, 0
    for _, name in ipairs(list) do
      local s = helpers.read_file(SUITE .. "/" .. name)
      local ok = check(s, selections_for(s), name)
      if name:match "^y_" then assert(ok, name .. " refused") end
      if name:match "^n_" then assert(not ok, name .. " accepted") end
      if ok then accepted = accepted + 1 else refused = refused + 1 end
    end
    assert.is_true(accepted > 90 and refused > 180)
  end)

  describe("on generated fleets (bench/gen_fixtures.lua)", function()
    local dir, doc
    setup(function()
      dir = helpers.tmpdir()
      local _, code = helpers.shell("lua5.4 bench/gen_fixtures.lua " .. dir .. " 60 7")
      assert.equals(0, code)
      doc = helpers.read_file(dir .. "/fleets/lkc-bench.json")
    end)
    teardown(function() helpers.remove_tree(dir) end)

    local FLEET = {
      { "*.status.connector.state", "*.status.tasks.*.state" },
      { "*.status.connector.state", "*.status.connector.trace", "*.status.tasks.*.id", "*.status.tasks.*.state",
        "*.status.tasks.*.msg", "*.status.tasks.*.trace" },
      { "*.status" }, { "*.info.config.name", "*.id.id" }, { "*.info.config.*" }, { "*.status.tasks.*" },
      { "orders-pg-00008.status.connector.state", "*.status.type" }, { "*.status.tasks.nothing" },
      { "*.status.tasks.*.state.deeper" }, { "*.*.*.*.*" }, { "nothing" },
    }

    it("agrees for wildcards, deep paths and paths that match nothing", function()
      assert.is_true(check(doc, FLEET, "fleet"))
      assert.is_true(check(helpers.read_file(dir .. "/fleets/lkc-bench-7.json"), FLEET, "fleet of 7"))
      local health = decode(doc, { select = FLEET[1] })
      local name, entry = next(health)
      assert.matches("^[a-z]+%-[a-z0-9]+%-%d+$", name)
      assert.is_nil(entry.info)
      assert.is_nil(entry.status.name)
      assert.is_string(entry.status.connector.state)
      assert.is_nil(entry.status.connector.worker_id)
    end)

    it("refuses a broken fleet with the same message and byte, wherever the damage is", function()
      local bad = { '"', "\\", "\1", "}", "]", ",", ":", "x", "[", "{", "-" }
      local step = math.floor(#doc / 150)
      for i = 1, 150 do
        local at = i * step - (i % 7)
        local broken = doc:sub(1, at - 1) .. bad[i % #bad + 1] .. doc:sub(at + 1)
        check(broken, { FLEET[1], FLEET[4], { "nothing" } }, "fleet broken at byte " .. at)
      end
    end)
  end)

  it("holds the nesting limit in skipped parts", function()
    local deep = string.rep("[", 200) .. string.rep("]", 200)
    local s = '{"a":1,"b":' .. deep .. "}"
    local v, err = decode(s, { select = { "a" } })
    assert.is_nil(v)
    assert.equals("nesting deeper than 128 at byte 139", err) -- the object is the first level
    assert.equals(err, select(2, decode(s)))
    assert.same({ a = 1 }, decode(s, { select = { "a" }, max_depth = 201 }))
    local shallow = { select = { "a" }, max_depth = 3 }
    assert.equals("nesting deeper than 3 at byte 14", select(2, decode('{"a":1,"b":[[[[]]]]}', shallow)))
    check('[{"x":[[[[1]]]]},' .. deep .. "]", { { "*.x" }, { "nothing" } }, "deep skipped array")
  end)
end)

describe("json_decode with select, by example", function()
  local doc = '{"a":{"b":1,"c":[1,2]},"x":[1,null,{"b":3},[]],"s":"t","n":null}'

  it("keeps the containers on the way, whole values where a path ends", function()
    assert.same({ a = { b = 1 } }, decode(doc, { select = { "a.b" } }))
    assert.same({ a = { c = { 1, 2 } }, x = {}, s = "t" }, decode(doc, { select = { "*.c" } }))
    assert.same({ x = { 1, core.null, { b = 3 }, {} } }, decode(doc, { select = { "x" } }))
    assert.same({ a = { b = 1 }, x = {}, s = "t" }, decode(doc, { select = { "*.b" } })) -- items need "*.*.b"
    assert.same({ a = { b = 1, c = {} }, x = { 1, core.null, { b = 3 }, {} }, s = "t" },
      decode(doc, { select = { "*.b", "*.*.b" } }))
  end)

  it("keeps array indexes, and a scalar met on the way to a path", function()
    local v = decode(doc, { select = { "x.*.b" } })
    assert.equals(1, v.x[1])
    assert.equals(core.null, v.x[2])
    assert.same({ b = 3 }, v.x[3])
    assert.equals(array_mt, getmetatable(v.x[4]))
    assert.equals("t", decode(doc, { select = { "s.deeper" } }).s)
  end)

  it("leaves out what matches nothing", function()
    assert.same({}, decode(doc, { select = { "nothing" } }))
    assert.same({ a = {} }, decode(doc, { select = { "a.nothing" } }))
    local v = decode(doc, { select = { "a.b.c" } }) -- b is a number: kept, nothing below it
    assert.same({ a = { b = 1 } }, v)
    v = decode(doc, { select = { "a.named" } })
    assert.is_nil(next(v.a))
    v = decode(doc, { select = { "x.b" } }) -- names do not match array items: the array is empty
    assert.equals(array_mt, getmetatable(v.x))
    assert.is_nil(v.x[1])
  end)

  it("matches escaped member names decoded, and keeps the last duplicate", function()
    assert.same({ ab = { c = 2 } }, decode('{"a\\u0062":{"b":1,"c":2}}', { select = { "ab.c" } }))
    assert.same({ k = 2 }, decode('{"k":1,"j":0,"k":2}', { select = { "k" } }))
    assert.same({}, decode('{"k":1,"k":null}', { select = { "k" } }))
  end)

  it("finds a name among many in one object", function()
    local parts, names = {}, {}
    for i = 1, 40 do
      parts[i] = ('"k%d":{"v":%d,"w":[%d]}'):format(i, i, i)
      if i % 3 == 0 then names[#names + 1] = "k" .. i .. (i % 2 == 0 and ".v" or "") end
    end
    names[#names + 1] = "k7.w.*"
    names[#names + 1] = "absent"
    check("{" .. table.concat(parts, ",") .. "}", { names, { "k1", "k40", "k20", "k33", "k2" } }, "many names")
    assert.same({ k9 = { v = 9, w = { 9 } }, k12 = { v = 12 } }, decode('{"k9":{"v":9,"w":[9]},"k12":{"v":12,"w":[]}}',
      { select = names }))
  end)

  it("selects in a top-level array with *", function()
    assert.same({ { id = 1 }, { id = 2 } }, decode('[{"id":1,"x":0},{"id":2}]', { select = { "*.id" } }))
    assert.equals(7, decode("7", { select = { "a" } }))
  end)
end)

describe("core.json_selection", function()
  it("compiles once for many decodes and equals the plain list", function()
    local sel = selection { "*.status.connector.state", "*.status.tasks.*.state" }
    assert.equals("connectstatus.Selection (2 paths)", tostring(sel))
    local s = '{"c":{"status":{"connector":{"state":"RUNNING","x":1},"tasks":[{"state":"FAILED","id":0}]}}}'
    for _ = 1, 3 do
      assert.same({ c = { status = { connector = { state = "RUNNING" }, tasks = { { state = "FAILED" } } } } },
        decode(s, { select = sel }))
    end
    local plain = { "*.status.connector.state", "*.status.tasks.*.state" }
    assert.same(decode(s, { select = sel }), decode(s, { select = plain }))
  end)

  it("closes once, idempotently, and then refuses to be used", function()
    local sel = selection { "a" }
    sel:close()
    sel:close()
    assert.equals("connectstatus.Selection (closed)", tostring(sel))
    assert.has_error(function() decode("{}", { select = sel }) end)
    local ok, err = pcall(decode, "{}", { select = sel })
    assert.is_false(ok)
    assert.matches("select: the selection is closed", err)
    if _VERSION == "Lua 5.4" then
      local f = assert(load [[local selection = ...
        local kept
        do local s <close> = selection { "a" }; kept = s end
        return tostring(kept)]])
      assert.equals("connectstatus.Selection (closed)", f(selection))
    end
  end)

  it("raises naming select for a bad path, at the caller", function()
    local cases = {
      { {}, "select must be a non%-empty list of paths" },
      { { "" }, "select%[1%] is an empty path" },
      { { "a", "a..b" }, 'select%[2%] %("a..b"%) has an empty segment' },
      { { ".a" }, "has an empty segment" },
      { { "a." }, "has an empty segment" },
      { { 1 }, "select%[1%] must be a string, got number" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(selection, case[1])
      assert(not ok and err:match(case[2]), tostring(err))
      ok, err = pcall(decode, "{}", { select = case[1] })
      assert(not ok and err:match(case[2]), tostring(err))
    end
    assert.has_error(function() selection "a.b" end)
    assert.has_error(function() decode("{}", { select = "a.b" }) end)
    assert.has_error(function() decode("{}", { selct = { "a" } }) end)
    assert.has_error(function() decode("{}", { max_depth = -1 }) end)
    assert.has_error(function() decode("{}", { max_depth = 2.5 }) end)
    local ok, err = pcall(function() return decode("{}", { select = {} }) end)
    assert.is_false(ok)
    assert.matches("bad argument #2 to '[^']+' %(select must", err)
    if not rawget(_G, "jit") then assert.matches("^spec/json_select_spec.lua:%d+:", err) end -- the caller's line
  end)

  it("bounds overlapping wildcards", function()
    local paths = {}
    for i = 1, 14 do
      local segs = {}
      for j = 1, 14 do segs[j] = (i == j) and ("k" .. i) or "*" end
      paths[i] = table.concat(segs, ".")
    end
    local ok, err = pcall(selection, paths) -- 2^14 sets of paths still alive
    assert.is_false(ok)
    assert.matches("too many overlapping wildcard paths", err)
    assert.equals("connectstatus.Selection (2 paths)", tostring(selection { paths[1], paths[2] }))
  end)
end)
