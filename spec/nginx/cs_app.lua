-- Loaded inside the nginx of spec/nginx/*_ngx.lua (one process, so module state is the worker's): runs
-- driver_nginx requests that a spec POSTs as JSON and records what the worker observed, in order.
local core = require "connectstatus.core"
local driver_nginx = require "connectstatus.driver_nginx"

local M = { phases = {} }

function M.reset()
  M.events, M.seq, M.inflight, M.max_inflight = {}, 0, 0, 0
end
M.reset()

local function event(label, what)
  M.seq = M.seq + 1
  M.events[#M.events + 1] = { label = label, what = what, seq = M.seq }
end

local function respond(value)
  ngx.header["Content-Type"] = "application/json"
  ngx.print(core.json_encode(value))
end

local function request_spec()
  ngx.req.read_body()
  return assert(core.json_decode(ngx.req.get_body_data() or "{}"))
end

-- Everything a caller could reach on the driver without the debug library, as strings.
local function visible(driver)
  local seen = { tostring(driver) }
  for k, v in pairs(driver) do seen[#seen + 1] = tostring(k) .. "=" .. tostring(v) end
  return table.concat(seen, "\n")
end

-- POST /call {config = driver options, req = request, label = "..."}: the driver's answer.
function M.call()
  local spec = request_spec()
  local ok, driver = pcall(driver_nginx.new, spec.config)
  if not ok then return respond { raised = tostring(driver) } end
  local label = spec.label or "call"
  M.inflight = M.inflight + 1
  M.max_inflight = math.max(M.max_inflight, M.inflight)
  event(label, "start")
  local done, result, kind, message = pcall(driver.request, driver, spec.req)
  M.inflight = M.inflight - 1
  event(label, "end")
  if not done then return respond { raised = tostring(result), visible = visible(driver) } end
  respond { result = result, kind = kind, message = message, visible = visible(driver) }
end

-- GET /read?base=URL&path=PATH&label=L: a status read with the cosocket driver, for curl --parallel.
function M.read()
  local args = ngx.req.get_uri_args()
  local driver = driver_nginx.new { base_url = args.base, timeout = 10 }
  M.inflight = M.inflight + 1
  M.max_inflight = math.max(M.max_inflight, M.inflight)
  event(args.label or "read", "start")
  local result, kind, message = driver:request { method = "GET", path = args.path }
  M.inflight = M.inflight - 1
  event(args.label or "read", "end")
  ngx.print(result and ("status " .. result.status) or (kind .. ": " .. message), "\n")
end

-- A read with the blocking libcurl client: its status and decoded body.
local function curl_read(base, path)
  local client = core.new_client { base_url = base, headers = { "Accept: application/json" } }
  local r = assert(require("connectstatus.driver_curl").new(client):request { method = "GET", path = path,
    timeout = 10 })
  client:close()
  return r.status, r.value
end

-- GET /blocking?base=URL&path=PATH&label=L: the same read with the blocking libcurl client, which
-- stalls the whole worker until it is done (the contrast that shows the order checks can fail).
function M.blocking()
  local args = ngx.req.get_uri_args()
  event(args.label or "blocking", "start")
  local status = curl_read(args.base, args.path)
  event(args.label or "blocking", "end")
  ngx.print("status ", tostring(status), "\n")
end

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return getmetatable(a) == getmetatable(b)
end

-- GET /compare?base=URL&path=PATH: the fake reset and PATH read with the cosocket driver, then the
-- same with the libcurl client; whether both gave the same Lua value (compared here, in one VM),
-- and the driver's answer.
function M.compare()
  local args = ngx.req.get_uri_args()
  local driver = driver_nginx.new { base_url = args.base }
  assert(assert(driver:request { method = "POST", path = "/_fake/reset" }).status == 200)
  local result, kind, message = driver:request { method = "GET", path = args.path }
  if not result then return respond { kind = kind, message = message } end
  assert(assert(driver:request { method = "POST", path = "/_fake/reset" }).status == 200)
  local status, body = curl_read(args.base, args.path)
  respond { result = result, same = status == result.status and same(body, result.value) }
end

-- A Confluent client of the public API on base (the fake's demo ids and credentials).
local function confluent(base)
  return require("connectstatus").confluent { api_key = "k", api_secret = "s", environment = "env-demo",
    cluster = "lkc-demo", base_url = base, retry = { base = 0.05 } }
end

-- What a public-API call gave, for JSON: { value = } or { kind =, error = }.
local function outcome(value, err)
  if value ~= nil then return { value = value } end
  return { kind = err.kind, error = tostring(err) }
end

-- GET /client?base=URL&op=status|wait&name=NAME&label=L: a public-API call (status, or a
-- wait_for_state for RUNNING polling every 0.3 s), recorded like the reads.
function M.client()
  local args = ngx.req.get_uri_args()
  local cc = confluent(args.base)
  event(args.label or "client", "start")
  local value, err
  if args.op == "wait" then
    value, err = require("connectstatus").wait_for_state(cc, args.name, "RUNNING", { interval = 0.3, timeout = 10 })
  else
    value, err = cc:status(args.name)
  end
  event(args.label or "client", "end")
  cc:close()
  respond(outcome(value, err))
end

-- A status read of orders-sink in the current phase, recorded under phases[name .. "_read"].
function M.read_in_phase(name, base)
  local ok, value, err = pcall(function()
    local cc = confluent(base)
    local status, problem = cc:status("orders-sink")
    cc:close()
    return status, problem
  end)
  if not ok then
    M.phases[name .. "_read"] = "raised: " .. tostring(value)
  else
    M.phases[name .. "_read"] = value and value.connector.state or tostring(err)
  end
end

-- GET /ping: answered at once, and recorded.
function M.ping()
  event("ping", "end")
  ngx.print("pong")
end

-- GET /state: what the worker recorded; POST /state: forget it.
function M.state()
  if ngx.req.get_method() == "POST" then M.reset() end
  respond { events = M.events, max_inflight = M.max_inflight, phases = M.phases }
end

-- What driver_nginx.usable says in the current phase: "true", "false" or the error it raised.
function M.usable_here()
  local ok, value = pcall(driver_nginx.usable)
  if ok then return tostring(value) end
  return "raised: " .. tostring(value)
end

function M.record_phase(name)
  M.phases[name] = M.usable_here()
end

-- In init_worker: usable() and a sleep there, which must block rather than raise "API disabled";
-- with base (a fake's URL), a status read there and in a timer too.
function M.init_worker(base)
  M.record_phase("init_worker")
  local ok, err = pcall(driver_nginx.sleep, 0.001)
  M.phases.init_worker_sleep = ok and "slept" or tostring(err)
  if base then M.read_in_phase("init_worker", base) end
  ngx.timer.at(0, function()
    M.record_phase("timer")
    local slept, why = pcall(driver_nginx.sleep, 0.001)
    M.phases.timer_sleep = slept and "slept" or tostring(why)
    if base then M.read_in_phase("timer", base) end
  end)
end

return M
