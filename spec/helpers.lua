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

function M.write_file(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

function M.fixture(name)
  return M.read_file("spec/fixtures/" .. name)
end

function M.base64(s)
  return fake.base64(s)
end

-- cjson keeps null members as cjson.null where connectstatus leaves them out: a cjson value as
-- connectstatus would give it.
function M.without_nulls(v)
  local null = require("cjson").null
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do
    if x ~= null or type(k) == "number" then out[k] = M.without_nulls(x) end
  end
  return out
end

-- A Confluent client of the fake's demo environment and cluster at base_url, with a token; each
-- table of options after it (nil ones skipped) is laid over the ones before.
function M.confluent(base_url, ...)
  local opts = { token = "tok", environment = "env-demo", cluster = "lkc-demo", base_url = base_url }
  for i = 1, select("#", ...) do
    for k, v in pairs(select(i, ...) or {}) do opts[k] = v end
  end
  return require("connectstatus").confluent(opts)
end

-- A list of n times value.
function M.repeated(value, n)
  local list = {}
  for i = 1, n do list[i] = value end
  return list
end

-- A connector status as one line of states: the connector's, then each task's.
function M.states(status)
  local out = { status.connector.state }
  for _, t in ipairs(status.tasks) do out[#out + 1] = t.state end
  return table.concat(out, " ")
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

-- Runs Lua source in a child of this interpreter that loads this checkout (see M.env_cmd);
-- returns its stdout and stderr together, and its exit code.
function M.run_lua(source)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(source)
  f:close()
  local out, code = M.shell(M.env_cmd() .. M.lua_bin() .. " " .. path .. " 2>&1")
  os.remove(path)
  return out, code
end

-- One HTTP exchange through luasocket's own client (never connectstatus's, which is what is
-- tested): status, body text, lowercase headers. body is sent as application/json when given.
function M.http(base_url, method, target, body, headers)
  local http, ltn12 = require "socket.http", require "ltn12"
  local chunks, sent = {}, { ["content-type"] = body and "application/json" or nil,
    ["content-length"] = body and tostring(#body) or nil }
  for name, value in pairs(headers or {}) do sent[name:lower()] = value end
  local ok, status, received = http.request {
    url = base_url .. target, method = method, headers = sent, redirect = false,
    source = body and ltn12.source.string(body) or nil, sink = ltn12.sink.table(chunks),
  }
  assert(ok, status)
  return status, table.concat(chunks), received
end

-- How many recorded requests the fake got for target (all of them without target).
function M.count_requests(server, target)
  local n = 0
  for _, r in ipairs(server:requests()) do
    if target == nil or r.target == target then n = n + 1 end
  end
  return n
end

-- A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); nil where there is no /proc.
function M.proc_kb(field)
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return tonumber(text:match(field .. ":%s*(%d+) kB"))
end

local function spawn(cmd) -- runs cmd in the background; its pid
  local pipe = assert(io.popen(cmd .. " & echo $!"))
  local pid = tonumber(pipe:read("*l"))
  pipe:close()
  return pid
end

-- Polls file until pattern matches its text (the captures), or fails after timeout seconds.
local function wait_for_line(path, pattern, timeout, what)
  local socket = require "socket"
  local deadline = socket.gettime() + (timeout or 5)
  while socket.gettime() < deadline do
    local f = io.open(path, "rb")
    local text = f and f:read("*a") or ""
    if f then f:close() end
    local capture = text:match(pattern)
    if capture then return capture end
    socket.sleep(0.02)
  end
  error(what .. " did not start: " .. (M.read_file(path) or ""), 3)
end

-- A loopback HTTP server in a child process, one connection at a time, from the Lua source of a
-- function answer(c, n, k) called for each request head read: c is the luasocket client, n counts
-- all requests and k those on this connection. Returns { url, pid, stop = function }; gone a minute after its
-- last client, should the spec die.
function M.start_server(answer_source)
  local code = [[
local socket = require "socket"
local answer = ]] .. answer_source .. [[

local server = assert(socket.bind("127.0.0.1", 0))
io.stdout:write("listening ", select(2, server:getsockname()), "\n")
io.stdout:flush()
server:settimeout(60)
local n = 0
while true do
  local c = server:accept()
  if not c then break end
  c:setoption("tcp-nodelay", true)
  c:settimeout(60)
  local k = 0
  while true do
    local line = c:receive("*l")
    if not line then break end
    if line == "" then
      n, k = n + 1, k + 1
      answer(c, n, k)
    end
  end
  c:close()
end
]]
  local log = os.tmpname()
  local pid = spawn(("%s %s -e %s >%s 2>&1"):format(M.env_cmd(), M.lua_bin(), shell_quote(code), log))
  local port = wait_for_line(log, "^listening (%d+)\n", 5, "the server")
  return {
    url = "http://127.0.0.1:" .. port, pid = pid,
    stop = function()
      os.execute(("kill %d 2>/dev/null"):format(pid))
      os.remove(log)
    end,
  }
end

-- A minimal keep-alive responder that answers every request with the same 200 and body: no
-- routing, recording or scripting, so it costs the client's side of a measurement as little
-- as possible.
function M.start_responder(body)
  return M.start_server(([[function(c)
  local body = %q
  c:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body)
end]]):format(body))
end

-- A scratch directory, removed by M.remove_tree.
function M.tmpdir()
  local path = os.tmpname()
  os.remove(path)
  assert(os.execute("mkdir -m 700 " .. shell_quote(path)))
  return path
end

function M.remove_tree(path)
  if path and path:match("^/tmp/") then os.execute("rm -rf " .. shell_quote(path)) end
end

local function openssl(dir, args)
  local out, code = M.shell(("cd %s && openssl %s 2>&1"):format(shell_quote(dir), args))
  if code ~= 0 then error("openssl " .. args .. " failed: " .. out, 2) end
end

-- A throwaway PKI in a temp dir, made with the openssl command: a CA (ca.pem), certificates it
-- signed for 127.0.0.1 (good) and for another host name (wrong), and a self-signed one for
-- 127.0.0.1 (self). Each name has NAME.pem and NAME.key. Returns the dir.
function M.make_pki()
  local dir = M.tmpdir()
  local ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
  openssl(dir, "req -x509 " .. ec .. " -keyout ca.key -out ca.pem -days 2 -subj /CN=connectstatus-test-CA " ..
    "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign")
  local function leaf(name, san)
    openssl(dir, ("req %s -keyout %s.key -out %s.csr -subj /CN=%s"):format(ec, name, name, name))
    local ext = io.open(dir .. "/" .. name .. ".ext", "w")
    ext:write("subjectAltName=" .. san .. "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    ext:close()
    openssl(dir, ("x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out %s.pem " ..
      "-extfile %s.ext"):format(name, name, name))
  end
  leaf("good", "IP:127.0.0.1")
  leaf("wrong", "DNS:wrong-host.invalid")
  openssl(dir, "req -x509 " .. ec .. " -keyout self.key -out self.pem -days 2 -subj /CN=127.0.0.1 " ..
    "-addext subjectAltName=IP:127.0.0.1")
  return dir
end

-- An HTTPS server on 127.0.0.1 (openssl s_server -WWW: HTTP/1.0, one connection at a time) that
-- serves the files under root by path, with pki/NAME.pem. It logs one "FILE:path" line per
-- request it served. Returns { url, port, log, stop = function }; gone after 120 s at most.
function M.start_tls_server(pki, name, root)
  local log = pki .. "/" .. name .. ".log"
  local pid = spawn(("cd %s && exec timeout 120 openssl s_server -accept 127.0.0.1:0 -cert %s -key %s -WWW " ..
    "-naccept 100 >%s 2>&1"):format(shell_quote(root), shell_quote(pki .. "/" .. name .. ".pem"),
    shell_quote(pki .. "/" .. name .. ".key"), shell_quote(log)))
  local port = wait_for_line(log, "ACCEPT 127%.0%.0%.1:(%d+)", 5, "openssl s_server")
  return {
    url = "https://127.0.0.1:" .. port, port = tonumber(port), log = log,
    served = function()
      local n = 0
      for _ in (M.read_file(log)):gmatch("FILE:") do n = n + 1 end
      return n
    end,
    stop = function() os.execute(("kill %d 2>/dev/null"):format(pid)) end,
  }
end

return M
