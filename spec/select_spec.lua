-- `select` on client reads: the C decoder builds only the selected members, whichever driver
-- fetched the body (blocking libcurl, the loop; nginx is checked in spec/nginx/).
local cs = require "connectstatus"
local helpers = require "helpers"

local fake

local function client(extra)
  return helpers.confluent(fake.url, extra)
end

describe("select on reads", function()
  local prune = require("json_prune").prune
  local PATHS = { "*.status.connector.state", "*.status.tasks.*.state", "*.info.type", "*.nothing.here" }

  setup(function() fake = helpers.start_fake() end)
  teardown(function() fake:stop() end)

  it("decodes only the selected members, the same through every driver", function()
    local cc = client()
    local full = assert(cc:list { expand = { "status", "info" } })
    local want = prune(full, PATHS)
    assert.same(want, assert(cc:list { expand = { "status", "info" }, select = PATHS }))
    local compiled = cs.json.selection(PATHS)
    assert.same(want, assert(cc:list { expand = { "status", "info" }, select = compiled }))
    local values = cs.map({ 1 }, function() return cc:list { expand = { "status", "info" }, select = compiled } end)
    assert.same(want, values[1])
    local looped = client { driver = "loop" }
    assert.same(want, assert(looped:list { expand = { "status", "info" }, select = PATHS }))
    assert.is_nil(want["pg-cdc"].status.connector.trace)
    assert.equal("RUNNING", want["pg-cdc"].status.connector.state)
    looped:close()
    cc:close()
  end)

  it("raises at once, sending nothing, on a bad path", function()
    local cc = client()
    local before = helpers.count_requests(fake)
    assert.has_error(function() cc:status("pg-cdc", { select = { "connector..state" } }) end,
      'select[1] ("connector..state") has an empty segment')
    assert.has_error(function() cc:status("pg-cdc", { select = "connector.state" }) end,
      "call option 'select' must be a table, got string")
    assert.equal(before, helpers.count_requests(fake))
    cc:close()
  end)
end)
