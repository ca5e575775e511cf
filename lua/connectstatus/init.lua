-- connectstatus: read and wait on the status of data-pipeline connectors (Confluent Cloud Connect,
-- Feldera) from Lua. This is the public face; each concern lives in its own module beside it.
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
  null = core.null,
  array_mt = core.json_array_mt,
}

function M.confluent(opts)
  return require("connectstatus.confluent").new(opts)
end

function M.feldera(opts)
  return require("connectstatus.feldera").new(opts)
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
