-- `make demo`: start the bundled fake Confluent Cloud + Feldera + Kafka Connect API on 127.0.0.1,
-- run examples/runbook.lua and then the scenes that have their own example (act-then-wait, the
-- Kafka Connect restart) against it in child interpreters, stop the server (also when one fails)
-- and exit with the first failing status.
local root = (arg and arg[0] or ""):match("^(.*)/tools/[^/]*$") or "."
local abi = rawget(_G, "jit") and "luajit" or "lua" .. _VERSION:match("%d+%.%d+")
local lua_path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;"
local lua_cpath = root .. "/build/" .. abi .. "/?.so;"
package.path = lua_path .. package.path
package.cpath = lua_cpath .. package.cpath

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The exit status of a shell command, on every Lua version (5.1 returns the raw wait status).
local function execute(cmd)
  local a, _, code = os.execute(cmd)
  if type(a) == "number" then return a > 255 and math.floor(a / 256) or a end
  return code or (a and 0 or 1)
end

local function run_example(url, script)
  local env = {
    CONNECTSTATUS_BASE_URL = url, FELDERA_HOST = url, CONNECT_URL = url, CONNECT_WAIT_INTERVAL = "0.2",
    CONFLUENT_ENVIRONMENT_ID = "env-demo", CONFLUENT_KAFKA_CLUSTER_ID = "lkc-demo",
    CONFLUENT_CLOUD_API_KEY = "demo-key", CONFLUENT_CLOUD_API_SECRET = "demo-secret",
  }
  local parts = { "env" }
  for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. shell_quote(v) end
  -- Paths are set with -e rather than LUA_PATH so that a user's LUA_PATH_5_4 cannot shadow them.
  local setup = ("package.path=%q .. package.path package.cpath=%q .. package.cpath"):format(lua_path, lua_cpath)
  parts[#parts + 1] = shell_quote(arg[-1] or abi)
  parts[#parts + 1] = "-e " .. shell_quote(setup)
  parts[#parts + 1] = shell_quote(root .. "/examples/" .. script)
  return execute(table.concat(parts, " "))
end

-- The runbook, then the scenes that have their own example, each while the others passed.
local SCENES = { "runbook.lua", "act_then_wait.lua", "kafka_connect_restart.lua" }

local function run_scenes(url)
  local status = 0
  for _, script in ipairs(SCENES) do
    status = run_example(url, script)
    if status ~= 0 then break end
  end
  return status
end

local ok_start, fake = pcall(function() return require("connectstatus.fake").start() end)
if not ok_start then
  io.stderr:write("demo: cannot start the fake API: ", tostring(fake), "\n")
  os.exit(1)
end
print("demo: fake Confluent Cloud + Feldera + Kafka Connect API on " .. fake.url ..
  " (environment env-demo, cluster lkc-demo)")
io.stdout:flush() -- before the runbook's own output, also in a pipe
local ok, status = pcall(run_scenes, fake.url)
fake:stop()
if not ok then
  io.stderr:write("demo: ", tostring(status), "\n")
  os.exit(1)
end
print(("demo: the examples exited with %d; fake API stopped"):format(status))
os.exit(status)
