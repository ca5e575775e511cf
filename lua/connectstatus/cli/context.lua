-- Named contexts for the CLI: $XDG_CONFIG_HOME/connectstatus/config (else ~/.config/...), in
-- this format:
--
--   # comments and blank lines are ignored
--   current = prod
--
--   [prod]
--   environment = env-abc123
--   cluster = lkc-abc123
--   api_key = ABCDEFGHIJKLMNOP
--   api_secret_command = pass show confluent/prod
--
--   [local]
--   feldera_host = http://127.0.0.1:8080
--   feldera_api_key_env = FELDERA_LOCAL_KEY
--
-- Secrets (api_secret, token, feldera_api_key, connect_password) are never stored: only the name of
-- a variable that holds one (NAME_env) or a command that prints one (NAME_command) is.
local options = require "connectstatus.options"

local M = {}

-- Settings a context may hold; true marks a secret.
M.SETTINGS = {
  base_url = false, environment = false, cluster = false, api_key = false, api_secret = true, token = true,
  feldera_host = false, feldera_api_key = true, tenant = false,
  connect_url = false, connect_user = false, connect_password = true,
  proxy = false, cacert = false,
}

local KEYS = {}
for name, secret in pairs(M.SETTINGS) do
  if secret then
    KEYS[#KEYS + 1] = name .. "_env"
    KEYS[#KEYS + 1] = name .. "_command"
  else
    KEYS[#KEYS + 1] = name
  end
end
table.sort(KEYS)

-- Which API a context can talk to, from the settings it has.
local APIS = { { "confluent", "environment" }, { "kafka-connect", "connect_url" }, { "feldera", "feldera_host" } }

function M.path()
  local base = os.getenv("XDG_CONFIG_HOME")
  if base == nil or base == "" then
    local home = os.getenv("HOME")
    if home == nil or home == "" then return nil end
    base = home .. "/.config"
  end
  return base .. "/connectstatus/config"
end

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function fail(path, n, message)
  error({ usage = ("%s:%d: %s"):format(path, n, message) }, 0)
end

local function check_key(path, n, key, ctx)
  if M.SETTINGS[key] == true then
    fail(path, n, ("%s is a secret and is never stored here: use %s_env = VARIABLE or %s_command = COMMAND")
      :format(key, key, key))
  end
  local known = false
  for _, k in ipairs(KEYS) do known = known or k == key end
  if not known then
    fail(path, n, ("unknown setting '%s' in context %s%s"):format(key, ctx, options.did_you_mean(key, KEYS)))
  end
end

-- One line that is not blank or a comment; returns the context that later lines belong to.
local function parse_line(config, path, n, line, ctx)
  local section = line:match("^%[%s*([%w_.%-]+)%s*%]$")
  local key, value = line:match("^([%w_]+)%s*=%s*(.-)$")
  if section then
    if config.contexts[section] then fail(path, n, "context " .. section .. " is defined twice") end
    config.contexts[section] = {}
    config.order[#config.order + 1] = section
    return section
  elseif key and not ctx then
    if key ~= "current" then fail(path, n, "only 'current = NAME' may come before the first [context]") end
    config.current = value
  elseif key then
    check_key(path, n, key, ctx)
    config.contexts[ctx][key] = value
  else
    fail(path, n, "expected [NAME], KEY = VALUE, a # comment or a blank line")
  end
  return ctx
end

-- -> { current = name or nil, order = { names }, contexts = { name = { key = value } } }; an
-- absent file is an empty config. A malformed one raises a usage error naming file and line.
function M.load(path)
  local config = { order = {}, contexts = {} }
  path = path or M.path()
  local f = path and io.open(path, "r")
  if not f then return config end
  local text = f:read("*a")
  f:close()
  local ctx, n = nil, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    line = trim(line)
    if line ~= "" and line:sub(1, 1) ~= "#" then ctx = parse_line(config, path, n, line, ctx) end
  end
  return config
end

function M.apis(ctx)
  local list = {}
  for _, api in ipairs(APIS) do
    if ctx[api[2]] then list[#list + 1] = api[1] end
  end
  return list
end

-- The named context (or nil when name is nil); an unknown name is a usage error.
function M.get(config, name, where)
  if name == nil then return nil end
  local ctx = config.contexts[name]
  if not ctx then
    error({ usage = ("unknown context '%s'%s%s"):format(name, where or "",
      options.did_you_mean(name, config.order)) }, 0)
  end
  return ctx
end

-- First line of a command's output; nil and why when it fails or prints nothing.
local function run_command(cmd)
  local pipe = io.popen("(" .. cmd .. '\n) 2>/dev/null; echo "\nexit:$?"')
  if not pipe then return nil, "cannot start it" end
  local out = pipe:read("*a")
  pipe:close()
  local body, code = out:match("^(.-)\nexit:(%d+)\n$")
  if code ~= "0" then return nil, "it exited with status " .. tostring(code) end
  local first = body and body:match("^([^\n]*)")
  if not first or first == "" then return nil, "it printed nothing" end
  return first
end

-- A setting's value from a context: plain, or a secret from its variable or command.
function M.value(ctx, name, ctx_name)
  if not ctx then return nil end
  if not M.SETTINGS[name] then
    local v = ctx[name]
    if v == "" then return nil end
    return v
  end
  local var, cmd = ctx[name .. "_env"], ctx[name .. "_command"]
  if var then
    local v = os.getenv(var)
    if v == nil or v == "" then
      error({ usage = ("context %s takes %s from $%s, which is not set"):format(ctx_name, name, var) }, 0)
    end
    return v
  end
  if cmd then
    local v, why = run_command(cmd)
    if not v then error({ usage = ("context %s: %s_command failed: %s"):format(ctx_name, name, why) }, 0) end
    return v
  end
  return nil
end

-- Rewrites the file's "current = NAME" line (or adds it at the top), through a temporary file.
function M.use(path, name)
  local f = io.open(path, "r")
  local text = f and f:read("*a") or ""
  if f then f:close() end
  local replaced
  text, replaced = text:gsub("^[ \t]*current[ \t]*=[^\n]*", "current = " .. name, 1)
  if replaced == 0 then
    text, replaced = text:gsub("\n[ \t]*current[ \t]*=[^\n]*", "\ncurrent = " .. name, 1)
  end
  if replaced == 0 then text = "current = " .. name .. "\n" .. text end
  local tmp = path .. ".tmp"
  local out, err = io.open(tmp, "w")
  if not out then return nil, err end
  local ok, werr = out:write(text)
  local closed, cerr = out:close()
  if not ok or not closed then
    os.remove(tmp)
    return nil, werr or cerr
  end
  return os.rename(tmp, path)
end

-- Lines describing a context, secrets as where they come from (never their values).
function M.describe(ctx)
  local keys = {}
  for k in pairs(ctx) do keys[#keys + 1] = k end
  table.sort(keys)
  local rows = {}
  for _, k in ipairs(keys) do
    local secret = k:match("^(.-)_env$") or k:match("^(.-)_command$")
    if secret and M.SETTINGS[secret] then
      local from = k:match("_env$") and "$" .. ctx[k] or "the command: " .. ctx[k]
      rows[#rows + 1] = { secret, "(from " .. from .. ")" }
    else
      rows[#rows + 1] = { k, ctx[k] }
    end
  end
  return rows
end

return M
