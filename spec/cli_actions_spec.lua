-- bin/connectstatus's actions and Kafka Connect support, run through a pipe (and a pseudo-terminal
-- where the point is a terminal) against the fake API: what the fake received, the exit codes,
-- --dry-run sending nothing, --yes, and several names read at once.
local cs = require "connectstatus"
local helpers = require "helpers"
local cli_run = require "cli_run"

local KEY, SECRET = "ACTKEY0123456789", "act-s3cr3t/+=:never-print-me"
local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"

local quote, run, with = cli_run.quote, cli_run.run, cli_run.with

local function decode(text)
  return cs.json.decode(text)
end

-- What the fake received (control requests are never recorded), of one method or all.
local function sent(fake, method)
  local list = {}
  for _, r in ipairs(fake:requests()) do
    if method == nil or r.method == method then list[#list + 1] = r end
  end
  return list
end

local function no_secret(...)
  for _, text in ipairs { ... } do
    assert.is_nil(text:find(SECRET, 1, true))
    assert.is_nil(text:find(helpers.base64(KEY .. ":" .. SECRET), 1, true))
  end
end

local write_file = helpers.write_file

-- A config folder (for XDG_CONFIG_HOME) holding this connectstatus config; remove it after.
local function config_dir(text)
  local dir = helpers.tmpdir()
  os.execute("mkdir -p " .. quote(dir .. "/connectstatus"))
  write_file(dir .. "/connectstatus/config", text)
  return dir
end

describe("connectstatus CLI actions", function()
  local fake, env, connect

  setup(function()
    -- Basic for Confluent and Kafka Connect, Bearer (the same secret) for Feldera.
    fake = helpers.start_fake { api_key = KEY, api_secret = SECRET, token = SECRET }
    env = {
      CONNECTSTATUS_BASE_URL = fake.url, FELDERA_HOST = fake.url, CONFLUENT_CLOUD_API_KEY = KEY,
      CONFLUENT_CLOUD_API_SECRET = SECRET, CONFLUENT_ENVIRONMENT_ID = "env-demo",
      CONFLUENT_KAFKA_CLUSTER_ID = "lkc-demo", FELDERA_API_KEY = SECRET,
    }
    connect = with(env, { CONNECT_URL = fake.url, CONNECT_USER = KEY, CONNECT_PASSWORD = SECRET })
  end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  describe("Kafka Connect", function()
    it("talks to the worker of $CONNECT_URL with $CONNECT_USER and $CONNECT_PASSWORD", function()
      local code, out, err = run("list", connect)
      assert.equal(0, code, err)
      assert.matches("NAME%s+TYPE%s+STATE%s+TASKS\n", out)
      assert.matches("inventory%-source%s+source%s+RUNNING%s+1/2\n", out)
      assert.matches("audit%-sink%s+sink%s+PAUSED%s+0/1\n", out)
      local records = sent(fake)
      assert.equal("/connectors?expand=status", records[#records].target)
      assert.equal("Basic " .. helpers.base64(KEY .. ":" .. SECRET), records[#records].headers.authorization)
      no_secret(out, err)
    end)

    it("takes --connect-url and --connect-user as flags, and a worker's answers for status, tasks, health", function()
      local flags = "--connect-url " .. fake.url .. " --connect-user " .. KEY
      local base = with(env, { CONNECT_PASSWORD = SECRET })
      local code, out = run("status inventory-source " .. flags, base)
      assert.equal(0, code)
      assert.matches("inventory%-source%s+source%s+RUNNING%s+%S+%s+degraded", out)
      code, out = run("tasks search-sink -o json " .. flags, base)
      assert.equal(0, code)
      assert.equal(2, #decode(out))
      code, out = run("health -o json " .. flags, base)
      assert.equal(1, code) -- inventory-source's FAILED task, audit-sink PAUSED
      assert.equal(3, decode(out).total)
      for _, r in ipairs(sent(fake)) do assert.is_nil(r.target:find("^/connect/v1")) end
    end)

    it("reads a context's connect_url, connect_user and connect_password_env", function()
      local dir = config_dir(("current = kc\n[kc]\nconnect_url = %s\nconnect_user = %s\n" ..
        "connect_password_env = KC_PASSWORD\n"):format(fake.url, KEY))
      local code, out, err = run("status search-sink -o json", { XDG_CONFIG_HOME = dir, KC_PASSWORD = SECRET })
      helpers.remove_tree(dir)
      assert.equal(0, code, err)
      assert.equal("RUNNING", decode(out).connector.state)
      no_secret(out, err)
    end)

    it("lets a context named by --context choose the API, whatever $CONNECT_URL says", function()
      local dir = config_dir(("[cloud]\nbase_url = %s\nenvironment = env-demo\n" ..
        "cluster = lkc-demo\napi_key = %s\napi_secret_env = CLOUD_SECRET\n"):format(fake.url, KEY))
      local code, out, err = run("--context cloud pause pg-cdc", with(connect, { XDG_CONFIG_HOME = dir,
        CLOUD_SECRET = SECRET }))
      helpers.remove_tree(dir)
      assert.equal(0, code, err)
      assert.equal("pause pg-cdc: done\n", out)
      assert.equal(PREFIX .. "/pg-cdc/pause", sent(fake, "PUT")[1].target)
    end)

    it("is a usage error with a user and no password, or a password and no user, sending nothing", function()
      local code, _, err = run("status search-sink", with(connect, { CONNECT_PASSWORD = false }))
      assert.equal(2, code)
      assert.matches("%-%-connect%-user needs a password: set CONNECT_PASSWORD", err)
      code, _, err = run("status search-sink", with(connect, { CONNECT_USER = false }))
      assert.equal(2, code)
      assert.matches("CONNECT_PASSWORD needs a user", err)
      assert.equal(0, #sent(fake))
    end)

    it("exits 4 on a wrong password without printing it", function()
      local code, out, err = run("status search-sink --json", with(connect, { CONNECT_PASSWORD = "wrong-pass" }))
      assert.equal(4, code)
      assert.equal("unauthorized", decode(out).error.kind)
      assert.is_nil((out .. err):find("wrong-pass", 1, true))
    end)

    it("restarts the failed tasks and waits until everything is RUNNING", function()
      local code, out, err = run("restart inventory-source --failed-only --wait --interval 0.05", connect)
      assert.equal(0, code, err)
      assert.matches("1%s+RUNNING", out)
      local posts = sent(fake, "POST")
      assert.equal(1, #posts)
      assert.equal("/connectors/inventory-source/restart?includeTasks=true&onlyFailed=true", posts[1].target)
      assert.matches("RESTARTING", err) -- the progress line saw the restart under way
    end)

    it("restarts one task with --task and waits for that task", function()
      local code, out, err = run("restart inventory-source --task 1 --wait --interval 0.05 --json", connect)
      assert.equal(0, code, err)
      local posts = sent(fake, "POST")
      assert.equal(1, #posts)
      assert.equal("/connectors/inventory-source/tasks/1/restart", posts[1].target)
      assert.equal("RUNNING", decode(out).tasks[2].state)
      for _, bad in ipairs { "--task x", "--task -1", "--task 1.5", "--task 1 --failed-only", "--task" } do
        code, _, err = run("restart inventory-source " .. bad, connect)
        assert.equal(2, code, bad)
        assert.matches("%-%-task", err, 1, false)
      end
      assert.equal(1, #sent(fake, "POST"))
    end)

    it("restarts without flags (204) and prints that it is done", function()
      local code, out = run("restart search-sink", connect)
      assert.equal(0, code)
      assert.equal("restart search-sink: done\n", out)
      assert.equal("/connectors/search-sink/restart", sent(fake, "POST")[1].target)
      code, out = run("restart search-sink --include-tasks --json", connect)
      assert.equal(0, code)
      assert.equal("search-sink", decode(out).name) -- the 202 status body
      assert.equal("/connectors/search-sink/restart?includeTasks=true", sent(fake, "POST")[2].target)
    end)

    it("pauses, resumes and stops with --wait, and reads and changes the offsets", function()
      local code, out = run("pause search-sink --wait --interval 0.05 --json", connect)
      assert.equal(0, code)
      assert.equal("PAUSED", decode(out).tasks[2].state)
      code, out = run("resume search-sink --wait --interval 0.05 --json", connect)
      assert.equal(0, code)
      assert.equal("RUNNING", decode(out).connector.state)
      code = run("alter-offsets search-sink - --json", connect, " <<'EOF'\n{\"offsets\": []}\nEOF")
      assert.equal(2, code) -- an empty list, refused before anything is sent
      code, out = run("stop search-sink --wait --interval 0.05 --json", connect)
      assert.equal(0, code)
      assert.equal("STOPPED", decode(out).connector.state)
      code, out = run("offsets search-sink --json", connect)
      assert.equal(0, code)
      local doc = decode(out)
      doc.offsets[1].offset.kafka_offset = 7
      local file = os.tmpname()
      write_file(file, cs.json.encode(doc))
      code, out = run("alter-offsets search-sink " .. quote(file) .. " --wait --json", connect)
      os.remove(file)
      assert.equal(0, code)
      assert.equal(7, decode(out).offsets[1].offset.kafka_offset) -- read back after the change
      local patch = sent(fake, "PATCH")[1]
      assert.equal("/connectors/search-sink/offsets", patch.target)
      assert.equal(7, decode(patch.body).offsets[1].offset.kafka_offset)
      code, out = run("reset-offsets search-sink --yes --json", connect)
      assert.equal(0, code)
      assert.matches("reset", decode(out).message)
      code, out = run("offsets search-sink", connect)
      assert.equal(0, code)
      assert.equal("PARTITION  OFFSET\n", out)
    end)

    it("says what Connect says when offsets change while the connector runs (exit 4)", function()
      local code, _, err = run("reset-offsets search-sink --yes", connect)
      assert.equal(4, code)
      assert.matches("must be STOPPED", err)
    end)

    it("keeps the commands of one API to that API (exit 2, nothing sent)", function()
      for _, case in ipairs {
        { "restart s3-archive", env, "restart is for Kafka Connect: give %-%-connect%-url" },
        { "stop s3-archive", env, "stop is for Kafka Connect" },
        { "offsets-status search-sink", connect, "offsets%-status is for Confluent Cloud" },
        { "wait-offsets search-sink", connect, "wait%-offsets is for Confluent Cloud" },
        { "list --expand id", connect, "%-%-expand takes info and status on Kafka Connect" },
      } do
        local code, _, err = run(case[1], case[2])
        assert.equal(2, code, case[1])
        assert.matches(case[3], err)
      end
      assert.equal(0, #sent(fake))
    end)

    it("waits on the worker's connectors: RUNNING (exit 0), a PAUSED one times out (exit 3)", function()
      local code, _, err = run("wait search-sink inventory-source --no-tasks --interval 0.05", connect)
      assert.equal(0, code, err)
      code = run("wait audit-sink --timeout 0.3 --interval 0.05", connect)
      assert.equal(3, code)
      for _, r in ipairs(sent(fake)) do assert.matches("^/connectors/", r.target) end
    end)

    it("names the Connect flag when the URL is bad", function()
      local code, _, err = run("status x", with(connect, { CONNECT_URL = "ftp://127.0.0.1/" }))
      assert.equal(2, code)
      assert.matches("%-%-connect%-url", err)
    end)
  end)

  describe("Confluent Cloud actions", function()
    it("pauses (202: done) and, with --wait, waits for PAUSED", function()
      local code, out = run("pause pg-cdc --json", env)
      assert.equal(0, code)
      assert.same({ ok = true }, decode(out))
      assert.equal(PREFIX .. "/pg-cdc/pause", sent(fake, "PUT")[1].target)
      code, out = run("resume pg-cdc --wait --interval 0.05", env)
      assert.equal(0, code)
      assert.matches("pg%-cdc%s+source%s+RUNNING", out)
      code, out = run("pause pg-cdc --wait --interval 0.05 --json", env)
      assert.equal(0, code)
      assert.equal("PAUSED", decode(out).tasks[1].state)
    end)

    it("reads the current offsets of several connectors", function()
      local code, out = run("offsets pg-cdc datagen-orders", env)
      assert.equal(0, code)
      assert.matches("^PARTITION%s+OFFSET\n", out)
      assert.matches("observed_at: ", out)
      code, out = run("offsets pg-cdc --json", env)
      assert.equal(0, code)
      assert.equal("table", type(decode(out).offsets))
      assert.equal(PREFIX .. "/pg-cdc/offsets", sent(fake)[3].target)
    end)

    it("alters offsets from stdin and waits for that request to be APPLIED", function()
      local body = '{"offsets": [{"partition": {"server": "pg"}, "offset": {"lsn": 42}}]}'
      local code, out, err = run("alter-offsets pg-cdc - --wait --interval 0.05 --json", env,
        " <<'EOF'\n" .. body .. "\nEOF")
      assert.equal(0, code, err)
      local doc = decode(out)
      assert.equal("APPLIED", doc.status.phase)
      local post = sent(fake, "POST")[1]
      assert.equal(PREFIX .. "/pg-cdc/offsets/request", post.target)
      assert.same({ type = "PATCH", offsets = { { partition = { server = "pg" }, offset = { lsn = 42 } } } },
        decode(post.body))
    end)

    it("exits 1 when the request FAILED and 3 when the wait times out", function()
      fake:set { connector = "pg-cdc", offsets_outcome = "FAILED" }
      local code, out = run("reset-offsets pg-cdc --yes --wait --interval 0.05 --json", env)
      assert.equal(1, code)
      assert.equal("failed", decode(out).error.kind)
      fake:reset()
      fake:set { connector = "pg-cdc", offsets_lag = 100 }
      code, out = run("reset-offsets pg-cdc --yes --wait --interval 0.05 --timeout 0.4 --json", env)
      assert.equal(3, code)
      assert.equal("timeout", decode(out).error.kind)
    end)

    it("refuses a malformed offsets file before anything is sent (exit 2)", function()
      local file = os.tmpname()
      for _, text in ipairs { "not json", "[1, 2]", '{"offsets": [{"partition": 1}]}',
        '{"type": "DELETE", "offsets": [{"partition": {"a": 1}, "offset": {"b": 2}}]}' } do
        write_file(file, text)
        local code, out, err = run("alter-offsets pg-cdc " .. quote(file) .. " --json", env)
        assert.equal(2, code, text)
        assert.equal("usage", decode(out).error.kind)
        assert.matches("alter%-offsets", err)
      end
      local code = run("alter-offsets pg-cdc /nonexistent/offsets.json", env)
      assert.equal(2, code)
      os.remove(file)
      assert.equal(0, #sent(fake))
    end)

    it("resets offsets in a pipe only with --yes (exit 2 and nothing sent without)", function()
      local code, out, err = run("reset-offsets pg-cdc --json", env)
      assert.equal(2, code)
      assert.matches("give %-%-yes", err)
      assert.equal("usage", decode(out).error.kind)
      assert.equal(0, #sent(fake))
      code, out = run("reset-offsets pg-cdc --yes --json", env)
      assert.equal(0, code)
      assert.equal("DELETE", decode(out).type)
      assert.same({ type = "DELETE" }, decode(sent(fake, "POST")[1].body))
    end)

    it("asks on a terminal, and sends only on yes", function()
      local code, out = cli_run.run_pty("reset-offsets pg-cdc", env, 10, nil, "n\n")
      assert.equal(1, code)
      assert.matches("Reset every offset of connector pg%-cdc on env%-demo/lkc%-demo%? %[y/N%]", out)
      assert.matches("not confirmed; nothing sent", out)
      assert.equal(0, #sent(fake))
      code, out = cli_run.run_pty("reset-offsets pg-cdc", env, 10, nil, "y\n")
      assert.equal(0, code, out)
      assert.matches("DELETE", out)
      assert.equal(1, #sent(fake, "POST"))
    end)
  end)

  describe("--dry-run", function()
    it("prints the exact request, never a credential, and sends nothing", function()
      local file = os.tmpname()
      write_file(file, '{"offsets": [{"partition": {"server": "pg"}, "offset": {"lsn": 42}}]}')
      local cases = {
        { "pause pg-cdc --wait", env, "PUT " .. fake.url .. PREFIX .. "/pg-cdc/pause\n" },
        { "alter-offsets pg-cdc " .. quote(file), env, "POST " .. fake.url .. PREFIX .. "/pg-cdc/offsets/request\n" ..
          '{"offsets":[{"offset":{"lsn":42},"partition":{"server":"pg"}}],"type":"PATCH"}\n' },
        { "reset-offsets pg-cdc", env,
          "POST " .. fake.url .. PREFIX .. '/pg-cdc/offsets/request\n{"type":"DELETE"}\n' },
        { "restart inventory-source --failed-only", connect,
          "POST " .. fake.url .. "/connectors/inventory-source/restart?includeTasks=true&onlyFailed=true\n" },
        { "restart inventory-source --task 1", connect,
          "POST " .. fake.url .. "/connectors/inventory-source/tasks/1/restart\n" },
        { "stop search-sink", connect, "PUT " .. fake.url .. "/connectors/search-sink/stop\n" },
        { "reset-offsets search-sink", connect, "DELETE " .. fake.url .. "/connectors/search-sink/offsets\n" },
        { "pause-input demo-pipeline orders backfill", env,
          "POST " .. fake.url .. "/v0/pipelines/demo-pipeline/tables/orders/connectors/backfill/pause\n" },
      }
      for _, case in ipairs(cases) do
        local code, out, err = run(case[1] .. " --dry-run", case[2])
        assert.equal(0, code, case[1] .. ": " .. err)
        -- The body as the library encodes it (key order may differ): compare decoded.
        local line, body = out:match("^([^\n]*\n)(.*)$")
        local want_line, want_body = case[3]:match("^([^\n]*\n)(.*)$")
        assert.equal(want_line, line)
        if want_body ~= "" then assert.same(decode(want_body), decode(body)) else assert.equal("", body) end
        assert.matches("dry run: nothing sent", err)
        no_secret(out, err)
      end
      local code, out = run("alter-offsets pg-cdc " .. quote(file) .. " --dry-run --json", env)
      os.remove(file)
      assert.equal(0, code)
      assert.same({ dry_run = true, method = "POST", url = fake.url .. PREFIX .. "/pg-cdc/offsets/request",
        body = { type = "PATCH", offsets = { { partition = { server = "pg" }, offset = { lsn = 42 } } } } },
        decode(out))
      assert.equal(0, #sent(fake))
    end)
  end)

  describe("Feldera", function()
    it("reads output and pipeline stats", function()
      local code, out = run("feldera-output-stats demo-pipeline order_totals kafka_out --json", env)
      assert.equal(0, code)
      assert.equal(1200, decode(out).metrics.transmitted_records)
      code, out = run("pipeline-stats demo-pipeline", env)
      assert.equal(0, code)
      assert.matches("^health: healthy\n", out)
      assert.matches("orders%.backfill%s+input%s+", out)
      assert.matches("order_totals%.kafka_out%s+output%s+1500", out)
      code, out = run("pipeline-stats demo-pipeline -o json", env)
      assert.equal(0, code)
      assert.equal("Running", decode(out).global_metrics.state)
      assert.equal("/v0/pipelines/demo-pipeline/stats", sent(fake)[3].target)
    end)

    it("pauses and starts an input connector", function()
      local code, out = run("pause-input demo-pipeline orders backfill", env)
      assert.equal(0, code)
      assert.equal("pause-input demo-pipeline/orders/backfill: done\n", out)
      code, out = run("feldera-stats demo-pipeline orders backfill --json", env)
      assert.equal(0, code)
      assert.is_true(decode(out).paused)
      code, out = run("start-input demo-pipeline orders backfill --json", env)
      assert.equal(0, code)
      assert.same({ ok = true }, decode(out))
      local posts = sent(fake, "POST")
      assert.equal("/v0/pipelines/demo-pipeline/tables/orders/connectors/backfill/pause", posts[1].target)
      assert.equal("/v0/pipelines/demo-pipeline/tables/orders/connectors/backfill/start", posts[2].target)
    end)

    it("waits for completion of what the connector had ingested", function()
      local code, out, err = run("wait-completion demo-pipeline orders backfill --interval 0.05 --json", env)
      assert.equal(0, code, err)
      assert.equal("complete", decode(out).status)
      assert.matches("completion inprogress", err)
      local records = sent(fake)
      assert.matches("/completion_token$", records[1].target)
      assert.matches("^/v0/pipelines/demo%-pipeline/completion_status%?token=", records[#records].target)
      fake:script { method = "GET", path = "/v0/pipelines/demo-pipeline/tables/orders/connectors/backfill/" ..
        "completion_token", responses = { { status = 404, json = { message = "no such endpoint" } } } }
      code = run("wait-completion demo-pipeline orders backfill --interval 0.05", env)
      assert.equal(4, code)
    end)
  end)

  describe("several names", function()
    -- Each status held back so that the first name answers last.
    local function slow_statuses(names, base_path)
      for i, name in ipairs(names) do
        fake:script { method = "GET", path = base_path .. "/" .. name .. "/status", responses = {
          { status = 200, delay = 0.8 - 0.2 * i, json = { name = name, type = "sink",
            connector = { state = "RUNNING", worker_id = "w" }, tasks = { { id = 0, state = "RUNNING" } } } } } }
      end
    end

    local function most_in_flight()
      local most = 0
      for _, r in ipairs(sent(fake)) do most = math.max(most, r.in_flight) end
      return most
    end

    it("are read at once, printed in the order given", function()
      local names = { "a-sink", "b-sink", "c-sink" }
      slow_statuses(names, PREFIX)
      local code, out = run("status a-sink b-sink c-sink -o jsonl", env)
      assert.equal(0, code)
      assert.equal(3, most_in_flight())
      local order = {}
      for line in out:gmatch("[^\n]+") do order[#order + 1] = decode(line).name end
      assert.same(names, order)
    end)

    it("are read at once for check, wait and Kafka Connect's status", function()
      local cases = { { "check", env, PREFIX }, { "wait", env, PREFIX }, { "status", connect, "/connectors" } }
      for _, case in ipairs(cases) do
        fake:reset()
        slow_statuses({ "a-sink", "b-sink", "c-sink" }, case[3])
        local code, out = run(case[1] .. " a-sink b-sink c-sink --interval 0.05", case[2])
        assert.equal(0, code, case[1] .. ": " .. out)
        assert.equal(3, most_in_flight(), case[1])
      end
    end)

    it("keep a failed one's error in its place", function()
      slow_statuses({ "a-sink", "c-sink" }, PREFIX)
      local code, out, err = run("status a-sink missing c-sink --json", env)
      assert.equal(4, code)
      local doc = decode(out)
      assert.equal("RUNNING", doc["a-sink"].connector.state)
      assert.equal("not_found", doc.missing.error.kind)
      assert.equal("RUNNING", doc["c-sink"].connector.state)
      assert.matches("not_found", err)
    end)
  end)

  describe("usage", function()
    it("gives each new command a help text", function()
      for _, command in ipairs { "offsets", "feldera-output-stats", "pipeline-stats", "wait-completion", "pause",
        "resume", "restart", "stop", "alter-offsets", "reset-offsets", "pause-input", "start-input" } do
        local code, out = run(command .. " --help")
        assert.equal(0, code)
        assert.matches("^Usage: connectstatus " .. command:gsub("%-", "%%-"), out)
      end
    end)

    it("completes the new commands and flags in bash, and the man page has them", function()
      local function complete(line)
        return cli_run.complete_bash(line, env)
      end
      assert.equal("resume\nrestart\nreset-offsets\n", complete("connectstatus res"))
      assert.equal("--failed-grace\n--failed-only\n", complete("connectstatus restart x --fa"))
      assert.equal("--connect-url\n--connect-user\n",
        complete("connectstatus --connect-url u --connect-user k status --conn"))
      assert.equal("pg-cdc\n", complete("connectstatus pause pg"))
      local page = require("connectstatus.cli").man_page()
      for _, command in ipairs { "pause", "restart", "alter%-offsets", "reset%-offsets", "wait%-completion" } do
        assert.matches("\n%.SS " .. command .. "\n", page)
      end
    end)

    it("says which commands take --wait, --yes and --dry-run", function()
      local code, _, err = run("pause-input p t c --wait", env)
      assert.equal(2, code)
      assert.matches("unknown flag %-%-wait for pause%-input %(pause, resume, restart", err)
      code, _, err = run("pause x --yes", env)
      assert.equal(2, code)
      assert.matches("reset%-offsets takes it", err)
      code, _, err = run("status x --dry-run", env)
      assert.equal(2, code)
      assert.matches("unknown flag %-%-dry%-run for status", err)
      assert.equal(0, #sent(fake))
    end)
  end)
end)
