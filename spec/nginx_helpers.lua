-- A real nginx for the specs and the W6 benchmark: Debian's nginx-light with OpenResty's Lua module
-- unpacked by tools/nginx.sh (never installed), one process (master_process off, so exactly one
-- worker loop), every path under its own scratch folder, on a free loopback port.
local helpers = require "helpers"

local M = {}

local root -- the unpacked packages, prepared once per process

local function checkout()
  return os.getenv("PWD") or "."
end

-- The folder tools/nginx.sh unpacked the packages into; raises when that failed.
function M.root()
  if not root then
    local out, code = helpers.shell("sh tools/nginx.sh prepare 2>&1")
    if code ~= 0 then error("tools/nginx.sh prepare failed: " .. out, 2) end
    root = out:match("([^\n]+)\n?$")
  end
  return root
end

local TEMPLATE = [[
load_module @ROOT@/usr/lib/nginx/modules/ndk_http_module.so;
load_module @ROOT@/usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon off;
master_process off;
pid @PREFIX@/nginx.pid;
error_log @PREFIX@/error.log info;
@MAIN@
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path @PREFIX@/tmp/body;
    proxy_temp_path @PREFIX@/tmp/proxy;
    fastcgi_temp_path @PREFIX@/tmp/fastcgi;
    uwsgi_temp_path @PREFIX@/tmp/uwsgi;
    scgi_temp_path @PREFIX@/tmp/scgi;
    lua_package_path "@ROOT@/usr/share/lua/5.1/?.lua;@CHECKOUT@/lua/?.lua;@CHECKOUT@/lua/?/init.lua;@LUA_EXTRA@;;";
    lua_package_cpath "@CHECKOUT@/build/luajit/?.so;;";
@HTTP@
    server {
        listen 127.0.0.1:@PORT@;
@SERVER@
    }
}
]]

-- The nginx.conf text for opts (see M.start) under prefix, on port.
function M.config(opts, prefix, port)
  local values = {
    ROOT = M.root(), PREFIX = prefix, CHECKOUT = checkout(), PORT = tostring(port),
    MAIN = opts.main or "", HTTP = opts.http or "", SERVER = opts.server or "",
    LUA_EXTRA = checkout() .. "/" .. (opts.lua_dir or "spec/nginx") .. "/?.lua",
  }
  return (TEMPLATE:gsub("@([%u_]+)@", values))
end

local function accepts(port)
  local socket = require "socket"
  local c = socket.tcp()
  c:settimeout(0.2)
  local ok = c:connect("127.0.0.1", port)
  c:close()
  return ok ~= nil
end

local function alive(pid)
  local _, code = helpers.shell("kill -0 " .. pid .. " 2>/dev/null")
  return code == 0
end

-- Starts nginx with opts.main (main context), opts.http (inside http{}) and opts.server (inside the
-- one server{}), with opts.lua_dir (default spec/nginx) on its lua_package_path; returns
-- { url, port, prefix, pid, log = function() (error.log text), stop = function }.
-- Gone after opts.lifetime seconds (default 300) should the spec die without stopping it.
function M.start(opts)
  opts = opts or {}
  local prefix = helpers.tmpdir()
  assert(os.execute("mkdir -p " .. prefix .. "/tmp"))
  local port = helpers.free_port()
  local f = assert(io.open(prefix .. "/nginx.conf", "w"))
  f:write(M.config(opts, prefix, port))
  f:close()
  local cmd = ("cd %s && LD_LIBRARY_PATH=%s/usr/lib/x86_64-linux-gnu exec timeout %d nginx -p %s -c %s/nginx.conf " ..
    "-e %s/error.log >%s/stderr.log 2>&1 & echo $!"):format(prefix, M.root(), opts.lifetime or 300, prefix, prefix,
    prefix, prefix)
  local pipe = assert(io.popen(cmd))
  local pid = tonumber(pipe:read("*l"))
  pipe:close()
  local server = { url = "http://127.0.0.1:" .. port, port = port, prefix = prefix, pid = pid }
  function server.log()
    local lf = io.open(prefix .. "/error.log", "rb")
    local text = lf and lf:read("*a") or ""
    if lf then lf:close() end
    return text
  end
  function server.stop()
    if server.stopped then return end
    server.stopped = true
    os.execute("kill " .. pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not alive(pid) then break end
      require("socket").sleep(0.02)
    end
    helpers.remove_tree(prefix)
  end
  local socket = require "socket"
  local deadline = socket.gettime() + 10
  while not accepts(port) do
    if not alive(pid) or socket.gettime() > deadline then
      local why = helpers.read_file(prefix .. "/stderr.log") .. server.log()
      server.stop()
      error("nginx did not start: " .. why, 2)
    end
    socket.sleep(0.02)
  end
  return server
end

-- One HTTP/1.0 exchange with nginx over luasocket (so that the body ends with the connection):
-- status, body. body (a string) is POSTed.
function M.request(server, path, body, timeout)
  local socket = require "socket"
  local c = socket.tcp()
  c:settimeout(timeout or 30)
  assert(c:connect("127.0.0.1", server.port))
  local method = body and "POST" or "GET"
  body = body or ""
  assert(c:send(("%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s")
    :format(method, path, #body, body)))
  local response, err = c:receive("*a")
  c:close()
  assert(response, err)
  local status, rest = response:match("^HTTP/1%.%d (%d+) .-\r\n\r\n(.*)$")
  return tonumber(status), rest
end

-- A DNS server on a free 127.0.0.1 UDP port, in a child process, that answers A queries for the
-- names given with 127.0.0.1 (and everything else with no answer), for nginx's resolver directive.
-- Returns { port, stop = function }; gone after 300 s should the spec die.
function M.start_dns(names)
  local code = ([[
local socket = require "socket"
local names = {}
for name in (%q):gmatch("%%S+") do names[name] = true end
local udp = assert(socket.udp())
assert(udp:setsockname("127.0.0.1", 0))
io.stdout:write("listening ", select(2, udp:getsockname()), "\n")
io.stdout:flush()
udp:settimeout(300)
while true do
  local query, ip, port = udp:receivefrom()
  if not query then break end
  local labels, at = {}, 13
  while at <= #query and query:byte(at) > 0 do
    labels[#labels + 1] = query:sub(at + 1, at + query:byte(at))
    at = at + query:byte(at) + 1
  end
  local question = query:sub(13, at + 4)
  local qtype = query:byte(at + 1) * 256 + query:byte(at + 2)
  local hit = names[table.concat(labels, "."):lower()] and qtype == 1
  local answer = hit and "\192\12\0\1\0\1\0\0\0\60\0\4\127\0\0\1" or ""
  udp:sendto(query:sub(1, 2) .. "\129\128\0\1\0" .. (hit and "\1" or "\0") .. "\0\0\0\0" .. question ..
    answer, ip, port)
end
]]):format(table.concat(names, " "))
  local log = os.tmpname()
  local pipe = assert(io.popen(("%s%s -e %s >%s 2>&1 & echo $!"):format(helpers.env_cmd(), helpers.lua_bin(),
    "'" .. code:gsub("'", "'\\''") .. "'", log)))
  local pid = tonumber(pipe:read("*l"))
  pipe:close()
  local socket = require "socket"
  local port
  for _ = 1, 250 do
    port = tonumber(helpers.read_file(log):match("^listening (%d+)"))
    if port then break end
    socket.sleep(0.02)
  end
  if not port then error("the DNS server did not start: " .. helpers.read_file(log), 2) end
  return { port = port, stop = function() os.execute("kill " .. pid .. " 2>/dev/null"); os.remove(log) end }
end

-- GET path from nginx with curl in the background; returns the file its answer lands in.
function M.background(server, path)
  local out = os.tmpname()
  os.execute(("curl -s -o %s '%s%s' &"):format(out, server.url, path))
  return out
end

-- Polls check every 10 ms; raises naming what when it has not held within 5 s.
function M.wait_until(what, check)
  local socket = require "socket"
  for _ = 1, 500 do
    if check() then return end
    socket.sleep(0.01)
  end
  error(what .. " did not happen within 5 s", 2)
end

return M
