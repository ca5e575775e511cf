-- Act, then wait, one call each: pause a sink for maintenance until it and its tasks are PAUSED,
-- resume it until RUNNING, then rewind its offsets and wait until that very request is APPLIED
-- (matched by the requested_at the API answered, never by this machine's clock).
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' \
--     lua5.4 examples/act_then_wait.lua [NAME [REWIND]]
--
-- REWIND (default 100) is how many records each partition of the sink goes back. Without
-- CONNECTSTATUS_BASE_URL it starts the bundled fake API (credentials and ids as in wait_running.lua).
local cs = require "connectstatus"

local base_url, fake = os.getenv("CONNECTSTATUS_BASE_URL"), nil
if not base_url then
  fake = cs.fake.start()
  base_url = fake.url
end

local cc = cs.confluent {
  api_key = os.getenv("CONFLUENT_CLOUD_API_KEY") or "demo-key",
  api_secret = os.getenv("CONFLUENT_CLOUD_API_SECRET") or "demo-secret",
  environment = os.getenv("CONFLUENT_ENVIRONMENT_ID") or "env-demo",
  cluster = os.getenv("CONFLUENT_KAFKA_CLUSTER_ID") or "lkc-demo",
  base_url = base_url,
}
local name = arg[1] or "orders-sink"
local rewind = tonumber(arg[2]) or 100
-- On loopback (the fake, which moves on every read) poll fast; a real cloud wants the default.
local interval = base_url:match("^http://127%.0%.0%.1[:/]") and 0.2 or 5

local function states(status)
  local tasks = {}
  for _, t in ipairs(status.tasks) do tasks[#tasks + 1] = ("task %s is %s"):format(tostring(t.id), t.state) end
  return status.connector.state .. (#tasks > 0 and "; " .. table.concat(tasks, ", ") or "")
end

local function wait_options(describe)
  return { timeout = 600, interval = interval, on_poll = function(value, elapsed, err)
    print(("   %5.1fs  %s"):format(elapsed, value and describe(value) or "read failed: " .. err.kind))
  end }
end

local function finish(code, err)
  if err then print(err) end
  cc:close()
  if fake then fake:stop() end
  os.exit(code)
end

print("\nact_then_wait: against " .. base_url .. (fake and " (the bundled fake API)" or ""))
print(("\n== %s must be RUNNING before the maintenance"):format(name))
local status, err = cc:wait_for_state(name, "RUNNING", wait_options(states))
if not status then finish(1, err) end

print(("\n== cc:pause(%q, { wait = ... }): PAUSED, tasks too"):format(name))
status, err = cc:pause(name, { wait = wait_options(states) })
if not status then finish(1, err) end
print(("   %s is %s"):format(name, states(status)))

print(("\n== cc:resume(%q, { wait = ... }): RUNNING again"):format(name))
status, err = cc:resume(name, { wait = wait_options(states) })
if not status then finish(1, err) end
print(("   %s is %s"):format(name, states(status)))

print(("\n== cc:alter_offsets(%q, ..., { wait = ... }): each partition %d records back, until APPLIED"):format(
  name, rewind))
local current = assert(cc:offsets(name))
local offsets = {}
for i, o in ipairs(current.offsets) do
  local to = math.max(0, o.offset.kafka_offset - rewind)
  print(("   %s/%s: %s -> %d (observed at %s)"):format(o.partition.kafka_topic, tostring(o.partition.kafka_partition),
    tostring(o.offset.kafka_offset), to, current.metadata.observed_at))
  offsets[i] = { partition = o.partition, offset = { kafka_offset = to } }
end
if #offsets == 0 then finish(1, name .. " has no offsets to move (is it a sink?)") end
local applied
applied, err = cc:alter_offsets(name, offsets, { wait = wait_options(function(st)
  return ("%s (requested at %s)"):format(st.status.phase, st.request.requested_at)
end) })
if not applied then finish(err.kind == "failed" and 1 or 3, err) end
print(("   the request made at %s was APPLIED at %s"):format(applied.request.requested_at,
  tostring(applied.applied_at)))
local now = assert(cc:offsets(name)).offsets[1]
print(("   %s/%s is now at %s"):format(now.partition.kafka_topic, tostring(now.partition.kafka_partition),
  tostring(now.offset.kafka_offset)))
print("\nact_then_wait done")
finish(0)
