-- Faults from issue 5, each against the loopback fake over real libcurl: retries and time (with an
-- injected sleep and clock, so nothing waits for real), transport faults, size limits, gzip and
-- redirects. Real time is only spent where libcurl's own timers are what is tested (timeouts,
-- stalls), with short settings and loose bounds.
local cs = require "connectstatus"
local core = require "connectstatus.core"
local helpers = require "helpers"

local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"
local TARGET = PREFIX .. "/orders-sink/status"
local STATUS_BODY = '{"name":"x","type":"sink","connector":{"state":"RUNNING","worker_id":"w","trace":""},' ..
  '"tasks":[{"id":0,"state":"RUNNING","worker_id":"w","msg":""}]}'

local fake, slept

local function sum(list)
  local total = 0
  for _, v in ipairs(list) do total = total + v end
  return total
end

-- A Confluent client on the fake whose sleeps are recorded instead of slept.
local function client(extra)
  return helpers.confluent(fake.url, { timeout = 5, retry = { attempts = 1 },
    sleep = function(s) slept[#slept + 1] = s end, random = function() return 1 end }, extra)
end

local function answer(name, responses)
  if responses[1] == nil then responses = { responses } end
  fake:script { method = "GET", path = PREFIX .. "/" .. name .. "/status", responses = responses }
end

setup(function() fake = helpers.start_fake() end)
teardown(function() fake:stop() end)
before_each(function()
  fake:reset()
  slept = {}
end)

describe("retries and time", function()
  it("jitters each delay within its capped exponential ceiling", function()
    answer("orders-sink", helpers.repeated({ status = 503, body = "{}" }, 6))
    local draws = { 0.25, 0.9, 0.5, 0.1, 0.75, 0.3 }
    local i = 0
    local cc = client { retry = { attempts = 7, base = 1, cap = 4 }, random = function()
      i = i + 1
      return draws[i]
    end }
    assert(cc:status("orders-sink"))
    -- ceilings 1, 2, 4, 4, 4, 4 (capped), each scaled by its draw
    assert.same({ 0.25, 1.8, 2, 0.4, 3, 1.2 }, slept)
    assert.equal(7, helpers.count_requests(fake, TARGET))
    cc:close()
  end)

  it("Retry-After: 2 waits at least 2 s before the next attempt", function()
    answer("orders-sink", { status = 429, headers = { ["Retry-After"] = "2" } })
    local cc = client { retry = { attempts = 3, base = 0.01 } }
    assert(cc:status("orders-sink"))
    assert.equal(1, #slept)
    assert.is_true(slept[1] >= 2)
    cc:close()
  end)

  it("Retry-After as an HTTP date in the future is honoured", function()
    local at = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 30)
    answer("orders-sink", { status = 503, headers = { ["Retry-After"] = at } })
    local cc = client { retry = { attempts = 2, base = 0.01 } }
    assert(cc:status("orders-sink"))
    assert.is_true(slept[1] >= 28 and slept[1] <= 31, "slept " .. tostring(slept[1]))
    cc:close()
  end)

  for _, value in ipairs { "Wed, 21 Oct 2015 07:28:00 GMT", "soon", "-5", "1e3", "" } do
    it(("Retry-After %q (past or garbage) falls back to normal backoff"):format(value), function()
      answer("orders-sink", { status = 429, headers = { ["Retry-After"] = value } })
      local cc = client { retry = { attempts = 2, base = 0.5, cap = 30 } }
      assert(cc:status("orders-sink"))
      assert.same({ 0.5 }, slept) -- base * 2^0 with random() = 1
      cc:close()
    end)
  end

  it("Retry-After: 999999999 is rate_limited at once, without sleeping", function()
    answer("orders-sink", { status = 429, headers = { ["Retry-After"] = "999999999" } })
    local cc = client { retry = { attempts = 4, max_retry_after = 60 } }
    local v, err = cc:status("orders-sink")
    assert.is_nil(v)
    assert.equal("rate_limited", err.kind)
    assert.equal(999999999, err.retry_after)
    assert.equal(1, err.attempts)
    assert.same({}, slept)
    assert.equal(1, helpers.count_requests(fake, TARGET))
    cc:close()
  end)

  it("an endless 503 with a 10 s deadline ends within the deadline (injected clock)", function()
    answer("orders-sink", helpers.repeated({ status = 503, body = "{}" }, 100))
    local origin = core.monotonic()
    -- Real time plus everything "slept": the deadline is judged on the same clock.
    local clock = function() return core.monotonic() - origin + sum(slept) end
    local cc = client { clock = clock, retry = { attempts = 1000, base = 1, cap = 2, budget = 1000, deadline = 10 } }
    local v, err = cc:status("orders-sink")
    local elapsed = clock()
    assert.is_nil(v)
    assert.equal("server", err.kind)
    assert.equal(#slept + 1, err.attempts)
    assert.equal(err.attempts, helpers.count_requests(fake, TARGET))
    assert.is_true(elapsed <= 10, "took " .. elapsed)
    assert.is_true(elapsed > 10 - 2 - 1, "gave up early: " .. elapsed) -- within one capped delay of it
    cc:close()
  end)

  it("a 429 storm over 200 calls drains the retry budget, then fails fast, then recovers", function()
    local budget = 10
    answer("orders-sink", helpers.repeated({ status = 429, body = "{}" }, 400))
    local cc = client { retry = { attempts = 4, base = 0.001, budget = budget } }
    local last_err
    for _ = 1, 200 do
      local v, err = cc:status("orders-sink")
      assert.is_nil(v)
      assert.equal("rate_limited", err.kind)
      last_err = err
    end
    local sent = helpers.count_requests(fake, TARGET)
    -- Without the budget: 800 requests. With it: one per call plus at most `budget` retries.
    assert.equal(200 + budget, sent)
    assert.equal(budget, #slept)
    assert.equal(1, last_err.attempts)

    fake:reset()
    slept = {}
    -- Nine successes refill 0.9 of a retry: still failing fast.
    for _ = 1, 9 do assert(cc:status("orders-sink")) end
    answer("orders-sink", { status = 503, body = "{}" })
    local _, err = cc:status("orders-sink")
    assert.equal(1, err.attempts)
    -- The tenth success makes one whole retry again.
    assert(cc:status("orders-sink"))
    answer("orders-sink", { status = 503, body = "{}" })
    assert(cc:status("orders-sink"))
    assert.equal(1, #slept)
    assert.equal(13, helpers.count_requests(fake, TARGET))
    cc:close()
  end)

  it("a drip feed ends as timeout within the configured time", function()
    answer("orders-sink", { status = 200, body = STATUS_BODY, drip = 4 }) -- 4 bytes/s: ~45 s for the body
    local cc = client { timeout = 1, retry = { attempts = 1 } }
    local started = core.monotonic()
    local v, err = cc:status("orders-sink")
    local took = core.monotonic() - started
    assert.is_nil(v)
    assert.equal("timeout", err.kind)
    assert.is_true(took >= 0.9 and took < 4, "took " .. took)
    cc:close()
  end)

  it("a transfer that stalls after the headers ends as timeout after stall_timeout", function()
    answer("orders-sink", { status = 200, body = STATUS_BODY, drip = 0.1 }) -- one byte, then 10 s silence
    local cc = client { timeout = 20, stall_timeout = 1, retry = { attempts = 1 } }
    local started = core.monotonic()
    local _, err = cc:status("orders-sink")
    local took = core.monotonic() - started
    assert.equal("timeout", err.kind)
    assert.is_true(took < 6, "took " .. took)
    cc:close()
  end)

  it("a server that never answers ends as timeout within the configured time", function()
    -- A listening socket nobody accepts from: the kernel completes the handshake, then silence.
    local socket = require "socket"
    local silent = assert(socket.bind("127.0.0.1", 0))
    local _, port = silent:getsockname()
    local cc = cs.confluent { token = "tok", environment = "env-demo", cluster = "lkc-demo",
      base_url = "http://127.0.0.1:" .. port, timeout = 0.5, retry = { attempts = 1 } }
    local started = core.monotonic()
    local _, err = cc:status("orders-sink")
    local took = core.monotonic() - started
    assert.equal("timeout", err.kind)
    assert.is_true(took >= 0.4 and took < 3, "took " .. took)
    cc:close()
    silent:close()
  end)

  it("a delay before the headers longer than timeout is timeout, and is retried", function()
    answer("orders-sink", { status = 200, body = STATUS_BODY, delay = 3 })
    local cc = client { timeout = 0.3, retry = { attempts = 2, base = 0.01 } }
    assert(cc:status("orders-sink")) -- the second attempt gets the model's answer
    assert.equal(1, #slept)
    cc:close()
  end)
end)

describe("transport faults", function()
  local BODY = STATUS_BODY
  local CASES = {
    { "a body cut short under Content-Length", { status = 200, body = BODY, truncate = 20 }, "transport" },
    { "a chunked body cut short inside a chunk", { status = 200, body = BODY, chunked = true, truncate = 20 },
      "transport" },
    { "a reset before the headers", { reset = "before_headers" }, "transport" },
    { "a reset after the headers", { status = 200, body = BODY, reset = "after_headers" }, "transport" },
    { "an empty reply", { empty = true }, "transport" },
    { "a Content-Length longer than the body", { status = 200, body = BODY, content_length = #BODY + 100 },
      "transport" },
    { "a Content-Length that is not a number", { status = 200, body = BODY, content_length = "lots" }, "transport" },
    -- The server said the body ends early: what arrives is cut JSON, never half a table.
    { "a Content-Length shorter than the body", { status = 200, body = BODY, content_length = 30 }, "decode" },
  }
  for _, case in ipairs(CASES) do
    local what, response, kind = case[1], case[2], case[3]
    it(what .. " is " .. kind .. ", never a partial table, and the next call works", function()
      local cc = client { retry = { attempts = 1 } }
      assert(cc:status("orders-sink")) -- a kept-alive connection exists before the fault
      -- Twice: libcurl itself retries once on a fresh connection when a reused one dies without
      -- an answer, so the fault must also meet that retry.
      answer("faulty", { response, response })
      local v, err = cc:status("faulty")
      assert.is_nil(v)
      assert.is_true(cs.is_error(err))
      assert.equal(kind, err.kind)
      local after = assert(cc:status("orders-sink"))
      assert.equal("orders-sink", after.name)
      local reqs = fake:requests()
      assert.equal(PREFIX .. "/faulty/status", reqs[#reqs - 1].target)
      -- The broken connection was not reused.
      assert.are_not.equal(reqs[#reqs - 1].connection, reqs[#reqs].connection)
      cc:close()
    end)
  end

  it("transport faults are retried, and the retry gets the answer", function()
    answer("orders-sink", { { reset = "after_headers", status = 200, body = BODY }, { empty = true } })
    local cc = client { retry = { attempts = 3, base = 0.01 } }
    assert.equal("orders-sink", assert(cc:status("orders-sink")).name)
    assert.equal(3, helpers.count_requests(fake, TARGET))
    assert.equal(2, #slept)
    cc:close()
  end)
end)

describe("size limits and compression", function()
  it("an endless body is too_large at max_body, not retried, and the next call works", function()
    answer("endless", { status = 200, endless = true })
    local cc = client { max_body = 1024 * 1024, retry = { attempts = 3 } }
    local v, err = cc:status("endless")
    assert.is_nil(v)
    assert.equal("too_large", err.kind)
    assert.equal(1, err.attempts)
    assert.matches("1048576", err.message)
    assert(cc:status("orders-sink"))
    cc:close()
  end)

  it("a 50 MB chunked body is too_large with memory staying near the cap", function()
    if not helpers.proc_kb("VmHWM") then pending("no /proc/self/status") end
    -- In a child process, so that its peak RSS belongs to this transfer alone.
    local cap = 8 * 1024 * 1024
    local code = ([[
local cs = require "connectstatus"
local function kb(field)
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("*a")
  f:close()
  return tonumber(text:match(field .. ":%%s*(%%d+) kB"))
end
local cc = cs.confluent { token = "t", environment = "env-demo", cluster = "lkc-demo", base_url = %q,
  max_body = %d, timeout = 20, retry = { attempts = 1 } }
assert(cc:status("orders-sink"))
collectgarbage()
local before = kb("VmHWM")
local v, err = cc:status("big")
print(v == nil and err.kind or "value", kb("VmHWM") - before)
]]):format(fake.url, cap)
    answer("big", { status = 200, size = 50 * 1024 * 1024 })
    local out, exit = helpers.run_lua(code)
    assert.equal(0, exit, out)
    local kind, grown_kb = out:match("(%S+)%s+(%d+)%s*$")
    assert.equal("too_large", kind, out)
    -- At most the capped buffer (and one realloc copy of it), far from 50 MB.
    assert.is_true(tonumber(grown_kb) < 2 * cap / 1024 + 4096, "peak grew by " .. grown_kb .. " KiB")
  end)

  it("never asks for gzip, and a gzip bomb is not inflated", function()
    answer("bomb", { status = 200, gzip_bomb = true })
    -- Inflated, the bomb is 67 MB: over this cap it would be too_large, not decode.
    local cc = client { max_body = 1024 * 1024 }
    local v, err = cc:status("bomb")
    assert.is_nil(v)
    assert.equal("decode", err.kind)
    assert.is_true(#err.body <= 512)
    local reqs = fake:requests()
    assert.is_nil(reqs[#reqs].headers["accept-encoding"])
    assert.is_nil(reqs[#reqs].raw:lower():find("accept-encoding", 1, true))
    assert.is_nil(reqs[#reqs].raw:lower():find("\r\nte:", 1, true))
    cc:close()
  end)

  it("a proxy's HTML 502 is server with a short one-line body; a 200 that is not JSON is decode", function()
    local html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\n<body>\0" .. ("x"):rep(4000) .. "</body>"
    answer("proxy", { status = 502, headers = { ["Content-Type"] = "text/html" }, body = html })
    answer("text", { status = 200, headers = { ["Content-Type"] = "text/plain" }, body = "OK" })
    local cc = client()
    local _, err = cc:status("proxy")
    assert.equal("server", err.kind)
    assert.is_true(#err.body <= 512)
    assert.not_matches("%c", err.body)
    assert.matches("502 Bad Gateway", err.body)
    assert.not_matches("%c", tostring(err))
    _, err = cc:status("text")
    assert.equal("decode", err.kind)
    assert.equal(200, err.status)
    cc:close()
  end)
end)

describe("redirects", function()
  local other

  setup(function() other = helpers.start_fake() end)
  teardown(function() other:stop() end)
  before_each(function() other:reset() end)

  local function assert_not_followed(location, not_in_message)
    answer("moved", { status = 302, headers = { Location = location } })
    local cc = client { retry = { attempts = 3 } }
    local v, err = cc:status("moved")
    assert.is_nil(v)
    assert.equal("http", err.kind)
    assert.equal(302, err.status)
    assert.equal(1, err.attempts)
    assert.equal(1, helpers.count_requests(fake))
    assert.equal(0, #other:requests())
    if not_in_message then assert.is_nil(tostring(err):find(not_in_message, 1, true)) end
    cc:close()
    return err
  end

  it("to another port is an error, and the other server receives nothing", function()
    local err = assert_not_followed(other.url .. TARGET)
    assert.matches(":" .. other.port, err.message)
  end)

  it("to another host name is an error, and nothing more is sent", function()
    assert_not_followed("http://localhost:" .. fake.port .. TARGET)
  end)

  it("to another scheme is an error, and the other server receives nothing", function()
    assert_not_followed("https://127.0.0.1:" .. other.port .. TARGET)
  end)

  it("with user:pass@ in the Location is an error that never echoes them", function()
    assert_not_followed("http://user:hunter2@127.0.0.1:" .. other.port .. TARGET, "hunter2")
  end)

  it("that hides another host behind an @ is an error", function()
    assert_not_followed("http://127.0.0.1:" .. fake.port .. "@localhost:" .. other.port .. TARGET)
  end)

  it("to file:// is never followed", function()
    assert_not_followed("file:///etc/passwd", "passwd")
  end)

  it("within the origin is followed at most 3 times, with auth kept", function()
    local hop = { status = 307, headers = { Location = TARGET } }
    answer("orders-sink", { hop, hop, hop })
    local cc = client { retry = { attempts = 1 } }
    local v = assert(cc:status("orders-sink"))
    assert.equal("orders-sink", v.name)
    local reqs = fake:requests()
    assert.equal(4, #reqs)
    for _, r in ipairs(reqs) do assert.equal("Bearer tok", r.headers.authorization) end

    fake:reset()
    answer("orders-sink", { hop, hop, hop, hop, { status = 200, body = STATUS_BODY } })
    local _, err = cc:status("orders-sink")
    assert.equal("http", err.kind)
    assert.equal(307, err.status)
    assert.equal(4, helpers.count_requests(fake)) -- the first request and three hops; the fourth hop is refused
    cc:close()
  end)

  it("a relative Location stays within the origin and is followed", function()
    answer("orders-sink", { status = 302, headers = { Location = "../datagen-orders/status" } })
    local cc = client()
    local v = assert(cc:status("orders-sink"))
    assert.equal("datagen-orders", v.name)
    cc:close()
  end)
end)
