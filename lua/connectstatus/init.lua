-- connectstatus: read, change and wait on the state of data-pipeline connectors (Confluent Cloud
-- Connect, self-managed Apache Kafka Connect, Feldera) from Lua, blocking or inside a cs.loop that
-- never blocks its host. This is the public face; each concern lives in its own module beside it.
local core = require "connectstatus.core"
local errors = require "connectstatus.errors"

local M = {
  version = core.version,
  null = core.null,
  Error = errors.Error,
  is_error = errors.is_error,
}

M.json = {
  decode = core.json_decode,
  encode = core.json_encode,
  selection = core.json_selection,
  null = core.null,
  array_mt = core.json_array_mt,
}

-- Constructors are not tail calls, so that an error's position names the caller's line on every
-- Lua version (5.1 counts a tail call as a level, 5.2+ does not).
function M.confluent(opts)
  local client = require("connectstatus.confluent").new(opts)
  return client
end

function M.kafka_connect(opts)
  local client = require("connectstatus.kafka_connect").new(opts)
  return client
end

function M.feldera(opts)
  local client = require("connectstatus.feldera").new(opts)
  return client
end

-- cs.loop{ max_per_host = 32 }: a libcurl multi loop that a host pumps; see connectstatus.loop.
function M.loop(opts)
  local loop = require("connectstatus.loop").new(opts, 2)
  return loop
end

-- cs.sleep(seconds): a loop timer inside a task (other tasks go on), a blocking sleep outside.
function M.sleep(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
    error("sleep expects a non-negative number of seconds", 2)
  end
  require("connectstatus.loop").sleep(seconds)
end

-- cs.map(list, fn, { parallel = 8 }) -> values, errs: fn(item) for each item, in parallel.
function M.map(list, fn, opts)
  local values, errs = require("connectstatus.loop").map(list, fn, opts, 2)
  return values, errs
end

function M.wait_for_state(client, name, target, opts)
  return require("connectstatus.wait").wait_for_state(client, name, target, opts)
end

function M.wait_for_offset_phase(client, name, phase, opts)
  return require("connectstatus.wait").wait_for_offset_phase(client, name, phase, opts)
end

function M.wait_for_end_of_input(client, pipeline, table_name, connector, opts)
  return require("connectstatus.wait").wait_for_end_of_input(client, pipeline, table_name, connector, opts)
end

-- Checked here, so that a wrong argument names the caller's line (this is not a tail call).
function M.wait_for_completion(client, pipeline, token, opts)
  local wait = require "connectstatus.wait"
  wait.check(2, "wait_for_completion", client, "completion_status", pipeline, token, opts)
  local answer, err = wait.wait_for_completion(client, pipeline, token, opts)
  return answer, err
end

function M.health(status, opts)
  return require("connectstatus.health").health(status, opts)
end

function M.summarize(list_result, opts)
  return require("connectstatus.health").summarize(list_result, opts)
end

function M.pp(...)
  return require("connectstatus.pp").pp(...) -- returns nothing
end

function M.help(client)
  return require("connectstatus.pp").help(client)
end

-- Loaded on first use, so that a runbook that never waits or fakes pays nothing for it
-- (connectstatus.fake needs lua-socket).
local LAZY = {
  fake = function() return require "connectstatus.fake" end,
}

return setmetatable(M, {
  __tostring = function() return "connectstatus " .. tostring(core.version) .. " (cs.help() lists what it does)" end,
  __index = function(t, k)
    local load = LAZY[k]
    if not load then return nil end
    local v = load()
    rawset(t, k, v)
    return v
  end,
})
