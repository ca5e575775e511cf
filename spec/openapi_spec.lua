-- The OpenAPI checker (spec/openapi.lua) itself: it finds the right operation, and it reports what
-- is wrong, so that the contract specs built on it can fail.
local cjson = require "cjson"
local helpers = require "helpers"
local openapi = require "openapi"

local PREFIX = "/connect/v1/environments/env-demo/clusters/lkc-demo/connectors"

-- A small document using every keyword the checker covers.
local function toy()
  return openapi.new({
    paths = {
      ["/things/{id}"] = {
        get = { responses = { ["200"] = { content = { ["application/json"] = {
          schema = { ["$ref"] = "#/components/schemas/Thing" } } } },
          default = { description = "anything" } } },
        put = {
          requestBody = { required = true, content = { ["application/json"] = {
            schema = { ["$ref"] = "#/components/schemas/Thing" } } } },
          responses = { ["204"] = { description = "no body" } },
        },
      },
      ["/things/special"] = { get = { responses = { ["200"] = { description = "literal wins" } } } },
    },
    components = { schemas = {
      Thing = {
        type = "object", required = { "id", "kind" }, additionalProperties = false,
        properties = {
          id = { type = "integer", minimum = 0, readOnly = true },
          kind = { type = "string", enum = { "a", "b" } },
          secret = { type = "string", writeOnly = true },
          note = { allOf = { { ["$ref"] = "#/components/schemas/Note" } }, nullable = true },
          tags = { type = "array", items = { type = "string" } },
          shape = { oneOf = { { type = "string" }, { type = "object", required = { "x" } } } },
          either = { anyOf = { { type = "boolean" }, { type = "number" } } },
          extra = { type = "object", additionalProperties = { type = "integer" } },
        },
      },
      Note = { type = "object", required = { "text" }, properties = { text = { type = "string" } } },
    } },
  }, "toy")
end

describe("openapi checker", function()
  it("accepts a value that follows the schema, nulls only where nullable", function()
    local ok, violations = toy():check_response("GET", "/things/1", 200, { id = 1, kind = "a", note = cjson.null,
      tags = { "x" }, shape = { x = 1 }, either = 2, extra = { n = 3 } })
    assert.is_true(ok, table.concat(violations, "\n"))
  end)

  it("reports each kind of violation with a JSON pointer", function()
    local ok, violations = toy():check_response("GET", "/things/1", 200, {
      id = -1.5, kind = "c", secret = "s", note = { text = 5 }, tags = { "x", 7 }, shape = 3, either = "no",
      extra = { n = "x" }, unknown = true,
    })
    assert.is_false(ok)
    local all = table.concat(violations, "\n")
    for _, expected in ipairs {
      "/id: expected integer, got -1.5", '/kind: "c" is not one of the enum values', "/secret: writeOnly property",
      "/note/text: expected string, got 5", "/tags/1: expected string, got 7", "/shape: matches 0 of the 2 oneOf",
      "/either: matches none of the anyOf", "/extra/n: expected integer", "/unknown: property not allowed",
    } do
      assert.truthy(all:find(expected, 1, true), ("%q missing from:\n%s"):format(expected, all))
    end
    local _, missing = toy():check_response("GET", "/things/1", 200,
      { kind = "a", note = cjson.null, tags = cjson.null })
    assert.same({ "/: missing required property id", "/tags: null where the schema is not nullable" },
      (function() table.sort(missing) return missing end)())
  end)

  it("checks requests: readOnly refused, required body, no body where none is documented", function()
    local doc = toy()
    local ok, violations = doc:check_request("PUT", "/things/1", { id = 1, kind = "b" })
    assert.is_false(ok)
    assert.same({ "/id: readOnly property in a request" }, violations)
    assert.is_true((doc:check_request("PUT", "/things/1", { kind = "b" })))
    assert.is_false((doc:check_request("PUT", "/things/1", nil)))
    assert.is_false((doc:check_request("GET", "/things/1", { kind = "b" })))
  end)

  it("checks path and query parameters by their schemas", function()
    local kc = openapi.load("kafka_connect")
    assert.is_true((kc:check_request("POST", "/connectors/c/restart?includeTasks=true&onlyFailed=false")))
    local ok, violations = kc:check_request("POST", "/connectors/c/restart?includeTasks=yes")
    assert.is_false(ok)
    assert.same({ 'query parameter includeTasks: not a boolean: "yes"' }, violations)
    assert.is_false((kc:check_request("GET", "/connectors/c/tasks/one/status")))
    assert.is_true((kc:check_request("GET", "/connectors/c/tasks/1/status")))
    local fd = openapi.load("feldera")
    assert.same({ "query parameter token: missing" },
      select(2, fd:check_request("GET", "/v0/pipelines/p/completion_status")))
    assert.is_true((fd:check_request("GET", "/v0/pipelines/p/completion_status?token=a%2Bb")))
    local cc = openapi.load("confluent")
    assert.is_true((cc:check_request("GET", PREFIX .. "?expand=id,status&expand=info")))
    assert.same({ 'query parameter expand: "everything" is not one of the enum values' },
      select(2, cc:check_request("GET", PREFIX .. "?expand=id,everything")))
  end)

  it("matches statuses exactly, then default; bodies only where documented", function()
    local doc = toy()
    assert.is_true((doc:check_response("PUT", "/things/1", 204, nil)))
    assert.is_false((doc:check_response("PUT", "/things/1", 204, { kind = "a" })))
    assert.is_false((doc:check_response("PUT", "/things/1", 500, nil)))
    assert.is_true((doc:check_response("GET", "/things/1", 503, nil)))
    assert.is_false((doc:check_response("GET", "/things/1", 200, nil)))
    assert.is_false((doc:check_response("DELETE", "/things/1", 200, nil)))
  end)

  it("finds operations: literal segments beat templates, query templates need their parameter", function()
    local doc = toy()
    assert.equal("/things/special", select(2, doc:operation("GET", "/things/special")))
    assert.equal("/things/{id}", select(2, doc:operation("GET", "/things/a%2Fb?x=1")))
    assert.is_nil(doc:operation("GET", "/things"))
    local cc = openapi.load("confluent")
    local list = "/connect/v1/environments/{environment_id}/clusters/{kafka_cluster_id}/connectors"
    assert.equal(list .. "?expand=info,status,id", select(2, cc:operation("GET", PREFIX .. "?expand=status")))
    assert.equal(list, select(2, cc:operation("GET", PREFIX)))
    local fd = openapi.load("feldera")
    local p = "/v0/pipelines/{pipeline_name}/tables/{table_name}/connectors/{connector_name}/"
    assert.equal(p .. "stats", select(2, fd:operation("GET", "/v0/pipelines/p/tables/t/connectors/c/stats")))
    assert.equal(p .. "{action}", select(2, fd:operation("POST", "/v0/pipelines/p/tables/t/connectors/c/pause")))
  end)

  it("reports a real answer of the fake against a deliberately wrong document", function()
    local srv = helpers.start_fake()
    local ok, err = pcall(function()
      local status, text = helpers.http(srv.url, "GET", PREFIX .. "/nope/status")
      assert.equal(404, status)
      local value = cjson.decode(text)
      local doc = openapi.load("confluent")
      assert.is_true((doc:check_response("GET", PREFIX .. "/nope/status", 404, value)))
      local schemas = doc.doc.components.schemas
      schemas["connect_v1_ConnectorError_error"].properties.code.type = "string"
      schemas["connect_v1_ConnectorError_error"].required = { "code", "details" }
      local good, violations = doc:check_response("GET", PREFIX .. "/nope/status", 404, value)
      assert.is_false(good)
      table.sort(violations)
      assert.same({ "/error/code: expected string, got 404", "/error: missing required property details" },
        violations)
    end)
    srv:stop()
    assert(ok, err)
  end)

  it("refuses an erratum that no longer applies", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("openapi: 3.0.0\npaths: {}\ncomponents:\n  schemas: {}\n")
    f:close()
    openapi.ERRATA[path] = { { "/components/schemas/Gone/properties/x", {}, "test" } }
    local ok, err = pcall(openapi.load, path)
    openapi.ERRATA[path] = nil
    os.remove(path)
    assert.is_false(ok)
    assert.matches("erratum no longer applies", err)
  end)
end)
