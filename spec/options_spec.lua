-- connectstatus.options: option tables checked for typos, state and phase names in any case.
local options = require "connectstatus.options"

describe("options", function()
  it("measures typos, a swap of two neighbours counting once", function()
    assert.equal(0, options.distance("cluster", "cluster"))
    assert.equal(1, options.distance("clutser", "cluster"))
    assert.equal(1, options.distance("intervall", "interval"))
    assert.equal(3, options.distance("", "abc"))
    assert.equal(2, options.distance("ab", "ba ")) -- swap, then an insertion
  end)

  it("suggests the closest name only when it is close", function()
    local names = { "api_key", "api_secret", "cluster", "environment", "interval", "timeout" }
    assert.equal("cluster", options.suggest("clutser", names))
    assert.equal("interval", options.suggest("intervall", names))
    assert.equal("environment", options.suggest("env", names)) -- a prefix of exactly one
    assert.equal("timeout", options.suggest("TIMEOUT", names))
    assert.is_nil(options.suggest("frobnicate", names))
    assert.is_nil(options.suggest("", names))
  end)

  describe("check", function()
    local KNOWN = { "base_url", "cluster", "environment" }

    local function user_call(opts) -- a library function that checks its caller's options
      options.check(opts, KNOWN, "connectstatus.confluent", 2)
    end

    it("accepts known names, a set as well as a list", function()
      user_call { cluster = "x", environment = "y" }
      options.check({ cluster = 1 }, { cluster = true }, "x")
      options.check(nil, KNOWN, "x")
    end)

    it("raises naming the option, the call and a suggestion, at the user's line", function()
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() user_call { clutser = "x" } end)
      assert.is_false(ok)
      assert.equal("spec/options_spec.lua:" .. line ..
        ": unknown option 'clutser' for connectstatus.confluent (did you mean 'cluster'?)", err)
    end)

    it("names the first unknown one in sorted order, without a suggestion when none is close", function()
      local ok, err = pcall(options.check, { zzz = 1, aaa = 2 }, KNOWN, "f", 1)
      assert.is_false(ok)
      assert.matches("unknown option 'aaa' for f$", err)
    end)

    it("points past a wrapper's tail call (Lua 5.1 leaves a frame for it)", function()
      local function lib(opts) options.check(opts, KNOWN, "lib", 2) end
      local function wrapper(opts) return lib(opts) end
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() wrapper { clutser = 1 } end)
      assert.is_false(ok)
      assert.matches("^spec/options_spec.lua:" .. line .. ": unknown option 'clutser' for lib", err)
    end)

    it("raises on keys that are not strings", function()
      assert.has_error(function() options.check({ 1 }, KNOWN, "f") end,
        "option names for f must be strings, got a number key")
    end)
  end)

  describe("state names", function()
    it("accepts any case and gives the canonical name", function()
      assert.equal("RUNNING", options.canonical("running", "state"))
      assert.equal("UNASSIGNED", options.canonical("Unassigned", "state"))
      assert.equal("STOPPED", options.canonical("stopped", "state"))
      assert.equal("PENDING_VALIDATION", options.canonical("pending_validation", "phase"))
    end)

    it("refuses a name no API knows, with the known ones", function()
      local name, why = options.canonical("runing", "state")
      assert.is_nil(name)
      assert.equal("unknown state 'runing' (did you mean 'RUNNING'?); known states: DEGRADED, DELETED, FAILED, " ..
        "NONE, PAUSED, PROVISIONING, RESTARTING, RUNNING, STOPPED, UNASSIGNED", why)
      name, why = options.canonical("DONE", "phase")
      assert.is_nil(name)
      assert.equal("unknown phase 'DONE'; known phases: APPLIED, FAILED, PENDING, PENDING_VALIDATION", why)
      assert.is_nil((options.canonical(42, "state")))
    end)

    it("accepts an unknown name as given when forced", function()
      assert.equal("Resuming", options.canonical("Resuming", "state", true))
      assert.equal("RUNNING", options.canonical("running", "state", true))
    end)

    it("raises at the caller's caller in the raising form", function()
      local function wait_for(state)
        local name = options.state(state, "state", 2, { hint = " (force = true)" })
        return name
      end
      assert.equal("PAUSED", wait_for("paused"))
      local ok, err = pcall(function() wait_for("PAUZED") end)
      assert.is_false(ok)
      assert.matches("^spec/options_spec.lua:%d+: unknown state 'PAUZED' %(did you mean 'PAUSED'%?%)", err)
      assert.matches(" %(force = true%)$", err)
      assert.has_error(function() options.canonical("x", "colour") end, "kind must be 'state' or 'phase', got colour")
    end)
  end)
end)
