-- The README is part of the product: every Lua snippet that starts the fake API runs as shown,
-- prints what its `-->` comments say, and the CLI help it quotes is the CLI's.
local helpers = require "helpers"

local README = helpers.read_file("README.md")

-- Each snippet with the README section it stands in.
local function snippets()
  local found = {}
  for at, code in README:gmatch("()```lua\n(.-)```") do
    if code:find("fake.start", 1, true) then
      local section = "top"
      for heading in README:sub(1, at):gmatch("\n## ([^\n]+)") do section = heading end
      found[#found + 1] = { code = code, section = section }
    end
  end
  return found
end

local function squeeze(s)
  return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

-- The `-->` comments of a snippet, in order.
local function expectations(code)
  local found = {}
  for line in code:gmatch("[^\n]+") do
    local expected = line:match("^%S.-%-%->%s*(.-)%s*$")
    if expected then found[#found + 1] = squeeze(expected) end
  end
  return found
end

describe("README", function()
  local all = snippets()

  it("has runnable snippets", function()
    assert.is_true(#all >= 8, "found " .. #all)
  end)

  for i, snippet in ipairs(all) do
    local code = snippet.code
    it(("snippet %d (%s) runs and prints what it says"):format(i, snippet.section), function()
      local out, status = helpers.run_lua(code)
      assert.equal(0, status, out)
      -- Exact integers and `12.0` only print that way on 5.3+; elsewhere the snippet just has to run.
      if not math.type then return end
      local flat = squeeze(out)
      for _, expected in ipairs(expectations(code)) do
        assert(flat:find(expected, 1, true), ("expected %q in the output:\n%s"):format(expected, out))
      end
    end)
  end

  it("quotes the CLI's --help as it is", function()
    local quoted = README:match("`connectstatus %-%-help`:\n\n```\n(.-)```")
    assert.is_string(quoted)
    assert.equal(require("connectstatus.cli").HELP, quoted)
  end)
end)
