-- Starts the fake API, runs build/threads against it, then checks what the fake received: each
-- thread's requests on its own connection with its own token. Run by tools/threads.sh.
local fake = require("connectstatus.fake").start()
local READS = 200

local function run()
  local pipe = assert(io.popen(("build/threads %s %d 2>&1; echo \"exit:$?\""):format(fake.url, READS)))
  local out = pipe:read("*a")
  pipe:close()
  io.write(out)
  if not out:find("exit:0\n", 1, true) then return false, "the harness failed" end
  local by_token, tokens_by_connection = {}, {}
  for _, r in ipairs(fake:requests()) do
    local token = r.headers.authorization or "none"
    by_token[token] = (by_token[token] or 0) + 1
    local seen = tokens_by_connection[r.connection] or {}
    seen[token] = true
    tokens_by_connection[r.connection] = seen
  end
  for id = 1, 2 do
    local n = by_token["Bearer thread-" .. id] or 0
    if n ~= READS + 1 then return false, ("thread %d: the fake got %d requests, not %d"):format(id, n, READS + 1) end
  end
  for connection, seen in pairs(tokens_by_connection) do
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    if n ~= 1 then return false, "connection " .. connection .. " carried more than one client's token" end
  end
  return true
end

local ok, problem = run()
fake:stop()
if not ok then
  io.stderr:write("threads: ", problem, "\n")
  os.exit(1)
end
print("threads: two states on two threads, " .. READS .. " reads each: ok")
