-- Run by tools/valgrind.sh under memcheck: many status reads on one client, in this process, so
-- that anything the client or the decoder leaks per request shows up as a definite leak.
-- Usage: lua5.4 tools/valgrind_reads.lua N   (the fake API runs in a child process)
local cs = require "connectstatus"

local reads = tonumber(arg[1]) or 10000
local api = cs.fake.start()
local cc = cs.confluent { token = "tok", environment = "env-demo", cluster = "lkc-demo", base_url = api.url,
  timeout = 10, retry = { attempts = 1 } }
for i = 1, reads do
  local status, err = cc:status("pg-cdc")
  if not status then error(("read %d failed: %s"):format(i, tostring(err))) end
  if status.tasks[1].id ~= 0 then error("unexpected task id") end
end
local missing, err = cc:status("no-such-connector")
assert(missing == nil and err.kind == "not_found", "a 404 must come back as not_found")
cc:close()
api:stop()
print(("valgrind reads: %d status reads and one 404"):format(reads))
