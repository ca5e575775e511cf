-- Secrets: a wrong secret's 401 never shows the secret, its Basic form or a token anywhere a
-- caller or a log could see (errors, tostring, pp, the CLI); a ':' in a secret works; CR, LF and
-- NUL are refused before anything is sent; unsafe base URLs are refused at construction.
-- The client offers no debug log, so there is none to check for "Authorization: <redacted>".
local cs = require "connectstatus"
local pp = require "connectstatus.pp"
local helpers = require "helpers"

local KEY = "SECKEY0123456789"
local RIGHT_SECRET = "right:secret:with/colons+="
local RIGHT_TOKEN = "right-token-eyJhbGciOiJIUzI1NiJ9"
local WRONG_SECRET = "wr0ng-S3CRET/+=:never-shown"
local WRONG_TOKEN = "eyJhbGciOiJIUzI1NiJ9.d3JvbmctdG9rZW4.wrong-sig"
local WRONG_FELDERA = "apikey:wrong-feldera-key-0123456789"

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Every form in which the wrong credentials could leak.
local FORBIDDEN = {
  WRONG_SECRET, helpers.base64(KEY .. ":" .. WRONG_SECRET), helpers.base64(WRONG_SECRET), WRONG_TOKEN,
  WRONG_FELDERA, "wrong-feldera-key", "never-shown",
}

local function assert_clean(text, where)
  for _, secret in ipairs(FORBIDDEN) do
    assert.is_nil(text:find(secret, 1, true), ("%s shows %q:\n%s"):format(where, secret, text))
  end
end

describe("secrets", function()
  local fake

  setup(function()
    fake = helpers.start_fake { api_key = KEY, api_secret = RIGHT_SECRET, token = RIGHT_TOKEN }
  end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  local function confluent(extra)
    local opts = { environment = "env-demo", cluster = "lkc-demo", base_url = fake.url, retry = { attempts = 2 },
      sleep = function() end }
    for k, v in pairs(extra) do opts[k] = v end
    return cs.confluent(opts)
  end

  it("a ':' inside the secret works, and the server sees exactly Basic base64(key:secret)", function()
    local cc = confluent { api_key = KEY, api_secret = RIGHT_SECRET }
    assert.equal("RUNNING", assert(cc:status("pg-cdc")).connector.state)
    assert.equal("Basic " .. helpers.base64(KEY .. ":" .. RIGHT_SECRET), fake:requests()[1].headers.authorization)
    cc:close()
    local bearer = confluent { token = RIGHT_TOKEN }
    assert(bearer:status("pg-cdc"))
    bearer:close()
  end)

  it("a wrong secret or token (401) shows up in no error, tostring, pp output or client field", function()
    local clients = {
      confluent { api_key = KEY, api_secret = WRONG_SECRET },
      confluent { token = WRONG_TOKEN },
      cs.feldera { base_url = fake.url, api_key = WRONG_FELDERA, tenant = "acme", retry = { attempts = 2 } },
    }
    local outputs = {}
    local function add(where, text) outputs[#outputs + 1] = { where, tostring(text) } end
    for i, client in ipairs(clients) do
      local v, err
      if i < 3 then
        v, err = client:status("pg-cdc")
      else
        v, err = client:input_stats("demo-pipeline", "orders", "backfill")
      end
      assert.is_nil(v)
      assert.equal("unauthorized", err.kind)
      assert.equal(1, err.attempts) -- never retried, so sent once
      add("tostring(err)", tostring(err))
      add("concat", "" .. err .. "")
      add("err.message", err.message)
      add("err.url", err.url)
      add("pp(err)", pp.format(err))
      add("pp(client)", pp.format(client))
      add("tostring(client)", tostring(client))
      for k, x in pairs(client) do add("client." .. tostring(k), x) end
      for k, x in pairs(client.transport) do add("transport." .. tostring(k), x) end
      -- What the error a wait returns carries, too.
      local waited, wait_err
      if i < 3 then
        waited, wait_err = client:wait_for_state("pg-cdc", "RUNNING", { timeout = 1, interval = 0.01 })
      else
        waited, wait_err = client:wait_for_end_of_input("demo-pipeline", "orders", "backfill",
          { timeout = 1, interval = 0.01 })
      end
      assert.is_nil(waited)
      add("pp(wait error)", pp.format(wait_err))
      add("tostring(wait error)", tostring(wait_err))
      client:close()
      add("tostring(closed client)", tostring(client))
    end
    for _, o in ipairs(outputs) do assert_clean(o[2], o[1]) end
  end)

  it("the CLI prints no wrong secret, Basic form or token, on stdout or stderr", function()
    local base = { CONNECTSTATUS_BASE_URL = fake.url, FELDERA_HOST = fake.url, CONFLUENT_ENVIRONMENT_ID = "env-demo",
      CONFLUENT_KAFKA_CLUSTER_ID = "lkc-demo" }
    local envs = {
      { CONFLUENT_CLOUD_API_KEY = KEY, CONFLUENT_CLOUD_API_SECRET = WRONG_SECRET },
      { CONFLUENT_CLOUD_TOKEN = WRONG_TOKEN },
      { FELDERA_API_KEY = WRONG_FELDERA },
    }
    local commands = { "status pg-cdc", "status pg-cdc --json", "wait pg-cdc --interval 0.05 --timeout 1",
      "health", "health --json", "list --expand status", "feldera-stats demo-pipeline orders backfill",
      "feldera-stats demo-pipeline orders backfill --json",
      "wait-input demo-pipeline orders backfill --interval 0.05 --timeout 1" }
    local saw_unauthorized = 0
    for _, extra in ipairs(envs) do
      local parts = { helpers.env_cmd(), "env -u CONFLUENT_CLOUD_API_KEY -u CONFLUENT_CLOUD_API_SECRET",
        "-u CONFLUENT_CLOUD_TOKEN -u FELDERA_API_KEY -u FELDERA_TENANT" }
      for _, e in ipairs { base, extra } do
        for k, v in pairs(e) do parts[#parts + 1] = k .. "=" .. quote(v) end
      end
      local prefix = table.concat(parts, " ")
      for _, command in ipairs(commands) do
        local out, code = helpers.shell(prefix .. " " .. helpers.lua_bin() .. " bin/connectstatus " .. command ..
          " 2>&1")
        assert_clean(out, "connectstatus " .. command)
        if out:find("unauthorized", 1, true) then saw_unauthorized = saw_unauthorized + 1 end
        assert.are_not.equal(0, code, out) -- every command meets a wrong or missing credential
      end
    end
    assert.is_true(saw_unauthorized >= 8, "the wrong credentials were not even tried")
  end)

  it("CR, LF or NUL in a key, secret, token or tenant is refused before anything is sent", function()
    for _, bad in ipairs { "\r", "\n", "\0", "\r\nX-Evil: 1" } do
      local value = "SEKRIT" .. bad .. "VALUE"
      local attempts = {
        function() return confluent { api_key = value, api_secret = RIGHT_SECRET } end,
        function() return confluent { api_key = KEY, api_secret = value } end,
        function() return confluent { token = value } end,
        function() return cs.feldera { base_url = fake.url, api_key = value } end,
        function() return cs.feldera { base_url = fake.url, api_key = "apikey:x", tenant = value } end,
        function() return confluent { token = RIGHT_TOKEN, environment = value } end,
        function() return confluent { token = RIGHT_TOKEN, cluster = value } end,
      }
      for i, make in ipairs(attempts) do
        local ok, msg = pcall(make)
        assert.is_false(ok, ("case %d with %q was accepted"):format(i, bad))
        assert.is_nil(tostring(msg):find("SEKRIT", 1, true), "echoed: " .. tostring(msg))
      end
    end
    assert.equal(0, #fake:requests())
  end)

  it("base_url with user:pass@ is refused and never echoed", function()
    local urls = {
      "https://user:hunter2@api.example.com", "https://user:hunter2@api.example.com/path",
      "http://user:hunter2@127.0.0.1:9", "https://:hunter2@api.example.com", "user:hunter2@api.example.com",
      "https://hunter2@api.example.com",
    }
    for _, url in ipairs(urls) do
      for _, make in ipairs {
        function() return confluent { token = RIGHT_TOKEN, base_url = url } end,
        function() return cs.feldera { base_url = url } end,
      } do
        local ok, msg = pcall(make)
        assert.is_false(ok, url .. " was accepted")
        assert.is_nil(tostring(msg):find("hunter2", 1, true), "echoed: " .. tostring(msg))
      end
    end
    -- Nor by the CLI.
    local out, code = helpers.shell(helpers.env_cmd() .. "env CONFLUENT_CLOUD_TOKEN=t " .. helpers.lua_bin() ..
      " bin/connectstatus status x --environment e --cluster c --base-url https://u:hunter2@example.com 2>&1")
    assert.equal(2, code)
    assert.is_nil(out:find("hunter2", 1, true), out)
  end)

  it("plain http with credentials is refused unless the host is loopback or allow_insecure_http is set", function()
    -- Construction only: nothing is ever sent to a host that is not loopback.
    local refused = { "http://api.example.com", "http://127.0.0.1.nip.io", "http://localhost.example.com",
      "http://0.0.0.0:8080", "http://10.0.0.1", "http://[::ffff:127.0.0.1]:80", "HTTP://api.example.com" }
    for _, url in ipairs(refused) do
      assert.has_error(function() confluent { token = "t", base_url = url } end)
      assert.has_error(function() confluent { api_key = "k", api_secret = "s", base_url = url } end)
      assert.has_error(function() cs.feldera { base_url = url, api_key = "apikey:x" } end)
      -- Without credentials there is nothing to protect.
      cs.feldera({ base_url = url }):close()
      confluent({ token = "t", base_url = url, allow_insecure_http = true }):close()
      cs.feldera({ base_url = url, api_key = "apikey:x", allow_insecure_http = true }):close()
    end
    for _, url in ipairs { "http://127.0.0.1:9", "http://127.1.2.3:9", "http://localhost:9", "http://LOCALHOST:9",
      "http://[::1]:9" } do
      confluent({ token = "t", base_url = url }):close()
    end
    for _, url in ipairs { "https://api.example.com", "https://api.example.com:8443/prefix/" } do
      confluent({ token = "t", base_url = url }):close()
    end
  end)
end)
