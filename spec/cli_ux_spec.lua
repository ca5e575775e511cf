-- The CLI's conventions, against the fake API: flags anywhere, did-you-mean, several names, states
-- in any case, output formats (always one JSON document under --json), write errors, terminal
-- safety and colour (through a pseudo-terminal), progress, health policy, contexts, the fake
-- command, completion, the man page and `make install`.
local cs = require "connectstatus"
local helpers = require "helpers"
local cli_run = require "cli_run"

local run, run_pty, with, quote = cli_run.run, cli_run.run_pty, cli_run.with, cli_run.quote
local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"

local write_file = helpers.write_file

describe("connectstatus CLI conventions", function()
  local fake, env

  setup(function()
    fake = helpers.start_fake()
    env = {
      CONNECTSTATUS_BASE_URL = fake.url, FELDERA_HOST = fake.url, CONFLUENT_CLOUD_API_KEY = "demo-key",
      CONFLUENT_CLOUD_API_SECRET = "demo-secret", CONFLUENT_ENVIRONMENT_ID = "env-demo",
      CONFLUENT_KAFKA_CLUSTER_ID = "lkc-demo",
    }
  end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  describe("arguments", function()
    it("takes flags before or after the command", function()
      local c1, o1 = run("--json status pg-cdc", env)
      local c2, o2 = run("status --json pg-cdc", env)
      local c3, o3 = run("status pg-cdc --json", env)
      assert.same({ 0, 0, 0 }, { c1, c2, c3 })
      assert.equal(o1, o2)
      assert.equal(o1, o3)
      assert.equal(0, (run("-o json list", env)))
    end)

    it("suggests the command or flag that was meant", function()
      local code, _, err = run("stauts pg-cdc", env)
      assert.equal(2, code)
      assert.matches("unknown command stauts (did you mean status?)", err, 1, true)
      code, _, err = run("wait pg-cdc --interval 1 --stat RUNNING", env)
      assert.equal(2, code)
      assert.matches("unknown flag --stat (did you mean --state?)", err, 1, true)
      code, _, err = run("health --min-conectors 2", env)
      assert.equal(2, code)
      assert.matches("did you mean --min-connectors?", err, 1, true)
      code, _, err = run("status pg-cdc --phase APPLIED", env)
      assert.equal(2, code)
      assert.matches("unknown flag --phase for status (wait-offsets takes it)", err, 1, true)
    end)

    it("names its own flags and variables in errors, never library options", function()
      local code, _, err = run("status x --base-url ftp://127.0.0.1", env)
      assert.equal(2, code)
      assert.matches("--base-url must use http or https", err, 1, true)
      assert.is_nil(err:find("base_url", 1, true))
    end)

    it("prints its version and the Lua it runs on", function()
      local code, out = run("--version")
      assert.equal(0, code)
      assert.matches("^connectstatus " .. cs.version:gsub("%.", "%%.") .. " on ", out)
      if not math.type then assert.matches("inexact", out, 1, true) end
    end)
  end)

  describe("several names", function()
    it("status a b prints each, and an object by name under --json", function()
      local code, out = run("status pg-cdc s3-archive", env)
      assert.equal(0, code)
      assert.matches("pg%-cdc%s+source%s+RUNNING", out)
      assert.matches("s3%-archive%s+sink%s+FAILED", out)
      code, out = run("status pg-cdc s3-archive --json", env)
      assert.equal(0, code)
      local doc = assert(cs.json.decode(out))
      assert.equal("RUNNING", doc["pg-cdc"].connector.state)
      assert.equal("FAILED", doc["s3-archive"].connector.state)
    end)

    it("reads the others when one fails, and exits 4", function()
      local code, out, err = run("status nope pg-cdc --json", env)
      assert.equal(4, code)
      local doc = assert(cs.json.decode(out))
      assert.equal("not_found", doc.nope.error.kind)
      assert.equal("RUNNING", doc["pg-cdc"].connector.state)
      assert.matches("not_found", err, 1, true)
      assert.equal(2, helpers.count_requests(fake, PREFIX .. "/nope/status") +
        helpers.count_requests(fake, PREFIX .. "/pg-cdc/status"))
    end)

    it("-o jsonl gives one object per connector", function()
      local code, out = run("status pg-cdc nope s3-archive -o jsonl", env)
      assert.equal(4, code)
      local lines = {}
      for line in out:gmatch("[^\n]+") do lines[#lines + 1] = assert(cs.json.decode(line)) end
      assert.equal(3, #lines)
      assert.equal("pg-cdc", lines[1].name)
      assert.same({ "nope", "not_found" }, { lines[2].name, lines[2].error.kind })
      assert.equal("s3-archive", lines[3].name)
    end)

    it("wait a b waits for each within one timeout", function()
      local code, out = run("wait orders-sink pg-cdc --interval 0.05 --json", env)
      assert.equal(0, code)
      local doc = assert(cs.json.decode(out))
      assert.equal("RUNNING", doc["orders-sink"].connector.state)
      assert.equal("RUNNING", doc["pg-cdc"].connector.state)
    end)
  end)

  describe("states and phases", function()
    it("accepts them in any case", function()
      assert.equal(0, (run("wait pg-cdc --state running --interval 0.05", env)))
      assert.equal(0, (run("wait-offsets pg-cdc --phase applied --interval 0.05", env)))
    end)

    it("refuses one that no API knows before any request, unless forced", function()
      local code, out, err, _ = run("wait pg-cdc --state RUNING --timeout 5", env)
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("unknown state 'RUNING' (did you mean 'RUNNING'?)", err, 1, true)
      assert.matches("known states: DEGRADED, DELETED", err, 1, true)
      assert.matches("--force-state", err, 1, true)
      code, _, err = run("wait-offsets pg-cdc --phase DONE", env)
      assert.equal(2, code)
      assert.matches("known phases: APPLIED, FAILED, PENDING, PENDING_VALIDATION", err, 1, true)
      assert.equal(0, helpers.count_requests(fake))
      code = run("wait pg-cdc --state SOMETHING_NEW --force-state --timeout 0.2 --interval 0.05", env)
      assert.equal(3, code)
    end)
  end)

  describe("JSON output", function()
    it("sorts keys, so that two runs give the same bytes", function()
      local _, a = run("health --json", env)
      fake:reset()
      local _, b = run("health --json", env)
      assert.equal(a, b)
      assert.matches('^{"health":{"degraded":1,"failed":1,"healthy":1,"pending":1},"states":', a)
      local _, status = run("status datagen-orders --json", env)
      assert.matches('^{"connector":{"state":"RUNNING","trace":"","worker_id":"datagen%-orders"},"name":', status)
    end)

    it("prints {\"error\": ...} for usage errors too", function()
      for _, args in ipairs { "--json", "status --json", "bogus --json", "status x --json --nope",
        "wait x --json --state RUNING", "-o json list --expand everything" } do
        local code, out = run(args, env)
        assert.equal(2, code, args)
        local doc = assert(cs.json.decode(out), args .. ": " .. out)
        assert.equal("usage", doc.error.kind, args)
        assert.is_string(doc.error.message)
      end
    end)

    it("writes 1e400 as a number JSON readers accept, and NaN never appears", function()
      fake:script { method = "GET", path = PREFIX .. "/big/status", responses = { { status = 200,
        body = '{"name":"big","connector":{"state":"RUNNING"},"tasks":[],"x":1e400,"y":-1e400}' } } }
      local code, out = run("status big --json", env)
      assert.equal(0, code)
      assert.matches('"x":1e999', out, 1, true)
      assert.matches('"y":-1e999', out, 1, true)
      local jq = helpers.shell("printf '%s' " .. quote(out) .. " | jq -c .y")
      assert.matches("^%-1%.797", jq)
    end)

    it("says when a counter beyond 2^53 may be inexact (LuaJIT, 5.1)", function()
      fake:script { method = "GET", path = PREFIX .. "/big/status", responses = { { status = 200,
        body = '{"name":"big","connector":{"state":"RUNNING"},"tasks":[],"n":9007199254740993}' } } }
      local code, out, err = run("status big --json", env)
      assert.equal(0, code)
      if math.type then
        assert.matches('"n":9007199254740993', out, 1, true)
        assert.equal("", err)
      else
        assert.matches("1 number(s) beyond 2^53 may be inexact", err, 1, true)
      end
    end)

    it("exits non-zero when the output cannot be written", function()
      local code, _, err = run("list", env, " >/dev/full")
      assert.equal(4, code)
      assert.matches("cannot write the output", err, 1, true)
      code = run("health --json", env, " >/dev/full")
      assert.equal(4, code)
    end)
  end)

  describe("API text on a terminal or in a table", function()
    local EVIL = "\27]0;pwned\7\27[2J\rboom\194\155x"

    before_each(function()
      fake:set { connector = "evil", states = { { connector = { state = "FAILED", trace = EVIL .. "\nline2" },
        tasks = { { id = 0, state = "FAILED", msg = EVIL } } } } }
    end)

    it("escapes control characters in table output", function()
      for _, args in ipairs { "status evil", "health", "check evil", "list" } do
        local _, out, err = run(args, env)
        for _, text in ipairs { out, err } do
          assert.is_nil(text:find("[\27\7\r]"), args)
          assert.is_nil(text:find("\194\155", 1, true), args)
        end
      end
      local _, out = run("status evil", env)
      assert.matches("\\x1b]0;pwned\\x07\\x1b[2J\\x0dboom\\u009bx", out, 1, true)
    end)

    it("escapes them on a terminal too, where colour is used", function()
      local _, out = run_pty("status evil", env)
      assert.is_nil(out:find("\27]", 1, true))
      assert.is_nil(out:find("\27[2J", 1, true))
      assert.matches("\\x1b[2J", out, 1, true)
    end)

    it("keeps them exact, JSON-escaped, under --json", function()
      local _, out = run("status evil --json", env)
      local doc = assert(cs.json.decode(out))
      assert.equal(EVIL .. "\nline2", doc.connector.trace)
      assert.is_nil(out:find("\27", 1, true))
    end)
  end)

  describe("colour", function()
    it("colours FAILED and RUNNING on a terminal", function()
      local code, out = run_pty("list", env)
      assert.equal(0, code, out)
      assert.matches("\27[32mRUNNING\27[0m", out, 1, true)
      assert.matches("\27[31mFAILED\27[0m", out, 1, true)
    end)

    it("is off with NO_COLOR, in a pipe and under -o json", function()
      local _, out = run_pty("list", with(env, { NO_COLOR = "1" }))
      assert.is_nil(out:find("\27[", 1, true))
      local _, piped = run("list", with(env, { TERM = "xterm" }))
      assert.is_nil(piped:find("\27[", 1, true))
      local _, json = run_pty("list --json", env)
      assert.is_nil(json:find("\27[", 1, true))
    end)
  end)

  describe("--watch", function()
    it("redraws the list on a terminal and highlights what changed", function()
      -- orders-sink goes PROVISIONING -> RUNNING on its third status read, made while it watches.
      local reads = ("(sleep 0.5; for i in 1 2 3; do curl -s -u k:s %s%s/orders-sink/status >/dev/null; done) &")
        :format(fake.url, PREFIX)
      local _, out = run_pty("list --watch 0.3", env, 1.6, reads)
      assert.matches("\27[H\27[2J", out, 1, true)
      local draws = select(2, out:gsub("\27%[H\27%[2J", ""))
      assert.is_true(draws >= 3, out)
      assert.matches("orders%-sink[^\n]*\27%[7m[^\n]*RUNNING", out) -- the changed cells reversed
      assert.is_nil(out:match("datagen%-orders[^\n]*\27%[7m"), out)
    end)

    it("prints each table in turn in a pipe", function()
      local _, out = run("list --watch 0.2", env, " & pid=$!; sleep 1; kill -INT $pid; wait $pid")
      local tables = select(2, out:gsub("NAME%s+TYPE%s+STATE%s+TASKS", ""))
      assert.is_true(tables >= 2, out)
      assert.is_nil(out:find("\27", 1, true))
    end)
  end)

  describe("progress of waits", function()
    it("never says retrying for an error that ends the wait", function()
      local guarded = helpers.start_fake { api_key = "right", api_secret = "right" }
      finally(function() guarded:stop() end)
      local code, _, err = run("wait pg-cdc --interval 0.05", with(env, { CONNECTSTATUS_BASE_URL = guarded.url }))
      assert.equal(4, code)
      assert.matches("read failed (unauthorized)\n", err, 1, true)
      assert.is_nil(err:find("retr", 1, true))
    end)

    it("says retried once the wait went on through one", function()
      local code, _, err = run("wait not-yet --allow-missing --timeout 0.2 --interval 0.05", env)
      assert.equal(3, code)
      assert.matches("read failed (not_found), retried\n", err, 1, true)
    end)

    it("repeats an unchanged line every --heartbeat seconds in a pipe", function()
      local code, _, err = run("wait pg-cdc --state PAUSED --timeout 0.6 --interval 0.05 --heartbeat 0.2", env)
      assert.equal(3, code)
      local beats = select(2, err:gsub("pg%-cdc  RUNNING  tasks %[0:RUNNING%] %(unchanged%)", ""))
      assert.is_true(beats >= 2 and beats <= 3, err)
    end)

    it("draws a live line on a terminal", function()
      local code, out = run_pty("wait orders-sink --interval 0.05", env)
      assert.equal(0, code)
      assert.matches("\r\27[K", out, 1, true)
    end)
  end)

  describe("health and check", function()
    it("--ignore-state rates PAUSED healthy", function()
      fake:set { connector = "paused", states = { { connector = { state = "PAUSED" },
        tasks = { { id = 0, state = "PAUSED" } } } } }
      local _, out = run("health --exclude '^s3' --exclude datagen", env)
      assert.matches("paused%s+degraded%s+connector PAUSED", out)
      fake:reset()
      fake:set { connector = "paused", states = { { connector = { state = "PAUSED" },
        tasks = { { id = 0, state = "PAUSED" } } } } }
      local code
      code, out = run("health --ignore-state paused --exclude '^s3' --exclude datagen", env)
      assert.equal(0, code, out)
      assert.matches("3 connectors: 2 healthy, 0 degraded, 0 failed, 1 pending", out, 1, true)
    end)

    it("--only and --exclude take Lua patterns", function()
      local code, out = run("health --only '^pg' --only '^orders'", env)
      assert.equal(0, code)
      assert.matches("2 connectors: 1 healthy", out, 1, true)
      code = run("health --only '[unclosed'", env)
      assert.equal(2, code)
    end)

    it("--min-connectors makes an empty or short fleet a failure", function()
      local empty = helpers.start_fake { scenario = "empty" }
      finally(function() empty:stop() end)
      local e = with(env, { CONNECTSTATUS_BASE_URL = empty.url })
      assert.equal(0, (run("health", e)))
      local code, out = run("health --min-connectors 1", e)
      assert.equal(1, code)
      assert.matches("fewer connectors than --min-connectors 1", out, 1, true)
      code, out = run("health --min-connectors 1 --json", e)
      assert.equal(1, code)
      assert.same({ wanted = 1, found = 0, ok = false }, assert(cs.json.decode(out)).min_connectors)
      assert.equal(2, (run("health --min-connectors many", e)))
    end)

    it("-o prometheus writes textfile gauges, and connectstatus_up 0 when the read fails", function()
      local code, out = run("health -o prometheus", env)
      assert.equal(1, code)
      assert.matches("\nconnectstatus_up 1\n", out, 1, true)
      assert.matches('\nconnectstatus_connector_health{connector="s3-archive",health="failed"} 1\n', out, 1, true)
      assert.matches('\nconnectstatus_connector_health{connector="s3-archive",health="healthy"} 0\n', out, 1, true)
      assert.matches('\nconnectstatus_connector_state{connector="pg-cdc",state="RUNNING"} 1\n', out, 1, true)
      assert.matches('\nconnectstatus_task_state{connector="datagen-orders",task="1",state="FAILED"} 1\n', out, 1,
        true)
      assert.matches("# TYPE connectstatus_connectors gauge\n", out, 1, true)
      for line in out:gmatch("[^\n]+") do
        assert.is_truthy(line:find("^# [HT]") or line:find('^connectstatus_[%w_]+%b{} [01]$') or
          line:find("^connectstatus_[%w_]+ [01]$"), line)
      end
      code, out = run("health -o prometheus", with(env, { CONNECTSTATUS_BASE_URL = "http://127.0.0.1:" ..
        helpers.free_port() }))
      assert.equal(4, code)
      assert.matches("connectstatus_up 0\n", out, 1, true)
      assert.equal(2, (run("status pg-cdc -o prometheus", env)))
    end)

    it("-o jsonl gives one line per connector with its health", function()
      local _, out = run("health -o jsonl", env)
      local names = {}
      for line in out:gmatch("[^\n]+") do
        local doc = assert(cs.json.decode(line))
        names[#names + 1] = doc.name .. "=" .. doc.health
      end
      assert.same({ "datagen-orders=degraded", "orders-sink=pending", "pg-cdc=healthy", "s3-archive=failed" }, names)
    end)

    it("-o json keeps the whole trace", function()
      local _, out = run("health --json", env)
      local doc = assert(cs.json.decode(out))
      local s3 = doc.unhealthy[3]
      assert.equal("s3-archive", s3.name)
      assert.matches("kafka.api.secret: Provided Kafka ApiKey is invalid", s3.details.trace, 1, true)
    end)

    it("check NAME... has health's exit codes", function()
      assert.equal(0, (run("check pg-cdc", env)))
      local code, out = run("check pg-cdc datagen-orders", env)
      assert.equal(1, code)
      assert.matches("datagen%-orders%s+degraded%s+task 1 FAILED", out)
      code, out = run("check pg-cdc nope --json", env)
      assert.equal(4, code)
      local doc = assert(cs.json.decode(out))
      assert.equal(1, doc.total)
      assert.equal("not_found", doc.errors.nope.kind)
      assert.equal(0, (run("check orders-sink", env))) -- PROVISIONING: pending is fine
    end)

    it("--quiet keeps only the exit code", function()
      local code, out, err = run("health --quiet", env)
      assert.same({ 1, "", "" }, { code, out, err })
      code, out, err = run("-q status nope", env)
      assert.same({ 4, "", "" }, { code, out, err })
    end)
  end)

  describe("--cacert", function()
    it("--cacert verifies the API with the given CA; without it the same server is refused", function()
      local pki = helpers.make_pki()
      local dir = PREFIX .. "/tls-sink"
      local root = pki .. "/www"
      os.execute("mkdir -p " .. quote(root .. dir))
      write_file(root .. dir .. "/status", '{"name":"tls-sink","type":"sink","connector":{"state":"RUNNING"},' ..
        '"tasks":[{"id":0,"state":"RUNNING"}]}')
      local server = helpers.start_tls_server(pki, "good", root)
      finally(function()
        server.stop()
        helpers.remove_tree(pki)
      end)
      local e = with(env, { CONNECTSTATUS_BASE_URL = server.url })
      local _
      local code, out, err = run("status tls-sink --cacert " .. quote(pki .. "/ca.pem"), e)
      assert.equal(0, code, err)
      assert.matches("tls%-sink%s+sink%s+RUNNING", out)
      code, _, err = run("status tls-sink --json", e)
      assert.equal(4, code)
      assert.matches("connectstatus: tls:", err, 1, true)
    end)
  end)

  describe("contexts", function()
    local dir

    before_each(function()
      dir = helpers.tmpdir()
      os.execute("mkdir -p " .. quote(dir .. "/connectstatus"))
    end)
    after_each(function() helpers.remove_tree(dir) end)

    local function config(text) write_file(dir .. "/connectstatus/config", text) end

    local function bare(extra) -- no settings from the environment, only the config
      local e = { XDG_CONFIG_HOME = dir }
      for k, v in pairs(extra or {}) do e[k] = v end
      return e
    end

    it("reads settings from the current context, secrets from a variable or a command", function()
      config(("current = demo\n\n[demo]\n# the fake\nbase_url = %s\nenvironment = env-demo\ncluster = lkc-demo\n" ..
        "api_key = demo-key\napi_secret_env = DEMO_SECRET\n\n[cmd]\nbase_url = %s\nenvironment = env-demo\n" ..
        "cluster = lkc-demo\napi_key = demo-key\napi_secret_command = printf 'from-command\\n'\n"):format(fake.url,
        fake.url))
      local code, out, err, _ = run("status pg-cdc", bare { DEMO_SECRET = "from-variable" })
      assert.equal(0, code, err)
      assert.matches("pg%-cdc%s+source%s+RUNNING", out)
      local requests = fake:requests()
      assert.equal("Basic " .. helpers.base64("demo-key:from-variable"), requests[#requests].headers.authorization)
      assert.equal(0, (run("--context cmd status pg-cdc", bare())))
      requests = fake:requests()
      assert.equal("Basic " .. helpers.base64("demo-key:from-command"), requests[#requests].headers.authorization)
      code, _, err = run("status pg-cdc", bare())
      assert.equal(2, code)
      assert.matches("context demo takes api_secret from $DEMO_SECRET, which is not set", err, 1, true)
    end)

    it("lets flags win, then --context, then the environment, then the current context", function()
      config(("current = broken\n[broken]\nbase_url = http://127.0.0.1:%d\n[good]\nbase_url = %s\n")
        :format(helpers.free_port(), fake.url))
      local e = with(env, { XDG_CONFIG_HOME = dir, CONNECTSTATUS_BASE_URL = false })
      assert.equal(4, (run("status pg-cdc", e)))                          -- the current context: refused
      assert.equal(0, (run("status pg-cdc --context good", e)))
      assert.equal(0, (run("status pg-cdc", with(e, { CONNECTSTATUS_CONTEXT = "good" }))))
      assert.equal(0, (run("status pg-cdc", with(e, { CONNECTSTATUS_BASE_URL = fake.url }))))
      assert.equal(0, (run("status pg-cdc --base-url " .. fake.url, with(e, { CONNECTSTATUS_CONTEXT = "broken" }))))
    end)

    it("never stores a secret, and says what to write instead", function()
      config("[prod]\napi_secret = hunter2\n")
      local code, out, err, _ = run("status pg-cdc", bare())
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("config:2: api_secret is a secret and is never stored here: use api_secret_env", err, 1, true)
      assert.is_nil(err:find("hunter2", 1, true))
      config("[prod]\nclutser = x\n")
      code, _, err = run("context list", bare())
      assert.equal(2, code)
      assert.matches("unknown setting 'clutser' in context prod (did you mean 'cluster'?)", err, 1, true)
    end)

    it("list, use and show", function()
      config(("[a]\nenvironment = env-a\ncluster = lkc-a\napi_key = KEY\napi_secret_command = pass show a\n" ..
        "[b]\nfeldera_host = %s\nfeldera_api_key_env = B_KEY\n"):format(fake.url))
      local err, _
      local code, out = run("context list", bare())
      assert.equal(0, code)
      assert.equal("  a  (confluent)\n  b  (feldera)\n", out)
      assert.equal(0, (run("context use b", bare())))
      _, out = run("context list", bare())
      assert.equal("  a  (confluent)\n* b  (feldera)\n", out)
      _, out = run("context list --names", bare())
      assert.equal("a\nb\n", out)
      code, out = run("context show a", bare())
      assert.equal(0, code)
      assert.matches("api_secret%s+%(from the command: pass show a%)", out)
      assert.matches("cluster%s+lkc%-a", out)
      _, out = run("context show", bare())
      assert.matches("^context b %(current%)", out)
      assert.matches("feldera_api_key%s+%(from %$B_KEY%)", out)
      code, _, err = run("context use c", bare())
      assert.equal(2, code)
      assert.matches("unknown context 'c'", err, 1, true)
      assert.equal(0, (run("feldera-stats demo-pipeline orders backfill", bare { B_KEY = "k" })))
      -- use rewrote the current line, and nothing else.
      assert.matches("^current = b\n%[a%]\n", helpers.read_file(dir .. "/connectstatus/config"))
    end)
  end)

  describe("connectstatus fake", function()
    it("serves until interrupted, and its export lines point the CLI at it", function()
      local port = helpers.free_port()
      local envfile = os.tmpname()
      local shell = ("%s > %s 2>/dev/null & pid=$!; sleep 1; . %s; %s bin/connectstatus list --names; " ..
        "kill -INT $pid; wait $pid; echo \"fake:$?\""):format(cli_run.command(("fake --port %d"):format(port), {}),
        quote(envfile), quote(envfile), helpers.env_cmd() .. helpers.lua_bin())
      local out = helpers.shell(shell)
      local exports = helpers.read_file(envfile)
      os.remove(envfile)
      assert.equal("datagen-orders\norders-sink\npg-cdc\ns3-archive\nfake:130\n", out)
      assert.matches("export CONNECTSTATUS_BASE_URL=http://127.0.0.1:" .. port, exports, 1, true)
      assert.matches("export CONFLUENT_ENVIRONMENT_ID=env-demo", exports, 1, true)
    end)

    it("refuses a bad port or scenario", function()
      assert.equal(2, (run("fake --port 70000")))
      local code, _, err = run("fake --scenario dmeo")
      assert.equal(2, code)
      assert.matches("did you mean 'demo'?", err, 1, true)
    end)
  end)

  describe("completion and man page", function()
    local function complete(line)
      return cli_run.complete_bash(line, env)
    end

    it("bash completes commands, flags, formats and states", function()
      assert.equal("wait\nwait-offsets\nwait-input\nwait-completion\n", complete("connectstatus wai"))
      assert.equal("--state\n", complete("connectstatus wait x --sta"))
      assert.equal("json\njsonl\n", complete("connectstatus -o js"))
      assert.equal("PAUSED\nPROVISIONING\n", complete("connectstatus wait x --state P"))
    end)

    it("bash completes live connector names from the API", function()
      assert.equal("pg-cdc\n", complete("connectstatus status pg"))
      assert.equal("orders-sink\n", complete("connectstatus --json wait o"))
    end)

    it("zsh's completion offers the same words", function()
      -- compadd is stubbed to print what it is given (zsh filters by prefix itself).
      local function zsh(line, prefix)
        local script = ("compadd() { shift; print -l -- ${(P)1}; }; connectstatus() { %s \"$@\"; }; " ..
          "words=(%s); CURRENT=${#words}; PREFIX=%s; source completions/_connectstatus") -- it runs itself
          :format(cli_run.command("", env), line, prefix)
        return (helpers.shell("zsh -f -c " .. quote(script) .. " 2>&1"))
      end
      assert.matches("\nwait%-offsets\n", zsh("connectstatus wai", "wai"))
      assert.equal("datagen-orders\norders-sink\npg-cdc\ns3-archive\n", zsh("connectstatus status pg", "pg"))
      assert.equal("table\njson\njsonl\nprometheus\n", zsh("connectstatus -o j", "j"))
      assert.matches("\n%-%-min%-connectors\n", zsh("connectstatus health --mi", "--mi"))
    end)

    it("the man page is made from the help texts", function()
      local page = require("connectstatus.cli").man_page()
      assert.matches("^%.TH CONNECTSTATUS 1", page)
      for _, command in ipairs { "status", "health", "check", "context", "fake", "wait%-offsets" } do
        assert.matches("\n%.SS " .. command .. "\n", page)
      end
      assert.matches("--min-connectors N", page, 1, true)
      local rendered = helpers.shell("printf '%s' " .. quote(page) .. " | MANWIDTH=100 man -l - 2>/dev/null")
      assert.matches("Usage: connectstatus %[FLAGS%] COMMAND", rendered)
      assert.matches("%-%-ignore%-state LIST", rendered)
    end)
  end)

  describe("make install", function()
    it("gives a command that runs under the interpreter it was built for, whatever lua is on PATH", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.remove_tree(dir) end)
      local version = rawget(_G, "jit") and "jit" or _VERSION:match("%d+%.%d+")
      local out, code = helpers.shell(("make -s install LUA_VERSION=%s PREFIX=%s/prefix 2>&1"):format(version,
        quote(dir)))
      assert.equal(0, code, out)
      -- A PATH whose `lua` is another version (5.1 when this is not 5.1, else 5.4).
      local other = _VERSION == "Lua 5.1" and not rawget(_G, "jit") and "lua5.4" or "lua5.1"
      os.execute(("mkdir -p %s/bin && ln -s \"$(command -v %s)\" %s/bin/lua"):format(quote(dir), other, quote(dir)))
      local path = dir .. "/bin:" .. dir .. "/prefix/bin:/usr/bin:/bin"
      local function installed(args)
        local parts = { "env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_3",
          "-u LUA_CPATH_5_3", "PATH=" .. quote(path) }
        for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. quote(v) end
        return helpers.shell(table.concat(parts, " ") .. " connectstatus " .. args .. " 2>&1")
      end
      local v, vcode = installed("--version")
      assert.equal(0, vcode, v)
      assert.matches(rawget(_G, "jit") and "LuaJIT" or _VERSION, v, 1, true)
      local listed, lcode = installed("list --names")
      assert.equal(0, lcode, listed)
      assert.equal("datagen-orders\norders-sink\npg-cdc\ns3-archive\n", listed)
      local lua_on_path = helpers.shell(("PATH=%s lua -v 2>&1"):format(quote(path)))
      assert.matches(other == "lua5.1" and "Lua 5.1" or "Lua 5.4", lua_on_path, 1, true)
      assert.truthy(io.open(dir .. "/prefix/share/man/man1/connectstatus.1"))
      assert.truthy(io.open(dir .. "/prefix/share/bash-completion/completions/connectstatus"))
      assert.truthy(io.open(dir .. "/prefix/share/zsh/site-functions/_connectstatus"))
    end)
  end)
end)
