-- connectstatus.fake.control: the /_fake/ control API (scripts, records, reset, set, shutdown).
-- Control requests need no credentials and are never recorded.
local common = require "connectstatus.fake.common"
local faults = require "connectstatus.fake.faults"
local confluent = require "connectstatus.fake.confluent"
local feldera = require "connectstatus.fake.feldera"
local kafka_connect = require "connectstatus.fake.kafka_connect"

local M = {}

local confluent_error = common.confluent_error
-- Each API module by the name of its part of the model.
M.APIS = { confluent = confluent, feldera = feldera, kafka_connect = kafka_connect }
local CONTROL = {}

CONTROL["POST script"] = function(server, spec)
  if type(spec) ~= "table" or not common.is_array(spec.responses) then return "responses must be a non-empty array" end
  local script = { method = spec.method, path = spec.path, responses = {} }
  for i, r in ipairs(spec.responses) do
    local response, err = faults.scripted_response(r)
    if not response then return ("responses[%d]: %s"):format(i, err) end
    script.responses[i] = response
  end
  server.scripts[#server.scripts + 1] = script
  return nil, { queued = #script.responses }
end

CONTROL["GET requests"] = function(server)
  local copy = common.array()
  for i, r in ipairs(server.records) do copy[i] = r end
  return nil, copy
end

CONTROL["POST reset"] = function(server)
  server:reset()
  return nil, { ok = true }
end

local function set_clock(server, offset)
  offset = tonumber(offset)
  if not offset or offset ~= offset or math.abs(offset) > 10 * 365 * 86400 then
    return "clock_offset must be a number of seconds (at most ten years)"
  end
  server.clock_offset = offset
end

-- Each part of a set names the API it changes. Parts apply in order, so a set refused for a bad
-- part may have applied the parts before it.
CONTROL["POST set"] = function(server, spec)
  if type(spec) ~= "table" or (spec.connector == nil and spec.feldera == nil and spec.kafka_connect == nil
      and spec.clock_offset == nil) then
    return "set needs connector, feldera, kafka_connect or clock_offset"
  end
  for _, part in ipairs { "feldera", "kafka_connect" } do
    if type(spec[part]) ~= "table" and spec[part] ~= nil then return part .. " must be an object" end
  end
  local err = spec.clock_offset ~= nil and set_clock(server, spec.clock_offset)
  if not err and spec.connector ~= nil then err = confluent.set(server, spec) end
  if not err and spec.feldera ~= nil then err = feldera.set(server, spec.feldera) end
  if not err and spec.kafka_connect ~= nil then err = kafka_connect.set(server, spec.kafka_connect) end
  if err then return err end
  return nil, { ok = true }
end

CONTROL["POST shutdown"] = function()
  return nil, { ok = true }, true
end

function M.handle(server, req, segments)
  local handler = #segments == 2 and CONTROL[req.method .. " " .. segments[2]]
  if not handler then return confluent_error(404, "unknown control request " .. req.method .. " " .. req.target) end
  local spec
  if req.body ~= "" then
    local err
    spec, err = common.decode(req.body)
    if spec == nil then return confluent_error(400, "body is not JSON: " .. tostring(err)) end
  end
  local problem, result, then_stop = handler(server, spec)
  if problem then return confluent_error(400, problem) end
  local r = common.json_response(200, result)
  r.then_stop = then_stop
  return r
end

return M
