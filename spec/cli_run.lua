-- Runs bin/connectstatus as a subprocess of the interpreter under test, with exactly the given
-- variables (for cli_spec and cli_ux_spec), through a pipe or through a pseudo-terminal.
local helpers = require "helpers"

local M = {}

function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Variables that could leak in from the caller's shell and change what the CLI does.
local CLEAN = { "CONFLUENT_CLOUD_API_KEY", "CONFLUENT_CLOUD_API_SECRET", "CONFLUENT_CLOUD_TOKEN",
  "CONFLUENT_ENVIRONMENT_ID", "CONFLUENT_KAFKA_CLUSTER_ID", "CONNECTSTATUS_BASE_URL", "FELDERA_HOST",
  "FELDERA_API_KEY", "FELDERA_TENANT", "TERM", "NO_COLOR", "CONNECTSTATUS_CONTEXT", "XDG_CONFIG_HOME",
  "CONNECT_URL", "CONNECT_USER", "CONNECT_PASSWORD" }

local function env_prefix(env)
  local parts = { helpers.env_cmd(), "env" }
  for _, name in ipairs(CLEAN) do parts[#parts + 1] = "-u " .. name end
  local names = {}
  for k in pairs(env or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do parts[#parts + 1] = k .. "=" .. M.quote(env[k]) end
  return table.concat(parts, " ")
end

-- wrapper (e.g. "timeout 5") goes between the variables and the interpreter.
function M.command(args, env, wrapper)
  return env_prefix(env) .. " " .. (wrapper and wrapper .. " " or "") .. helpers.lua_bin() .. " bin/connectstatus " ..
    args
end

-- `connectstatus ARGS` in a pipe -> exit code, stdout, stderr.
function M.run(args, env, redirect)
  local errfile = os.tmpname()
  local out, code = helpers.shell(M.command(args, env) .. " 2>" .. M.quote(errfile) .. (redirect or ""))
  local err = helpers.read_file(errfile)
  os.remove(errfile)
  return code, out, err
end

-- `connectstatus ARGS` on a pseudo-terminal (util-linux script), TERM=xterm unless env says;
-- limit bounds it in seconds (SIGINT, then SIGKILL); prelude is shell run first in the same
-- terminal (e.g. a background job); input is typed into the terminal (else it gets none).
-- -> exit code, everything it wrote (CR LF).
function M.run_pty(args, env, limit, prelude, input)
  local e = {}
  for k, v in pairs(env or {}) do e[k] = v end
  if e.TERM == nil then e.TERM = "xterm" end
  local inner = M.command(args, e, "timeout --foreground -s INT -k 2 " .. (limit or 10))
  if prelude then inner = prelude .. " " .. inner end
  local feed = input and "printf %s " .. M.quote(input) .. " | " or ""
  local out, code = helpers.shell(feed .. "script -qec " .. M.quote(inner) .. " /dev/null" ..
    (input and "" or " </dev/null"))
  return code, out
end

-- What bash's completion offers for a command line (one word a line), the CLI under test
-- answering its __complete questions with env.
function M.complete_bash(line, env)
  local script = ("source completions/connectstatus.bash; connectstatus() { %s \"$@\"; }; " ..
    "COMP_WORDS=(%s); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _connectstatus; printf '%%s\\n' \"${COMPREPLY[@]}\"")
    :format(M.command("", env), line)
  return (helpers.shell("bash -c " .. M.quote(script)))
end

-- A copy of base with the changes (false removes a variable).
function M.with(base, changes)
  local e = {}
  for k, v in pairs(base) do e[k] = v end
  for k, v in pairs(changes or {}) do e[k] = v or nil end
  return e
end

return M
