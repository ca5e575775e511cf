-- The REPL: cs.pp prints once and returns nothing, shows every field of an error; cs.help lists
-- what the module and a client can do; tostring of the module says what it is.
local cs = require "connectstatus"
local pp = require "connectstatus.pp"
local helpers = require "helpers"

local function count(text, plain)
  local n, at = 0, 1
  while true do
    local s, e = text:find(plain, at, true)
    if not s then return n end
    n, at = n + 1, e + 1
  end
end

describe("the REPL", function()
  local fake, cc

  setup(function()
    fake = helpers.start_fake()
    cc = cs.confluent { api_key = "k", api_secret = "s", environment = "env-demo", cluster = "lkc-demo",
      base_url = fake.url, retry = { attempts = 1 } }
  end)
  teardown(function()
    cc:close()
    fake:stop()
  end)

  it("cs.pp returns nothing, so lua -i prints a result once", function()
    local out, code = helpers.run_lua([[
      local cs = require "connectstatus"
      print("returned " .. select("#", cs.pp({ marker = 12345 })))]])
    assert.equal(0, code, out)
    assert.equal(1, count(out, "marker = 12345"))
    assert.matches("returned 0", out, 1, true)
    -- And at a real interactive interpreter reading its input from a pipe.
    local repl = helpers.shell("printf '%s\\n' 'cs = require \"connectstatus\"' 'cs.pp({ marker = 67890 })' | " ..
      helpers.env_cmd() .. helpers.lua_bin() .. " -i 2>&1")
    assert.equal(1, count(repl, "marker = 67890,"), repl) -- the rendering, not the echoed input
  end)

  it("cs.pp of an error shows every field, not just its line", function()
    local _, err = cc:status("nope")
    local text = pp.format(err)
    assert.matches("^connectstatus.Error {", text)
    for _, field in ipairs { 'kind = "not_found"', "status = 404", "url = ", "request_id = ", "message = " } do
      assert.matches(field, text, 1, true)
    end
    local _, timeout = cc:wait_for_state("pg-cdc", "PAUSED", { timeout = 0.05, interval = 0.01 })
    text = pp.format(timeout)
    assert.matches('kind = "timeout"', text, 1, true)
    assert.matches("last = {", text, 1, true)
    assert.matches('state = "RUNNING"', text, 1, true)
  end)

  it("knows which numbers may be inexact", function()
    assert.is_true(pp.is_inexact(2 ^ 53 + 2.0))
    assert.is_true(pp.is_inexact(-2 ^ 53))
    assert.is_false(pp.is_inexact(2 ^ 52 + 1))
    assert.is_false(pp.is_inexact(1.5))
    assert.is_false(pp.is_inexact(1 / 0))
    if math.type then assert.is_false(pp.is_inexact(math.tointeger(2 ^ 62))) end
  end)

  it("cs.help() lists the module's functions, one line each", function()
    local text = pp.help_text()
    for _, name in ipairs { "confluent{", "feldera{", "wait_for_state(", "health(", "summarize(", "pp(", "help(",
      "fake.start" } do
      assert.matches("\n  " .. name, text, 1, true)
    end
    local out = helpers.run_lua('require("connectstatus").help()')
    assert.equal(text, out)
  end)

  it("cs.help(client) lists every method of a client with its line and CLI command", function()
    local text = pp.help_text(cc)
    assert.matches("^connectstatus.Confluent env%-demo/lkc%-demo methods", text)
    for _, line in ipairs { "status(name)", "list{expand", "offset_request_status(name)", "wait_for_state(name",
      "wait_for_offset_phase(name, phase, opts)", "rate_limit()", "close()" } do
      assert.matches("\n  " .. line, text, 1, true)
    end
    assert.matches("wait_for_offset_phase%(name, phase, opts%)%s+wait until.-%[CLI: wait%-offsets%]", text)
    local fc = cs.feldera { base_url = fake.url }
    local ftext = pp.help_text(fc)
    fc:close()
    assert.matches("input_stats(pipeline, table, connector)", ftext, 1, true)
    local kc = cs.kafka_connect { base_url = fake.url }
    local ktext = pp.help_text(kc)
    kc:close()
    assert.matches("restart(name, opts)", ktext, 1, true)
    assert.is_nil(ktext:find("undocumented", 1, true), ktext)
    assert.is_nil(ktext:find("list_by_reads", 1, true), ktext)
    -- Every method of both clients has its own line.
    assert.is_nil(text:find("undocumented", 1, true), text)
    assert.is_nil(ftext:find("undocumented", 1, true), ftext)
    assert.has_error(function() cs.help(42) end, "help expects a client, got number")
  end)

  it("tostring of a fake handle says what it is and where", function()
    local other = cs.fake.start()
    assert.matches("^connectstatus%.fake http://127%.0%.0%.1:%d+ " ..
      "%(Confluent Cloud, Kafka Connect and Feldera; pid %d+%)$", tostring(other))
    other:stop()
    assert.equal("connectstatus.fake " .. other.url .. " (stopped)", tostring(other))
  end)

  it("tostring of the module says what it is", function()
    assert.equal("connectstatus " .. cs.version .. " (cs.help() lists what it does)", tostring(cs))
  end)
end)
