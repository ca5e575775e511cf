-- Hostile servers (issue 12): each fault is reproduced by a loopback server, and the spec asserts
-- what a user gets instead. Hangs are proven in a child process under a short `timeout`.
local cs = require "connectstatus"
local helpers = require "helpers"

local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"
local STATUS = { name = "x", type = "sink", connector = { state = "RUNNING", worker_id = "w", trace = "" },
  tasks = { { id = 0, state = "RUNNING", worker_id = "w", msg = "" } } }

local fake

local function client(extra)
  local opts = { api_key = "KEY123", api_secret = "s3cret-value", environment = "env-demo", cluster = "lkc-demo",
    base_url = fake.url, timeout = 5, retry = { attempts = 1 } }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return cs.confluent(opts)
end

local function answer(name, responses)
  fake:script { method = "GET", path = PREFIX .. "/" .. name .. "/status", responses = responses }
end

-- Leaves a child 64 free descriptors whatever it inherits (a CI runner may pass on dozens).
local FEW_DESCRIPTORS = "ulimit -n $(( $(ls /proc/$$/fd | sort -n | tail -n 1) + 64 )); "

-- Runs a Lua snippet in a child under `timeout LIMIT` with the fake's URL as `url`; its output and
-- exit code (124: it hung).
local function child(limit, source, before)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write("local cs = require 'connectstatus'\nlocal url = ", ("%q"):format(fake.url), "\n", source)
  f:close()
  local out, code = helpers.shell(("%s%stimeout %d %s %s 2>&1"):format(before or "", helpers.env_cmd(), limit,
    helpers.lua_bin(), path))
  os.remove(path)
  return out, code
end

local function recorded(target)
  return helpers.count_requests(fake, PREFIX .. "/" .. target .. "/status")
end

describe("hardening", function()
  setup(function() fake = helpers.start_fake() end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  describe("rate-limit pacing", function()
    local function limited(reset)
      return { status = 200, json = STATUS,
        headers = { ["X-RateLimit-Remaining"] = "0", ["X-RateLimit-Reset"] = reset } }
    end

    it("treats a reset beyond a day, or an epoch timestamp, as garbage: nothing sleeps on it", function()
      for _, reset in ipairs { "100000", "1767225600" } do
        local slept = {}
        local cc = client { sleep = function(s) slept[#slept + 1] = s end }
        answer("x", { limited(reset) })
        assert(cc:status("x"))
        assert(cc:status("pg-cdc"))
        assert.same({}, slept)
        assert.is_nil(cc:rate_limit().reset)
        cc:close()
      end
    end)

    it("returns rate_limited at once, sending nothing, when the reset is beyond retry.max_retry_after", function()
      local slept = {}
      local cc = client { sleep = function(s) slept[#slept + 1] = s end }
      answer("x", { limited("120") })
      assert(cc:status("x"))
      local v, err = cc:status("pg-cdc")
      assert.is_nil(v)
      assert.equal("rate_limited", err.kind)
      assert.is_true(err.retry_after > 100 and err.retry_after <= 120)
      assert.equal(0, err.attempts)
      assert.equal(0, recorded("pg-cdc"))
      assert.same({}, slept)
      cc:close()
    end)

    it("never sleeps past a wait's deadline: the wait ends in time", function()
      answer("x", { { status = 200, json = { connector = { state = "PROVISIONING" } },
        headers = { ["X-RateLimit-Remaining"] = "0", ["X-RateLimit-Reset"] = "50" } } })
      local out, code = child(8, [[
        local cc = cs.confluent { token = "t", environment = "env-demo", cluster = "lkc-demo", base_url = url }
        local t0 = os.time()
        local _, err = cc:wait_for_state("x", "RUNNING", { timeout = 2, interval = 0.1 })
        print(err.kind, os.time() - t0 <= 3)
      ]])
      assert.equal(0, code, out)
      assert.matches("rate_limited\ttrue", out)
    end)
  end)

  describe("interruptions and deadlines", function()
    -- SIGINT reaches the child after 0.5 s; it must be gone well before its 10 s timeout.
    for what, source in pairs {
      sleep = "require('connectstatus.core').sleep(30)",
      ["blocking read"] = "local cc = cs.confluent { token = 't', environment = 'env-demo', cluster = 'lkc-demo', " ..
        "base_url = url }\nprint(cc:status('slow'))",
      ["read inside a loop"] = "local cc = cs.confluent { token = 't', environment = 'env-demo', " ..
        "cluster = 'lkc-demo', base_url = url }\nprint(cs.map({ 'slow' }, function(n) return cc:status(n) end))",
      wait = "local cc = cs.confluent { token = 't', environment = 'env-demo', cluster = 'lkc-demo', " ..
        "base_url = url }\nprint(cc:wait_for_state('pg-cdc', 'PAUSED', { interval = 30 }))",
      -- The interpreter sets its hook on the main thread only (per thread on 5.1 to 5.4).
      ["sleep in a coroutine"] = "local core = require('connectstatus.core')\n" ..
        "coroutine.wrap(function() core.sleep(30) end)()",
      ["blocking read in a coroutine"] = "local cc = cs.confluent { token = 't', environment = 'env-demo', " ..
        "cluster = 'lkc-demo', base_url = url }\ncoroutine.wrap(function() print(cc:status('slow')) end)()",
    } do
      it("Ctrl-C ends a " .. what .. " at once, as the interpreter's interruption error", function()
        answer("slow", { { status = 200, json = STATUS, delay = 30 } })
        local path = os.tmpname()
        local f = assert(io.open(path, "wb"))
        f:write("local cs = require 'connectstatus'\nlocal url = ", ("%q"):format(fake.url), "\n", source)
        f:close()
        -- --foreground: timeout passes the one SIGINT on to the child alone (Lua's interpreter
        -- dies on a second one, before it has printed its message).
        local out, code = helpers.shell(("%stimeout --foreground 10 %s %s 2>&1 & pid=$!; sleep 0.5; " ..
          "kill -INT $pid; wait $pid")
          :format(helpers.env_cmd(), helpers.lua_bin(), path))
        os.remove(path)
        assert.are_not.equal(124, code, "it ran until the timeout: " .. out)
        assert.matches("interrupted", out)
      end)
    end

    it("a wait gives each transfer at most the time left, not the client's timeout", function()
      answer("stuck", { { status = 200, json = STATUS, delay = 20 } })
      local out, code = child(5, [[
        local cc = cs.confluent { token = 't', environment = 'env-demo', cluster = 'lkc-demo', base_url = url,
          timeout = 30 }
        local _, err = cc:wait_for_state("stuck", "RUNNING", { timeout = 1 })
        print(err.kind)
      ]])
      assert.equal(0, code, out)
      assert.matches("timeout", out)
    end)

    it("a timeout below a millisecond is one millisecond, not libcurl's 'no limit'", function()
      answer("drip", { { status = 200, json = STATUS, drip = 10 } })
      local out, code = child(5, [[
        local cc = cs.confluent { token = 't', environment = 'env-demo', cluster = 'lkc-demo', base_url = url,
          timeout = 0.0004, retry = { attempts = 1 } }
        local _, err = cc:status("drip")
        print(err.kind)
      ]])
      assert.equal(0, code, out)
      assert.matches("timeout", out)
    end)
  end)

  describe("proxies", function()
    it("never sends a loopback base URL through the environment's proxy", function()
      local proxy = helpers.start_server [[function(c)
        io.stderr:write("PROXIED\n")
        c:send("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
      end]]
      local out, code = child(10, [[
        local cc = cs.confluent { api_key = 'k', api_secret = 's', environment = 'env-demo', cluster = 'lkc-demo',
          base_url = url }
        print(assert(cc:status("pg-cdc")).connector.state)
      ]], ("http_proxy=%s HTTP_PROXY=%s ALL_PROXY=%s "):format(proxy.url, proxy.url, proxy.url))
      proxy.stop()
      assert.equal(0, code, out)
      assert.matches("RUNNING", out)
      assert.equal(1, helpers.count_requests(fake, PREFIX .. "/pg-cdc/status"))
    end)

    it("names the proxy in a transport error when one was used", function()
      local port = helpers.free_port()
      local cc = client { proxy = "http://user:pw@127.0.0.1:" .. port }
      local _, err = cc:status("pg-cdc")
      assert.equal("connect", err.kind)
      assert.matches("(through the proxy http://127.0.0.1:" .. port .. ")", err.message, 1, true)
      assert.is_nil(tostring(err):find("pw", 1, true))
      cc:close()
      local direct = client()
      local _, none = direct:status("no-such-connector")
      assert.is_nil(none.message:find("proxy", 1, true))
      direct:close()
    end)

    it("refuses credentials over plain http through a proxy that is not on loopback", function()
      assert.has_error(function()
        client { proxy = "http://proxy.example.invalid:3128" }
      end, "refusing to send credentials over plain http through a proxy that is not on loopback " ..
        "(use https, or allow_insecure_http = true)")
      local proxy = helpers.start_server [[function(c)
        c:send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
      end]]
      local cc = client { proxy = proxy.url } -- a loopback proxy may see them
      assert(cc:status("pg-cdc"))
      assert.equal(0, helpers.count_requests(fake)) -- the proxy answered; nothing reached the fake
      cc:close()
      proxy.stop()
    end)
  end)

  describe("kept-alive connections", function()
    -- Answers, then pushes a second, unasked answer after the first one on each connection, once
    -- the client has read the first (bytes in the same read would make libcurl drop the connection).
    local STALE_PUSHER = [[function(c, n, k)
      local body = '{"name":"real","n":' .. n .. '}'
      c:send("HTTP/1.1 200 OK\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body)
      if k == 1 then
        socket.sleep(0.05)
        local stale = '{"name":"INJECTED","connector":{"state":"INJECTED"}}'
        c:send("HTTP/1.1 200 OK\r\nContent-Length: " .. #stale .. "\r\n\r\n" .. stale)
      end
    end]]

    it("never takes bytes the server pushed unasked for the next answer", function()
      local server = helpers.start_server(STALE_PUSHER)
      local socket = require "socket"
      local cc = cs.confluent { token = "t", environment = "e", cluster = "c", base_url = server.url }
      assert.equal("real", assert(cc:status("x")).name)
      socket.sleep(0.1)
      assert.equal("real", assert(cc:status("x")).name)
      cc:close() -- the server serves one connection at a time
      -- The same inside a loop, whose kept-alive connections live in its multi handle.
      local loop = cs.loop()
      cc = cs.confluent { token = "t", environment = "e", cluster = "c", base_url = server.url }
      for _ = 1, 2 do
        local task = loop:spawn(function() return cc:status("x") end)
        loop:run()
        assert.equal("real", (task:result()).name)
        socket.sleep(0.1)
      end
      loop:close()
      cc:close()
      server.stop()
    end)

    it("inside a loop, checks a kept-alive connection that another client opened", function()
      local server = helpers.start_server(STALE_PUSHER)
      local socket = require "socket"
      local loop = cs.loop()
      for _, name in ipairs { "first", "second" } do
        local cc = cs.confluent { token = name, environment = "e", cluster = "c", base_url = server.url }
        local task = loop:spawn(function() return cc:status("x") end)
        loop:run()
        assert.equal("real", (task:result()).name)
        cc:close() -- its connection stays in the loop's cache
        socket.sleep(0.1)
      end
      loop:close()
      server.stop()
    end)

    it("retries a 408 (a load balancer closing an idle connection) and keeps a wait going", function()
      local cc = client { retry = { attempts = 2, base = 0 } }
      answer("x", { { status = 408 }, { status = 200, json = STATUS } })
      assert.equal("RUNNING", assert(cc:status("x")).connector.state)
      cc:close()
      local once = client() -- one attempt per read: the wait itself must go on after the 408
      answer("y", { { status = 408 } })
      fake:set { connector = "y", states = { STATUS } }
      assert(once:wait_for_state("y", "RUNNING", { interval = 0.01, sleep = function() end }))
      once:close()
    end)
  end)

  describe("descriptors", function()
    it("clients left unclosed do not exhaust descriptors", function()
      local out, code = child(60, [[
        local failed = 0
        for _ = 1, 600 do
          local cc = cs.confluent { token = 't', environment = 'env-demo', cluster = 'lkc-demo', base_url = url,
            retry = { attempts = 1 } }
          if not cc:status('pg-cdc') then failed = failed + 1 end
        end
        print('failed ' .. failed)
      ]], FEW_DESCRIPTORS)
      assert.equal(0, code, out)
      assert.matches("failed 0", out)
    end)

    -- Out of descriptors, a read collects garbage and sends once more; the finalizer of someone
    -- else's garbage that raises (5.1, 5.3 and LuaJIT pass that on) neither ends the read nor
    -- leaves the client's transfer busy.
    for what, read in pairs {
      ["a blocking read"] = "assert(cc:status('pg-cdc'))",
      ["a read inside a loop"] = "local v, e = cs.map({ 'pg-cdc' }, function(n) return cc:status(n) end)\n" ..
        "assert(v[1], tostring(e[1]))",
    } do
      it(what .. " short of descriptors survives a finalizer that raises", function()
        local out, code = child(20, [[
          collectgarbage("stop") -- only the read's own collection runs
          if newproxy then -- made first, so that it is finalized after the clients
            getmetatable(newproxy(true)).__gc = function() error("a finalizer failed") end
          else
            setmetatable({}, { __gc = function() error("a finalizer failed") end })
          end
          local held = {}
          for i = 1, 20 do
            held[i] = cs.confluent { token = 't', environment = 'env-demo', cluster = 'lkc-demo', base_url = url }
            assert(held[i]:status('pg-cdc'))
          end
          local files = {}
          repeat
            local file = io.open("/dev/null")
            files[#files + 1] = file
          until not file
          held = nil
          local cc = cs.confluent { token = 't', environment = 'env-demo', cluster = 'lkc-demo', base_url = url,
            retry = { attempts = 1 } }
          ]] .. read .. [[

          assert(cc:status('pg-cdc'))
          print('read')
        ]], FEW_DESCRIPTORS)
        assert.equal(0, code, out)
        assert.matches("read", out)
      end)
    end

    it("a program started after a read holds none of the client's connections", function()
      local cc = client()
      assert(cc:status("pg-cdc")) -- its connection stays open, kept alive
      -- The inodes of every TCP connection to the fake, from the kernel's table ...
      local port = ("%04X"):format(fake.port)
      local inodes = {}
      for line in io.lines("/proc/net/tcp") do
        local remote, inode = line:match("^%s*%d+:%s+%x+:%x+%s+%x+:(%x+)%s+%x+%s+%S+%s+%S+%s+%S+%s+%S+%s+%S+%s+(%d+)")
        if remote == port then inodes[#inodes + 1] = inode end
      end
      assert.is_true(#inodes > 0)
      -- ... and none of them among the descriptors of a shell started now.
      local fds = helpers.shell("ls -l /proc/$$/fd 2>/dev/null")
      for _, inode in ipairs(inodes) do assert.is_nil(fds:find("socket:[" .. inode .. "]", 1, true), fds) end
      cc:close()
    end)

    it("nor any socket of libcurl's own (the wake-up pairs of a blocking read and of a loop)", function()
      local out, code = child(20, [[
        local function sockets()
          local seen = {}
          for inode in io.popen("ls -l /proc/$$/fd"):read("*a"):gmatch("socket:%[(%d+)%]") do seen[inode] = true end
          return seen
        end
        local inherited = sockets() -- whatever this process got from the spec runner
        local cc = cs.confluent { token = 't', environment = 'env-demo', cluster = 'lkc-demo', base_url = url }
        assert(cc:status('pg-cdc'))
        local v, e = cs.map({ 'pg-cdc', 'orders-sink' }, function(n) return cc:status(n) end)
        assert(v[1] and v[2], tostring(e[1] or e[2]))
        local held = 0
        for inode in pairs(sockets()) do
          if not inherited[inode] then held = held + 1 end
        end
        print('held ' .. held)
      ]])
      assert.equal(0, code, out)
      assert.matches("held 0", out)
    end)
  end)

  describe("what the server says", function()
    it("strips control characters from messages and request ids: tostring(err) is one line", function()
      local cc = client()
      answer("x", { { status = 400, headers = { ["X-Request-Id"] = "id\27]0;title\7" },
        json = { error = { code = 400, message = "bad\r\nInjected: yes\27[2J" } } } })
      local _, err = cc:status("x")
      local text = tostring(err)
      assert.is_nil(text:find("%c"), text)
      assert.matches("bad Injected: yes", text)
      cc:close()
    end)

    it("redacts the client's own credentials when the server echoes them", function()
      local cc = client()
      local basic = helpers.base64("KEY123:s3cret-value")
      answer("x", { { status = 401, json = { error = { code = 401,
        message = "Authorization: Basic " .. basic .. " rejected for secret s3cret-value" } } } })
      local _, err = cc:status("x")
      local text = tostring(err)
      assert.is_nil(text:find(basic, 1, true))
      assert.is_nil(text:find("s3cret-value", 1, true))
      assert.matches("%[REDACTED%]", text)
      cc:close()
    end)

    for body, what in pairs { ["42"] = "a number", ["false"] = "a boolean", ["null"] = "null",
      ['"RUNNING"'] = "a string", ["[1,2]"] = "an array" } do
      it("returns decode for a 2xx that is " .. what .. " where the API documents an object", function()
        local cc = client()
        answer("x", { { status = 200, body = body } })
        local v, err = cc:status("x")
        assert.is_nil(v)
        assert.equal("decode", err.kind)
        assert.matches("not the JSON object the API documents", err.message)
        cc:close()
      end)
    end

    it("waits through statuses whose tasks are not objects, without indexing them", function()
      local cc = client()
      answer("x", { { status = 200, json = { connector = { state = "RUNNING" }, tasks = { cs.null, 1, "x" } } },
        { status = 200, json = STATUS } })
      local v, err = cc:wait_for_state("x", "RUNNING", { interval = 0.01, sleep = function() end })
      assert.is_nil(err)
      assert.equal("RUNNING", v.connector.state)
      cc:close()
    end)

    it("a header line of 1 MiB is too_large, not retried", function()
      local server = helpers.start_server [[function(c)
        c:send("HTTP/1.1 200 OK\r\nX-Huge: " .. ("a"):rep(1024 * 1024) .. "\r\nContent-Length: 2\r\n\r\n{}")
      end]]
      local cc = cs.confluent { token = "t", environment = "e", cluster = "c", base_url = server.url,
        retry = { attempts = 3, base = 0 } }
      local _, err = cc:status("x")
      assert.equal("too_large", err.kind)
      assert.equal(1, err.attempts)
      assert.matches("header line is longer than libcurl accepts", err.message)
      cc:close()
      server.stop()
    end)
  end)

  describe("options", function()
    it("range-checks every number at construction", function()
      local bad = {
        { max_depth = -1 }, { max_depth = 1e10 }, { max_depth = 0 / 0 }, { max_depth = 2.5 },
        { max_body = 0 }, { max_body = 5e9 }, { timeout = 0 }, { timeout = -1 }, { timeout = 0 / 0 },
        { connect_timeout = 1e9 }, { stall_timeout = 0 }, { max_redirects = -1 },
        { retry = { attempts = 0 } }, { retry = { base = 0 / 0 } }, { retry = { budget = -1 } },
      }
      for _, opts in ipairs(bad) do
        assert.has_error(function() client(opts) end)
      end
    end)

    it("reports a body over a large max_body with the right number", function()
      local cc = client { max_body = 3e9 }
      assert(cc:status("pg-cdc"))
      cc:close()
      local small = client { max_body = 10 }
      local _, err = small:status("pg-cdc")
      assert.equal("too_large", err.kind)
      assert.equal("response body exceeds 10 bytes", err.message)
      small:close()
    end)
  end)
end)
