-- The public API inside a real nginx (issue 11): the transport picks the cosocket driver by phase, so
-- the same client calls as anywhere else leave the worker free; checked by what nginx and the fake API
-- observed, in order.
local helpers = require "helpers"
local nginx = require "nginx_helpers"
local core = require "connectstatus.core"

local STATUS = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors/orders-sink/status"

local function escape(s)
  return (s:gsub("[^%w%-._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

describe("the client inside a real nginx", function()
  local server, fake, other

  local function state()
    return assert(core.json_decode(select(2, nginx.request(server, "/state"))))
  end

  lazy_setup(function()
    fake = helpers.start_fake { api_key = "k", api_secret = "s" }
    other = helpers.start_fake()
    server = nginx.start {
      http = ("    init_worker_by_lua_block { require('cs_app').init_worker(%q) }\n"):format(fake.url),
      server = ([[
        location = /client { content_by_lua_block { require("cs_app").client() } }
        location = /ping { content_by_lua_block { require("cs_app").ping() } }
        location = /state { content_by_lua_block { require("cs_app").state() } }
        location = /logged {
            content_by_lua_block { ngx.print("ok") }
            log_by_lua_block { require("cs_app").read_in_phase("log", %q) }
        }
        location = /cafile {
            content_by_lua_block {
                local ok, err = pcall(require("connectstatus").confluent, { api_key = "k", api_secret = "s",
                    environment = "e", cluster = "c", base_url = "https://api.example.invalid", cafile = "/x" })
                ngx.print(tostring(err))
            }
        }
]]):format(fake.url),
    }
    -- The worker's timer reads orders-sink once at start, and the specs count that status's reads:
    -- on a slow machine that read could land inside one of them.
    nginx.wait_until("the timer's read at start", function() return state().phases.timer_read ~= nil end)
  end)

  lazy_teardown(function()
    if server then server.stop() end
    if fake then fake:stop() end
    if other then other:stop() end
  end)

  before_each(function()
    fake:reset()
    other:reset()
    nginx.request(server, "/state", "")
  end)

  local function client(op, name, label)
    local status, body = nginx.request(server, ("/client?base=%s&op=%s&name=%s&label=%s"):format(escape(fake.url), op,
      name, label or op))
    assert.equal(200, status, body)
    return assert(core.json_decode(body))
  end

  local function order()
    local seen = {}
    for _, e in ipairs(state().events) do seen[#seen + 1] = e.label .. " " .. e.what end
    return table.concat(seen, ", ")
  end

  -- Starts a /client call in the background; returns the file its answer lands in.
  local function background(op, name, label)
    return nginx.background(server, ("/client?base=%s&op=%s&name=%s&label=%s"):format(escape(fake.url), op, name,
      label))
  end

  it("reads a status", function()
    local r = client("status", "orders-sink")
    assert.equal("orders-sink", r.value.name)
  end)

  it("answers another request while cc:status waits on a 1 s answer", function()
    fake:script { path = STATUS, responses = { { delay = 1, json = { name = "orders-sink", connector = {
      state = "RUNNING" }, tasks = {} } } } }
    local out = background("status", "orders-sink", "slow")
    nginx.wait_until("the slow read reaching the fake", function() return helpers.count_requests(fake, STATUS) == 1 end)
    assert.equal(200, (nginx.request(server, "/ping")))
    nginx.wait_until("the slow answer", function() return helpers.read_file(out) ~= "" end)
    os.remove(out)
    assert.equal("slow start, ping end, slow end", order())
  end)

  it("retries a 503 and returns the answer", function()
    fake:script { path = STATUS, responses = { { status = 503, json = { error = { code = 503, message = "busy" } } } } }
    local r = client("status", "orders-sink")
    assert.equal("orders-sink", r.value.name)
    assert.equal(2, helpers.count_requests(fake, STATUS))
  end)

  it("follows a same-origin redirect and refuses one to another origin, which receives nothing", function()
    fake:script { path = STATUS, responses = { { status = 307, redirect = fake.url .. STATUS .. "?again=1" } } }
    assert.equal("orders-sink", client("status", "orders-sink").value.name)
    assert.equal(STATUS .. "?again=1", fake:requests()[2].target)
    fake:reset()
    fake:script { path = STATUS, responses = { { status = 302, redirect = other.url .. STATUS } } }
    local r = client("status", "orders-sink")
    assert.equal("http", r.kind)
    assert.matches("not followed", r.error, 1, true)
    assert.equal(0, helpers.count_requests(other))
  end)

  it("wait_for_state sleeps with ngx.sleep: the worker answers during the wait", function()
    local running = { connector = { state = "RUNNING" }, tasks = { { id = 0, state = "RUNNING" } } }
    fake:set { connector = "orders-sink", states = { "PROVISIONING", "PROVISIONING", running } }
    local out = background("wait", "orders-sink", "wait")
    nginx.wait_until("the first poll", function() return helpers.count_requests(fake, STATUS) >= 1 end)
    assert.equal(200, (nginx.request(server, "/ping")))
    nginx.wait_until("the wait's end", function() return helpers.read_file(out) ~= "" end)
    local r = assert(core.json_decode(helpers.read_file(out)))
    os.remove(out)
    assert.equal("RUNNING", r.value.connector.state, tostring(r.error))
    assert.equal("wait start, ping end, wait end", order())
  end)

  it("blocks with libcurl in init_worker, uses cosockets in a timer, refuses the log phase", function()
    assert.equal(200, (nginx.request(server, "/logged")))
    local p = state().phases
    assert.equal("PROVISIONING", p.init_worker_read)
    assert.is_string(p.timer_read)
    assert.is_nil(p.timer_read:find("raised", 1, true), p.timer_read)
    assert.matches("cosockets are disabled in nginx's log phase", p.log_read, 1, true)
    assert.matches("ngx.timer.at", p.log_read, 1, true)
  end)

  it("refuses cafile at construction inside nginx", function()
    local _, body = nginx.request(server, "/cafile")
    assert.matches("option 'cafile' is not supported inside nginx", body, 1, true)
    assert.matches("lua_ssl_trusted_certificate", body, 1, true)
  end)
end)
