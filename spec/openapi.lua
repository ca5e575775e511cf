-- A spec helper (not shipped): the official OpenAPI documents of the three APIs, the operation for a
-- method and a concrete path, and a validator of decoded JSON against their schemas.
--
--   local doc = openapi.load("confluent")          -- or "feldera", "kafka_connect", or a file path
--   local op, template = doc:operation("GET", "/connect/v1/.../connectors/pg-cdc/status")
--   local ok, violations = doc:check_response("GET", path, 200, value)
--   local ok, violations = doc:check_request("POST", path, value)
--
-- Values are decoded JSON: objects and arrays are tables (an empty one passes as either unless it
-- carries an array metatable), null is core.null (= cjson.null); an object member that a decoder
-- dropped for being null is simply absent. Each violation is "<JSON pointer>: <what is wrong>".
-- Keywords covered, as far as the documents use them: $ref, type, nullable, enum, required,
-- properties, additionalProperties, items, allOf, oneOf, anyOf, minimum, maximum, readOnly (refused
-- in requests) and writeOnly (refused in responses). Formats and x-extensible-enum are not checked.
local core = require "connectstatus.core"

local M = {}

local FILES = {
  confluent = "confluent-connect-v1-openapi.yaml",
  feldera = "feldera-openapi.json",
  kafka_connect = "kafka-connect-rest-3.9.yaml",
}

-- Known defects of a document, corrected on load (load(name, { raw = true }) skips them). Each is
-- a JSON pointer, the schema that replaces what is there, and why.
local ERRATA = {
  confluent = {
    { "/paths/~1connect~1v1~1environments~1{environment_id}~1clusters~1{kafka_cluster_id}~1connectors?expand=info,"
      .. "status,id/get/parameters/2/explode", false,
      "the path itself shows expand=info,status,id: the API takes the comma-joined form (and repeated ones)" },
  },
  kafka_connect = {
    { "/components/schemas/ConnectorOffset/properties/offset/additionalProperties", {},
      "Kafka's Map<String, ?> came out as `type: object` values; real offsets hold numbers and strings" },
    { "/components/schemas/ConnectorOffset/properties/partition/additionalProperties", {},
      "the same for partitions (kafka_partition is a number, kafka_topic a string)" },
  },
}
M.ERRATA = ERRATA

local NULL = core.null

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

local function shell_line(cmd)
  local pipe = io.popen(cmd .. " 2>/dev/null")
  if not pipe then return nil end
  local line = pipe:read("*l")
  pipe:close()
  return line
end

-- Where the documents are: $CONNECTSTATUS_OPENAPI_DIR, else ../shared/specs beside the checkout,
-- else beside the main checkout of a git worktree.
function M.dir()
  local candidates = { os.getenv("CONNECTSTATUS_OPENAPI_DIR") or "../shared/specs", "../shared/specs" }
  local common_dir = shell_line("git rev-parse --path-format=absolute --git-common-dir")
  if common_dir then candidates[3] = common_dir:gsub("/%.git/?$", "") .. "/../shared/specs" end
  for _, dir in ipairs(candidates) do
    if read(dir .. "/" .. FILES.kafka_connect) then return dir end
  end
  error("openapi: the OpenAPI documents are not in $CONNECTSTATUS_OPENAPI_DIR or ../shared/specs", 2)
end

-- lyaml's null sentinel becomes core.null, so one null serves documents and values alike.
local function normalize(v, null)
  if v == null then return NULL end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, item in pairs(v) do out[k] = normalize(item, null) end
  return out
end

local function parse(path)
  local text = read(path)
  if not text then error("openapi: cannot read " .. path, 3) end
  if path:match("%.json$") then
    local doc, err = core.json_decode(text, 512)
    if doc == nil then error("openapi: " .. path .. ": " .. tostring(err), 3) end
    return doc
  end
  local lyaml = require "lyaml"
  return normalize(lyaml.load(text), lyaml.null)
end

local function pointer_tokens(pointer)
  local tokens = {}
  for token in pointer:gmatch("/([^/]*)") do tokens[#tokens + 1] = (token:gsub("~1", "/"):gsub("~0", "~")) end
  return tokens
end

-- The key a pointer token names in node: array items are 0-based in pointers, 1-based in Lua.
local function key_in(node, token)
  if node[token] == nil and token:match("^%d+$") then return tonumber(token) + 1 end
  return token
end

local function resolve_tokens(doc, tokens)
  local node = doc
  for _, token in ipairs(tokens) do
    if type(node) ~= "table" then return nil end
    node = node[key_in(node, token)]
  end
  return node
end

local function resolve_pointer(doc, pointer)
  return resolve_tokens(doc, pointer_tokens(pointer))
end

local function apply_errata(doc, list)
  for _, erratum in ipairs(list) do
    local tokens = pointer_tokens(erratum[1])
    local last = table.remove(tokens)
    local parent = resolve_tokens(doc, tokens)
    last = type(parent) == "table" and key_in(parent, last)
    if not last or parent[last] == nil then
      error("openapi: erratum no longer applies (fixed upstream?): " .. erratum[1], 3)
    end
    parent[last] = erratum[2]
  end
end

local Doc = {}
Doc.__index = Doc

-- A document from a table (for tests of the checker itself).
function M.new(document, name)
  return setmetatable({ doc = document, name = name or "document" }, Doc)
end

function M.load(name, opts)
  local path = FILES[name] and (M.dir() .. "/" .. FILES[name]) or name
  local doc = parse(path)
  if not (opts and opts.raw) and ERRATA[name] then apply_errata(doc, ERRATA[name]) end
  return M.new(doc, name)
end

---------------------------------------------------------------------------------------------------
-- Operations.

local function percent_decode(s)
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

local function segments(path)
  local out = {}
  for segment in path:gmatch("[^/]+") do out[#out + 1] = segment end
  return out
end

local function query_names(query)
  local names = {}
  for pair in (query or ""):gmatch("[^&]+") do names[percent_decode(pair:match("^([^=]*)"))] = true end
  return names
end

-- How well a path template matches the concrete path: the number of literal segments, or nil.
local function match_score(template, concrete, names)
  local tpath, tquery = template:match("^([^?]*)%??(.*)$")
  local want, have = segments(tpath), segments(concrete)
  if #want ~= #have then return nil end
  local score = 0
  for i, w in ipairs(want) do
    if w:match("^{.+}$") then
      if have[i] == "" then return nil end
    elseif w == percent_decode(have[i]) then
      score = score + 1
    else
      return nil
    end
  end
  -- A template that names a query parameter ("connectors?expand=...") wins when that parameter is sent.
  if tquery ~= "" then
    if not names[tquery:match("^([^=]*)")] then return nil end
    score = score + 0.5
  end
  return score
end

-- The operation object for method and a concrete path (query allowed), with its path template.
function Doc:operation(method, path)
  local concrete, query = path:match("^([^?]*)%??(.*)$")
  local names = query_names(query)
  local best, best_template, best_score
  for template, item in pairs(self.doc.paths or {}) do
    local op = type(item) == "table" and item[method:lower()]
    local score = op and match_score(template, concrete, names)
    if score and (not best_score or score > best_score) then best, best_template, best_score = op, template, score end
  end
  return best, best_template
end

---------------------------------------------------------------------------------------------------
-- Schemas.

local function is_array(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  if mt == core.json_array_mt then return true end
  if next(v) == nil then return true end
  return v[1] ~= nil
end

local function is_object(v)
  if type(v) ~= "table" then return false end
  if getmetatable(v) == core.json_array_mt then return false end
  return next(v) == nil or v[1] == nil
end

local function is_integer(v)
  return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge and v == math.floor(v)
end

local TYPES = {
  object = is_object, array = is_array, integer = is_integer,
  number = function(v) return type(v) == "number" end,
  string = function(v) return type(v) == "string" end,
  boolean = function(v) return type(v) == "boolean" end,
}

local function show(v)
  if v == NULL then return "null" end
  if type(v) == "string" then return ("%q"):format(#v > 40 and v:sub(1, 40) .. "..." or v) end
  if type(v) == "table" then return is_array(v) and "an array" or "an object" end
  if is_integer(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
  return tostring(v)
end

local function escape(key)
  return (tostring(key):gsub("~", "~0"):gsub("/", "~1"))
end

local Checker = {}
Checker.__index = Checker

function Checker:add(loc, message)
  self.out[#self.out + 1] = (loc == "" and "/" or loc) .. ": " .. message
end

function Checker:resolve(schema, loc)
  local seen = 0
  while type(schema) == "table" and schema["$ref"] do
    local ref = schema["$ref"]
    local target = type(ref) == "string" and ref:sub(1, 1) == "#" and resolve_pointer(self.doc, ref:sub(2))
    if not target then
      self:add(loc, "unresolvable $ref " .. tostring(ref))
      return nil
    end
    schema, seen = target, seen + 1
    if seen > 64 then return nil end
  end
  return schema
end

-- The violations value would give against schema, without recording them.
function Checker:try(schema, value, loc)
  local sub = setmetatable({ doc = self.doc, out = {}, mode = self.mode }, Checker)
  sub:check(schema, value, loc)
  return sub.out
end

function Checker:check_composition(schema, value, loc)
  for _, part in ipairs(schema.allOf or {}) do self:check(part, value, loc) end
  for _, keyword in ipairs { "oneOf", "anyOf" } do
    local list = schema[keyword]
    if list then
      local matched, first = 0, nil
      for _, part in ipairs(list) do
        local violations = self:try(part, value, loc)
        if #violations == 0 then matched = matched + 1 else first = first or violations[1] end
      end
      if keyword == "oneOf" and matched ~= 1 then
        self:add(loc, ("matches %d of the %d oneOf schemas%s"):format(matched, #list,
          matched == 0 and " (first: " .. tostring(first) .. ")" or ""))
      elseif keyword == "anyOf" and matched == 0 then
        self:add(loc, "matches none of the anyOf schemas (first: " .. tostring(first) .. ")")
      end
    end
  end
end

function Checker:check_object(schema, value, loc)
  local properties = schema.properties or {}
  -- A required readOnly property is required in responses only, a writeOnly one in requests only.
  local skip = self.mode == "request" and "readOnly" or "writeOnly"
  for _, name in ipairs(schema.required or {}) do
    local prop = properties[name] and self:resolve(properties[name], loc)
    if value[name] == nil and not (prop and prop[skip]) then self:add(loc, "missing required property " .. name) end
  end
  for name, item in pairs(value) do
    local sub_loc = loc .. "/" .. escape(name)
    local prop = properties[name]
    if prop then
      local resolved = self:resolve(prop, sub_loc)
      if resolved and self.mode == "response" and resolved.writeOnly then
        self:add(sub_loc, "writeOnly property in a response")
      elseif resolved and self.mode == "request" and resolved.readOnly then
        self:add(sub_loc, "readOnly property in a request")
      end
      self:check(prop, item, sub_loc)
    elseif schema.additionalProperties == false then
      self:add(sub_loc, "property not allowed")
    elseif type(schema.additionalProperties) == "table" then
      self:check(schema.additionalProperties, item, sub_loc)
    end
  end
end

function Checker:check_value(schema, value, loc)
  if schema.type and TYPES[schema.type] and not TYPES[schema.type](value) then
    self:add(loc, ("expected %s, got %s"):format(schema.type, show(value)))
    return
  end
  if schema.enum then
    local found = false
    for _, allowed in ipairs(schema.enum) do found = found or allowed == value end
    if not found then self:add(loc, ("%s is not one of the enum values"):format(show(value))) end
  end
  if type(value) == "number" then
    if schema.minimum and value < schema.minimum then
      self:add(loc, ("%s is below %s"):format(show(value), schema.minimum))
    end
    if schema.maximum and value > schema.maximum then
      self:add(loc, ("%s is above %s"):format(show(value), schema.maximum))
    end
  end
  if type(value) == "table" and is_object(value) and (schema.properties or schema.required
      or schema.additionalProperties ~= nil) and (schema.type == "object" or next(value) ~= nil) then
    self:check_object(schema, value, loc)
  end
  if schema.items and is_array(value) and not (next(value) == nil and schema.type ~= "array") then
    for i, item in ipairs(value) do self:check(schema.items, item, loc .. "/" .. (i - 1)) end
  end
end

-- A null is allowed where the schema, or the allOf/oneOf/anyOf wrapper it sits in, is nullable.
local function allows_null(schema)
  return schema.nullable == true or schema.type == "null"
end

function Checker:check(schema, value, loc)
  schema = self:resolve(schema, loc)
  if type(schema) ~= "table" then return end
  if value == NULL then
    if not allows_null(schema) and (schema.type or schema.properties or schema["$ref"] or schema.allOf
        or schema.oneOf or schema.anyOf or schema.enum) then
      self:add(loc, "null where the schema is not nullable")
    end
    return
  end
  self:check_composition(schema, value, loc)
  self:check_value(schema, value, loc)
end

function Doc:validate(schema, value, mode)
  local checker = setmetatable({ doc = self.doc, out = {}, mode = mode or "response" }, Checker)
  checker:check(schema, value, "")
  return #checker.out == 0, checker.out
end

---------------------------------------------------------------------------------------------------
-- Requests and responses.

local function json_schema(content)
  local media = type(content) == "table" and (content["application/json"] or content["*/*"])
  if not media then return nil, false end
  return media.schema, true
end

-- The documented response for status: exact code, then "4XX"-style ranges, then default.
local function response_for(op, status)
  local responses = op.responses or {}
  return responses[tostring(status)] or responses[tostring(status):sub(1, 1) .. "XX"] or responses.default
end

local function unknown(self, method, path)
  return false, { ("%s %s: no such operation in %s"):format(method, path, self.name) }
end

function Doc:check_response(method, path, status, value)
  local op = self:operation(method, path)
  if not op then return unknown(self, method, path) end
  local response = self:resolve_object(response_for(op, status))
  if not response then return false, { ("%s %s: status %s is not documented"):format(method, path, status) } end
  local schema, has_content = json_schema(response.content)
  if value == nil then
    if schema then
      return false, { ("%s %s: status %s documents a JSON body, got none"):format(method, path, status) }
    end
    return true, {}
  end
  if not has_content then
    return false, { ("%s %s: status %s documents no body, got one"):format(method, path, status) }
  end
  if not schema then return true, {} end
  return self:validate(schema, value, "response")
end

-- Each query parameter's values, form-decoded ("+" is a space), by name.
local function query_values(query)
  local out = {}
  for pair in (query or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k, v = percent_decode((k:gsub("%+", " "))), percent_decode((v:gsub("%+", " ")))
    out[k] = out[k] or {}
    out[k][#out[k] + 1] = v
  end
  return out
end

local function split_commas(values)
  local out = {}
  for _, text in ipairs(values) do
    for item in text:gmatch("[^,]+") do out[#out + 1] = item end
  end
  return out
end

-- A parameter's text as the value its schema type means, or nil when it is not one.
local function coerce(text, schema)
  local kind = type(schema) == "table" and schema.type
  if kind == "boolean" then
    if text == "true" or text == "false" then return text == "true" end
    return nil
  end
  if kind == "integer" then return text:match("^%-?%d+$") and tonumber(text) or nil end
  if kind == "number" then return tonumber(text) end
  return text
end

-- The violations of the path and query parameters (operation and path-item level) of a request.
function Doc:parameter_violations(op, template, path)
  local concrete, query = path:match("^([^?]*)%??(.*)$")
  local given, in_path = query_values(query), {}
  local have = segments(concrete)
  for i, w in ipairs(segments(template:match("^[^?]*"))) do
    local name = w:match("^{(.+)}$")
    if name then in_path[name] = { percent_decode(have[i]) } end
  end
  local out, params = {}, {}
  for _, list in ipairs { (self.doc.paths[template] or {}).parameters or {}, op.parameters or {} } do
    for _, p in ipairs(list) do params[#params + 1] = self:resolve_object(p) end
  end
  for _, p in ipairs(params) do
    local values = (p["in"] == "query" and given[p.name]) or (p["in"] == "path" and in_path[p.name]) or {}
    if p.required and #values == 0 then out[#out + 1] = ("%s parameter %s: missing"):format(p["in"], p.name) end
    local schema = self:resolve_object(p.schema)
    if p.explode == false then values = split_commas(values) end
    for _, text in ipairs(values) do
      local value = coerce(text, schema)
      local _, violations = self:validate(schema or {}, value, "request")
      if value == nil then violations = { ("/: not a %s: %q"):format(schema.type, text) } end
      for _, v in ipairs(violations) do
        out[#out + 1] = ("%s parameter %s: %s"):format(p["in"], p.name, (v:gsub("^/: ", "")))
      end
    end
  end
  return out
end

-- The request's parameters and its JSON body (value, or nil for none) against the operation.
function Doc:check_request(method, path, value)
  local op, template = self:operation(method, path)
  if not op then return unknown(self, method, path) end
  local out = self:parameter_violations(op, template, path)
  local body = self:resolve_object(op.requestBody)
  local schema = body and json_schema(body.content)
  if not body and value ~= nil then
    out[#out + 1] = ("%s %s: documents no request body, got one"):format(method, path)
  elseif body and value == nil and body.required then
    out[#out + 1] = ("%s %s: the request body is required"):format(method, path)
  elseif schema and value ~= nil then
    local _, violations = self:validate(schema, value, "request")
    for _, v in ipairs(violations) do out[#out + 1] = v end
  end
  return #out == 0, out
end

-- A response or request body object, following its $ref into components.
function Doc:resolve_object(object)
  local seen = 0
  while type(object) == "table" and object["$ref"] and seen < 16 do
    object = resolve_pointer(self.doc, object["$ref"]:sub(2))
    seen = seen + 1
  end
  return object
end

return M
