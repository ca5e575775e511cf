-- Run by tools/valgrind.sh under memcheck: many status reads on one client, in this process, so
-- that anything the client or the decoder leaks per request shows up as a definite leak; then
-- reads through cs.map, for the loop's multi handle.
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

-- A tenth as many through cs.map: transfers on a loop's multi handle, one per request. One loop
-- serves a new client per batch, so each batch reuses connections that a closed client opened;
-- every tenth batch is a plain cs.map, on a loop (and multi) of its own.
local BATCH = 50
local names = {}
for i = 1, BATCH do names[i] = "pg-cdc" end
local loop = cs.loop()
local batches = math.max(1, math.floor(reads / 10 / BATCH))
for b = 1, batches do
  local client = cs.confluent { token = "tok", environment = "env-demo", cluster = "lkc-demo", base_url = api.url,
    timeout = 10, retry = { attempts = 1 } }
  local function read(name) return client:status(name) end
  local values, errs
  if b % 10 == 0 then
    values, errs = cs.map(names, read, { parallel = 8 })
  else
    local task = loop:spawn(function() return cs.map(names, read, { parallel = 8 }) end)
    loop:run()
    values, errs = task:result()
  end
  for i = 1, BATCH do
    if not values[i] then error(("loop read %d.%d failed: %s"):format(b, i, tostring(errs[i]))) end
  end
  client:close()
end
loop:close()
api:stop()
print(("valgrind reads: %d status reads, one 404, %d through cs.map"):format(reads, batches * BATCH))
