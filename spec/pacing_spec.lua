-- Rate-limit pacing against a rate-limited fake (1-second windows): when X-RateLimit-Remaining
-- reaches 0, the next request waits out X-RateLimit-Reset instead of provoking a 429. The sleep is
-- real (the server's window is real time) but recorded, so the spec sees each pacing wait.
local cs = require "connectstatus"
local core = require "connectstatus.core"
local helpers = require "helpers"

describe("rate-limit pacing", function()
  local fake, cc, slept

  local function client()
    slept = {}
    return cs.confluent { api_key = "k", api_secret = "s", environment = "env-demo", cluster = "lkc-demo",
      base_url = fake.url, timeout = 5,
      -- One attempt: a 429 would surface as an error instead of being retried away.
      retry = { attempts = 1 },
      sleep = function(s)
        slept[#slept + 1] = s
        core.sleep(s)
      end,
    }
  end

  setup(function() fake = helpers.start_fake { rate_limit = { limit = 5, window = 1 } } end)
  teardown(function() fake:stop() end)

  before_each(function()
    fake:reset()
    cc = client()
  end)
  after_each(function() cc:close() end)

  it("knows no limits before the first answer", function()
    assert.is_nil(cc:rate_limit())
  end)

  it("keeps the last X-RateLimit-* it saw", function()
    assert(cc:status("pg-cdc"))
    assert.same({ limit = 5, remaining = 4, reset = 1 }, cc:rate_limit())
  end)

  it("paces many reads without reaching a 429", function()
    for i = 1, 8 do
      local status, err = cc:status("pg-cdc")
      assert.is_nil(err, "read " .. i .. ": " .. tostring(err))
      assert.equal("RUNNING", status.connector.state)
    end
    assert.equal(1, #slept)
    assert.is_true(slept[1] > 0 and slept[1] <= 1, "paced for " .. slept[1])
  end)

  it("paces the reads of a wait too", function()
    local first = assert(cc:list())
    assert.equal(4, #first)
    for _ = 1, 3 do assert(cc:status("datagen-orders")) end -- one read left in the window
    local errs = 0
    local status = assert(cc:wait_for_state("orders-sink", "RUNNING", { interval = 0.01,
      on_poll = function(_, _, err) if err then errs = errs + 1 end end }))
    assert.equal("RUNNING", status.connector.state)
    assert.equal(0, errs)
    local paced = 0
    for _, s in ipairs(slept) do if s > 0.5 then paced = paced + 1 end end
    assert.equal(1, paced)
  end)
end)
