-- Shared by the busted specs: the fake API server in its own process, fixtures, subprocesses of
-- the interpreter under test. Specs run from the project root.
local fake = require "connectstatus.fake"

local M = {}

-- The interpreter running the specs, as a command name: "luajit", "lua5.4", "lua5.1"...
function M.lua_bin()
  if rawget(_G, "jit") then return "luajit" end
  return "lua" .. _VERSION:match("%d+%.%d+")
end

-- Starts connectstatus.fake in a child process (see fake.start); stop it in teardown.
function M.start_fake(opts)
  return fake.start(opts)
end

-- A loopback port with nothing listening on it: bound once by the OS, then released.
function M.free_port()
  local socket = require "socket"
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  server:close()
  return tonumber(port)
end

function M.read_file(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

function M.fixture(name)
  return M.read_file("spec/fixtures/" .. name)
end

function M.base64(s)
  return fake.base64(s)
end

-- Runs cmd in a subshell of sh; returns its stdout and exit code. The code is echoed rather than
-- taken from close(), which gives none on Lua 5.1.
function M.shell(cmd)
  local pipe = assert(io.popen("(" .. cmd .. '\n); echo "exit:$?"'))
  local out = pipe:read("*a")
  pipe:close()
  local stdout, code = out:match("^(.-)exit:(%d+)\n$")
  return stdout, tonumber(code)
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- "LUA_PATH=... LUA_CPATH=... " so that a child of the same interpreter finds lua/ and
-- build/<interpreter>/ of this checkout before anything installed.
function M.env_cmd()
  local root = os.getenv("PWD") or "."
  local lpath = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;"
  local cpath = root .. "/build/" .. M.lua_bin() .. "/?.so;;"
  local suffix = ""
  if not rawget(_G, "jit") and _VERSION ~= "Lua 5.1" then suffix = "_" .. _VERSION:match("%d+%.%d+"):gsub("%.", "_") end
  return ("LUA_PATH%s=%s LUA_CPATH%s=%s "):format(suffix, shell_quote(lpath), suffix, shell_quote(cpath))
end

return M
