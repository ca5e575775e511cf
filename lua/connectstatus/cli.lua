-- The connectstatus command line: one-shot reads, waits with progress, and a fleet health check.
-- main(argv) returns the exit status; bin/connectstatus passes it to os.exit.
local cs = require "connectstatus"
local pp = require "connectstatus.pp"

local M = {}

local EXIT = { ok = 0, failed = 1, usage = 2, timeout = 3, error = 4 }

M.HELP = [=[
Usage: connectstatus COMMAND [ARGS] [FLAGS]

Read and wait on the status of Confluent Cloud connectors and Feldera input connectors.

Commands:
  status NAME                          connector state, worker and tasks
  tasks NAME                           the connector's tasks
  list [--expand id,info,status]       connector names, or a table of the expansions
  offsets-status NAME                  the last alter-offsets request and its phase
  feldera-stats PIPELINE TABLE CONN    a Feldera input connector's stats
  wait NAME [--state RUNNING]          wait until the connector and its tasks reach a state
  wait-offsets NAME [--phase APPLIED]  wait until the offsets request reaches a phase
  wait-input PIPELINE TABLE CONN       wait until a Feldera connector has consumed all its input
  health                               the health of every connector, unhealthy ones listed
  help [COMMAND]                       this text, or a command's

Confluent Cloud (flags win over the environment):
  --base-url URL          API base URL [$CONNECTSTATUS_BASE_URL, else https://api.confluent.cloud]
  --environment ID        environment id [$CONFLUENT_ENVIRONMENT_ID]
  --cluster ID            Kafka cluster id [$CONFLUENT_KAFKA_CLUSTER_ID]
  --api-key KEY           Cloud API key [$CONFLUENT_CLOUD_API_KEY]
  --api-secret SECRET     Cloud API secret [$CONFLUENT_CLOUD_API_SECRET]; prefer the variable:
                          other users can read command lines in the process list
  --token TOKEN           Bearer token instead of key and secret [$CONFLUENT_CLOUD_TOKEN]
Feldera:
  --feldera-host URL      pipeline manager URL [$FELDERA_HOST]
  --feldera-api-key KEY   API key [$FELDERA_API_KEY]; prefer the variable
  --tenant NAME           Feldera-Tenant header [$FELDERA_TENANT]
Output and timing:
  --json                  machine-readable output on stdout (exact integers)
  --timeout S             waits: give up after S seconds (300); reads: HTTP time limit (30)
  --interval S            waits: seconds between polls, with jitter (5)
  --progress, --no-progress
                          waits: force the live progress line on or off (default: live on a
                          terminal, one line per change otherwise; always on stderr)
  --allow-insecure-http   allow credentials over plain http to a host that is not loopback
  -h, --help              help for the tool, or for a command after its name

Exit status: 0 done; 1 a failed state or phase (health: a failed or degraded connector);
2 usage error; 3 a wait timed out; 4 API or transport error.
]=]

-- Per command: how many positional arguments, its own flags, and its help.
local COMMANDS = {
  status = { args = { "NAME" }, help = [=[
Usage: connectstatus status NAME [--json]
The connector's state, worker and trace, and each task's state and message.
Exit 0; 4 on an API error (a missing connector is an API error: not_found).
]=] },
  tasks = { args = { "NAME" }, help = [=[
Usage: connectstatus tasks NAME [--json]
The connector's tasks (id and number of config keys; --json shows the config).
]=] },
  list = { args = {}, flags = { expand = true }, help = [=[
Usage: connectstatus list [--expand id,info,status] [--json]
Without --expand, the connector names; with it, one row per connector with the expansions
(--expand may be repeated or comma-separated).
]=] },
  ["offsets-status"] = { args = { "NAME" }, help = [=[
Usage: connectstatus offsets-status NAME [--json]
The last alter-offsets request of the connector: type, phase, requested_at, applied_at, message.
]=] },
  ["feldera-stats"] = { args = { "PIPELINE", "TABLE", "CONNECTOR" }, help = [=[
Usage: connectstatus feldera-stats PIPELINE TABLE CONNECTOR [--json]
A Feldera input connector's metrics (exact 64-bit counters) and any fatal error.
]=] },
  wait = { args = { "NAME" }, wait = true,
    flags = { state = true, ["failed-grace"] = true, ["allow-missing"] = true, ["no-tasks"] = true }, help = [=[
Usage: connectstatus wait NAME [--state RUNNING[,STATE...]] [--timeout S] [--interval S]
                               [--failed-grace S] [--allow-missing] [--no-tasks]
Waits until the connector is in one of the states and so is every task (RUNNING also needs at
least one task). A FAILED connector or task ends the wait at once with its trace (exit 1) unless it
recovers within --failed-grace seconds; DELETED fails too. PROVISIONING, DEGRADED, PAUSED and other
states keep waiting, and so do 429s, 5xx and network errors; 401, 403 and 400 end it (exit 4).
  --state LIST        target states, comma-separated (default RUNNING)
  --failed-grace S    tolerate a FAILED that recovers within S seconds (default 0)
  --allow-missing     a connector that does not exist yet (404) is still pending
  --no-tasks          judge the connector state only, not its tasks
Exit 0 reached, 1 failed, 3 timed out (the last status is printed), 4 API error.
]=] },
  ["wait-offsets"] = { args = { "NAME" }, wait = true,
    flags = { phase = true, since = true, ["allow-missing"] = true }, help = [=[
Usage: connectstatus wait-offsets NAME [--phase APPLIED] [--since TIME] [--timeout S] [--interval S]
Waits until the connector's alter-offsets request reaches the phase. PENDING, PENDING_VALIDATION and
unknown phases keep waiting; FAILED ends it with the request's message (exit 1).
  --phase PHASE       target phase (default APPLIED)
  --since TIME        ignore requests older than TIME (epoch seconds or e.g. 2024-02-20T15:14:19Z),
                      so that a previous APPLIED request is not taken for a new one
  --allow-missing     no request yet (404) is still pending
Exit 0 reached, 1 failed, 3 timed out, 4 API error.
]=] },
  ["wait-input"] = { args = { "PIPELINE", "TABLE", "CONNECTOR" }, wait = true,
    flags = { ["allow-missing"] = true }, help = [=[
Usage: connectstatus wait-input PIPELINE TABLE CONNECTOR [--timeout S] [--interval S]
Waits until the Feldera input connector has signalled end of input and buffers no records.
A fatal_error ends it (exit 1); 503 (pipeline not deployed yet) keeps waiting.
  --allow-missing     an unknown pipeline or connector (404) is still pending
Exit 0 done, 1 failed, 3 timed out, 4 API error.
]=] },
  health = { args = {}, help = [=[
Usage: connectstatus health [--json]
Reads every connector with its status and prints the counts per state and per health, then each
connector that is not healthy with its reasons. Health: failed (FAILED or DELETED), degraded
(DEGRADED, PAUSED, or a task that is FAILED or not RUNNING under a RUNNING connector), pending
(PROVISIONING, no tasks yet, unknown states) or healthy.
Exit 0 when nothing is failed or degraded (pending is fine), 1 otherwise, 4 on an API error.
]=] },
}

-- Flags every command takes; true = takes a value, false = a switch.
local COMMON = {
  ["base-url"] = true, environment = true, cluster = true, ["api-key"] = true, ["api-secret"] = true,
  token = true, ["feldera-host"] = true, ["feldera-api-key"] = true, tenant = true, timeout = true,
  interval = true, json = false, progress = false, ["no-progress"] = false, ["allow-insecure-http"] = false,
  help = false,
}
local SWITCHES = { ["allow-missing"] = true, ["no-tasks"] = true }

-- ---- output ----

local function out(...) io.stdout:write(...) end
local function say(...) io.stderr:write(...) end

-- A cell's text: integers exact, nil as "-", first line of multi-line strings.
local function cell(v)
  if v == nil or v == cs.null then return "-" end
  if type(v) == "string" then return (v:match("^[^\r\n]*")) end
  return pp.format(v)
end

local function print_table(headers, rows)
  local widths = {}
  for i, h in ipairs(headers) do widths[i] = #h end
  for _, row in ipairs(rows) do
    for i = 1, #headers do
      row[i] = cell(row[i])
      widths[i] = math.max(widths[i], #row[i])
    end
  end
  local function line(cells)
    local parts = {}
    for i = 1, #headers do
      parts[i] = i < #headers and cells[i] .. (" "):rep(widths[i] - #cells[i]) or cells[i]
    end
    out(table.concat(parts, "  "), "\n")
  end
  line(headers)
  for _, row in ipairs(rows) do line(row) end
end

local function print_json(v)
  local text, err = cs.json.encode(v)
  if not text then error("cannot encode output as JSON: " .. tostring(err), 0) end
  out(text, "\n")
end

-- ---- argument parsing ----

local function usage_error(message, command)
  return { usage = message, command = command }
end

local function flag_spec(command, name)
  if COMMON[name] ~= nil then return COMMON[name] end
  local own = command and COMMANDS[command] and COMMANDS[command].flags
  if own and own[name] then return not SWITCHES[name] end
  return nil
end

local function add_flag(flags, name, value)
  if name == "expand" and flags.expand then
    flags.expand = flags.expand .. "," .. value
  else
    flags[name] = value
  end
end

-- -> { command, args, flags } or a usage error
local function parse(argv)
  local parsed = { args = {}, flags = {} }
  local i, only_args = 1, false
  while i <= #argv do
    local a = argv[i]
    if only_args or a:sub(1, 1) ~= "-" or a == "-" then
      if parsed.command then parsed.args[#parsed.args + 1] = a else parsed.command = a end
    elseif a == "--" then
      only_args = true
    else
      local name, value = a:match("^%-%-([%w-]+)=(.*)$")
      name = name or (a == "-h" and "help") or a:match("^%-%-([%w-]+)$")
      local takes_value = name and flag_spec(parsed.command, name)
      -- Named without its value: a mistyped --api-secret=... must not echo the secret.
      if takes_value == nil then return usage_error("unknown flag " .. a:match("^[^=]*"), parsed.command) end
      if takes_value and value == nil then
        i = i + 1
        value = argv[i]
        if value == nil then return usage_error("flag --" .. name .. " needs a value", parsed.command) end
      elseif not takes_value and value ~= nil then
        return usage_error("flag --" .. name .. " takes no value", parsed.command)
      end
      add_flag(parsed.flags, name, value == nil and true or value)
    end
    i = i + 1
  end
  return parsed
end

local function seconds(flags, name, default, positive)
  local v = flags[name]
  if v == nil then return default end
  local n = tonumber(v)
  if not n or n ~= n or n < 0 or (positive and n == 0) then
    error(usage_error(("--%s must be a %s number of seconds, got %s"):format(name,
      positive and "positive" or "non-negative", v)), 0)
  end
  return n
end

local function list_flag(value)
  local items = {}
  for item in tostring(value):gmatch("[^,%s]+") do items[#items + 1] = item end
  return items
end

-- ---- clients ----

local function setting(flags, name, env)
  local v = flags[name]
  if v == nil and env then v = os.getenv(env) end
  if v == "" then return nil end
  return v
end

-- Constructor errors are usage errors (missing or malformed options); strip the Lua position.
local function construct(make, opts)
  local ok, client = pcall(make, opts)
  if not ok then error(usage_error((tostring(client):gsub("^[^:]*:%d+: ", ""))), 0) end
  return client
end

local function require_setting(value, what)
  if value == nil then error(usage_error("missing " .. what), 0) end
  return value
end

local function confluent_client(flags, http_timeout)
  local key = setting(flags, "api-key", "CONFLUENT_CLOUD_API_KEY")
  local secret = setting(flags, "api-secret", "CONFLUENT_CLOUD_API_SECRET")
  local token = setting(flags, "token", "CONFLUENT_CLOUD_TOKEN")
  -- A flag names the credential meant for this run, even when the environment holds the other kind.
  if flags.token then key, secret = nil, nil elseif key or secret then token = nil end
  if not token and not (key and secret) then
    error(usage_error("missing credentials: set CONFLUENT_CLOUD_API_KEY and CONFLUENT_CLOUD_API_SECRET " ..
      "(or CONFLUENT_CLOUD_TOKEN)"), 0)
  end
  return construct(cs.confluent, {
    api_key = key, api_secret = secret, token = token,
    environment = require_setting(setting(flags, "environment", "CONFLUENT_ENVIRONMENT_ID"),
      "environment: --environment or CONFLUENT_ENVIRONMENT_ID"),
    cluster = require_setting(setting(flags, "cluster", "CONFLUENT_KAFKA_CLUSTER_ID"),
      "cluster: --cluster or CONFLUENT_KAFKA_CLUSTER_ID"),
    base_url = setting(flags, "base-url", "CONNECTSTATUS_BASE_URL"),
    timeout = http_timeout, allow_insecure_http = flags["allow-insecure-http"] == true,
  })
end

local function feldera_client(flags, http_timeout)
  return construct(cs.feldera, {
    base_url = require_setting(setting(flags, "feldera-host", "FELDERA_HOST"),
      "Feldera host: --feldera-host or FELDERA_HOST"),
    api_key = setting(flags, "feldera-api-key", "FELDERA_API_KEY"),
    tenant = setting(flags, "tenant", "FELDERA_TENANT"),
    timeout = http_timeout, allow_insecure_http = flags["allow-insecure-http"] == true,
  })
end

-- ---- human renderings ----

local function print_trace(title, trace)
  if type(trace) == "string" and trace:find("%S") then
    out("\n", title, ":\n", (trace:gsub("\n?$", "\n")))
  end
end

local function show_status(s)
  local c = type(s.connector) == "table" and s.connector or {}
  local verdict = cs.health(s)
  print_table({ "CONNECTOR", "TYPE", "STATE", "WORKER", "HEALTH" },
    { { s.name, s.type, c.state, c.worker_id, verdict } })
  local rows = {}
  for _, t in ipairs(type(s.tasks) == "table" and s.tasks or {}) do
    rows[#rows + 1] = { t.id, t.state, t.worker_id, t.msg ~= "" and t.msg or nil }
  end
  if #rows > 0 then
    out("\n")
    print_table({ "TASK", "STATE", "WORKER", "MESSAGE" }, rows)
  end
  print_trace("connector trace", c.trace)
  for _, t in ipairs(type(s.tasks) == "table" and s.tasks or {}) do
    print_trace("task " .. cell(t.id) .. " trace", t.trace)
  end
end

local function show_tasks(tasks)
  local rows = {}
  for _, t in ipairs(tasks) do
    local id = type(t.id) == "table" and t.id or {}
    local keys = 0
    for _ in pairs(type(t.config) == "table" and t.config or {}) do keys = keys + 1 end
    rows[#rows + 1] = { id.task, id.connector, keys }
  end
  print_table({ "TASK", "CONNECTOR", "CONFIG_KEYS" }, rows)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function show_list(result, expand)
  if #expand == 0 then
    for _, name in ipairs(result) do out(name, "\n") end
    return
  end
  local rows = {}
  for _, name in ipairs(sorted_keys(result)) do
    local e = result[name]
    local id, info, s = e.id or {}, e.info or {}, e.status
    local config = type(info.config) == "table" and info.config or {}
    local c = s and type(s.connector) == "table" and s.connector or {}
    rows[#rows + 1] = { name, id.id, info.type, config["connector.class"], c.state, s and (cs.health(s)) }
  end
  print_table({ "NAME", "ID", "TYPE", "CLASS", "STATE", "HEALTH" }, rows)
end

local function show_offsets(st)
  local request = type(st.request) == "table" and st.request or {}
  local status = type(st.status) == "table" and st.status or {}
  print_table({ "CONNECTOR", "TYPE", "PHASE", "REQUESTED_AT", "APPLIED_AT" },
    { { request.name, request.type, status.phase, request.requested_at, st.applied_at } })
  if status.message then out("\nmessage: ", tostring(status.message), "\n") end
end

local function show_stats(st)
  local m = type(st.metrics) == "table" and st.metrics or {}
  local rows = {}
  for _, k in ipairs(sorted_keys(m)) do rows[#rows + 1] = { k, m[k] } end
  rows[#rows + 1] = { "paused", st.paused }
  out("endpoint ", cell(st.endpoint_name), "\n")
  print_table({ "METRIC", "VALUE" }, rows)
  if st.fatal_error then out("\nfatal_error: ", tostring(st.fatal_error), "\n") end
end

local function show_health(summary)
  local h = summary.health
  out(("%d connectors: %d healthy, %d degraded, %d failed, %d pending\n"):format(summary.total,
    h.healthy, h.degraded, h.failed, h.pending))
  local states = {}
  for _, state in ipairs(sorted_keys(summary.states)) do
    states[#states + 1] = state .. "=" .. summary.states[state]
  end
  if #states > 0 then out("states: ", table.concat(states, " "), "\n") end
  if #summary.unhealthy == 0 then return end
  local rows = {}
  for _, u in ipairs(summary.unhealthy) do
    for i, reason in ipairs(u.reasons) do
      rows[#rows + 1] = { i == 1 and u.name or "", i == 1 and u.health or "", reason }
    end
  end
  out("\n")
  print_table({ "NAME", "HEALTH", "REASON" }, rows)
end

-- ---- progress of waits ----

local function stderr_is_terminal()
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" then return false end
  local r = os.execute("test -t 2")
  return r == true or r == 0
end

local function progress_mode(flags)
  if flags["no-progress"] then return "lines" end
  if flags.progress or stderr_is_terminal() then return "live" end
  return "lines"
end

-- An on_poll callback that shows describe(value) live on a terminal, else once per change.
local function progress(flags, describe)
  local live = progress_mode(flags) == "live"
  local shown
  local reporter = {}
  function reporter.on_poll(value, elapsed, err)
    local text = value ~= nil and describe(value) or ("read failed (" .. tostring(err and err.kind) .. "), retrying")
    if live then
      say(("\r\27[K%s  %.1fs"):format(text, elapsed))
    elseif text ~= shown then
      say(("[%6.1fs] %s\n"):format(elapsed, text))
    end
    shown = text
  end
  function reporter.finish()
    if live and shown then say("\n") end
  end
  return reporter
end

local function describe_status(s)
  local c = type(s.connector) == "table" and s.connector or {}
  local tasks = type(s.tasks) == "table" and s.tasks or {}
  local states = {}
  for _, t in ipairs(tasks) do states[#states + 1] = tostring(t.id) .. ":" .. tostring(t.state) end
  return ("%s  %s  tasks [%s]"):format(cell(s.name), cell(c.state), table.concat(states, " "))
end

local function describe_offsets(st)
  local status = type(st.status) == "table" and st.status or {}
  local request = type(st.request) == "table" and st.request or {}
  return ("%s  offsets %s  requested %s"):format(cell(request.name), cell(status.phase), cell(request.requested_at))
end

local function describe_stats(st)
  local m = type(st.metrics) == "table" and st.metrics or {}
  return ("%s  records %s  buffered %s  end_of_input %s"):format(cell(st.endpoint_name), cell(m.total_records),
    cell(m.buffered_records), cell(m.end_of_input))
end

-- ---- results and errors ----

local ERROR_FIELDS = { "kind", "message", "status", "code", "request_id", "retry_after", "url", "task", "msg",
  "trace", "state", "fatal_error", "attempts" }

local function report_error(err, json)
  say(tostring(err), "\n") -- already "connectstatus: KIND: message"
  if json then
    local e = {}
    for _, k in ipairs(ERROR_FIELDS) do e[k] = err[k] end
    print_json({ error = e, last = err.last })
  end
end

-- A wait's own deadline is the only timeout a wait returns: read timeouts just keep it polling.
local function exit_for(err, waiting)
  if err.kind == "failed" then return EXIT.failed end
  if waiting and err.kind == "timeout" then return EXIT.timeout end
  return EXIT.error
end

-- ---- commands ----

local RUN = {}

function RUN.status(ctx) return ctx.confluent():status(ctx.args[1]) end
function RUN.tasks(ctx) return ctx.confluent():tasks(ctx.args[1]) end
RUN["offsets-status"] = function(ctx) return ctx.confluent():offset_request_status(ctx.args[1]) end
RUN["feldera-stats"] = function(ctx) return ctx.feldera():input_stats(ctx.args[1], ctx.args[2], ctx.args[3]) end

function RUN.list(ctx)
  local expand = list_flag(ctx.flags.expand or "")
  for _, e in ipairs(expand) do
    if e ~= "id" and e ~= "info" and e ~= "status" then
      error(usage_error("--expand takes id, info and status, got " .. e, "list"), 0)
    end
  end
  ctx.expand = expand
  return ctx.confluent():list(#expand > 0 and { expand = expand } or nil)
end

function RUN.health(ctx)
  local result, err = ctx.confluent():list { expand = { "status" } }
  if not result then return nil, err end
  return cs.summarize(result)
end

local function wait_opts(ctx, describe)
  local reporter = progress(ctx.flags, describe)
  ctx.finish = reporter.finish
  return {
    timeout = ctx.wait_timeout, interval = seconds(ctx.flags, "interval", 5, true),
    on_poll = reporter.on_poll, allow_missing = ctx.flags["allow-missing"] == true,
  }
end

function RUN.wait(ctx)
  local opts = wait_opts(ctx, describe_status)
  opts.failed_grace = seconds(ctx.flags, "failed-grace", 0)
  opts.tasks = not ctx.flags["no-tasks"]
  local states = list_flag(ctx.flags.state or "RUNNING")
  if #states == 0 then error(usage_error("--state needs at least one state", "wait"), 0) end
  return ctx.confluent():wait_for_state(ctx.args[1], states, opts)
end

RUN["wait-offsets"] = function(ctx)
  local opts = wait_opts(ctx, describe_offsets)
  local since = ctx.flags.since
  if since ~= nil then
    since = tonumber(since) or since
    if type(since) == "string" and not require("connectstatus.timefmt").parse(since) then
      error(usage_error("--since must be epoch seconds or a timestamp like 2024-02-20T15:14:19Z", "wait-offsets"), 0)
    end
    opts.since = since
  end
  return ctx.confluent():wait_for_offset_phase(ctx.args[1], ctx.flags.phase or "APPLIED", opts)
end

RUN["wait-input"] = function(ctx)
  local opts = wait_opts(ctx, describe_stats)
  return ctx.feldera():wait_for_end_of_input(ctx.args[1], ctx.args[2], ctx.args[3], opts)
end

local SHOW = {
  status = show_status, wait = show_status, tasks = show_tasks,
  ["offsets-status"] = show_offsets, ["wait-offsets"] = show_offsets,
  ["feldera-stats"] = show_stats, ["wait-input"] = show_stats, health = show_health,
}

local function show(ctx, result)
  if ctx.flags.json then
    print_json(result)
  elseif ctx.command == "list" then
    show_list(result, ctx.expand)
  else
    SHOW[ctx.command](result)
  end
end

local function result_exit(command, result)
  if command ~= "health" then return EXIT.ok end
  return (result.health.failed + result.health.degraded > 0) and EXIT.failed or EXIT.ok
end

local function context(parsed)
  local spec = COMMANDS[parsed.command]
  local ctx = { command = parsed.command, args = parsed.args, flags = parsed.flags }
  ctx.wait_timeout = spec.wait and seconds(parsed.flags, "timeout", 300) or nil
  -- A wait bounds its HTTP transfers too (at least 1 s, at most the usual 30 s).
  local http_timeout = spec.wait and math.min(30, math.max(ctx.wait_timeout, 1))
    or seconds(parsed.flags, "timeout", nil, true)
  ctx.confluent = function() return confluent_client(parsed.flags, http_timeout) end
  ctx.feldera = function() return feldera_client(parsed.flags, http_timeout) end
  return ctx
end

local function run_command(parsed)
  local spec = COMMANDS[parsed.command]
  if #parsed.args ~= #spec.args then
    error(usage_error(("%s takes %s"):format(parsed.command,
      #spec.args == 0 and "no arguments" or table.concat(spec.args, " ")), parsed.command), 0)
  end
  local ctx = context(parsed)
  local result, err = RUN[parsed.command](ctx)
  if ctx.finish then ctx.finish() end
  if result == nil then
    report_error(err, parsed.flags.json)
    if err.last and not parsed.flags.json then
      out("last seen:\n")
      SHOW[parsed.command](err.last)
    end
    return exit_for(err, spec.wait)
  end
  show(ctx, result)
  return result_exit(parsed.command, result)
end

local function help(command)
  if not command then
    out(M.HELP)
    return EXIT.ok
  end
  out(COMMANDS[command].help, "Common flags (credentials, --json, --timeout...): connectstatus --help\n")
  return EXIT.ok
end

local function usage(u)
  say("connectstatus: ", u.usage, "\n")
  say("Run 'connectstatus ", u.command and COMMANDS[u.command] and u.command .. " --help" or "--help",
    "' for usage.\n")
  return EXIT.usage
end

local function dispatch(parsed)
  if parsed.command == "help" then
    if parsed.args[1] and not COMMANDS[parsed.args[1]] then
      return usage(usage_error("unknown command " .. parsed.args[1]))
    end
    return help(parsed.args[1])
  end
  if parsed.flags.help then return help(COMMANDS[parsed.command] and parsed.command) end
  if parsed.command == nil then return usage(usage_error("a command is needed")) end
  if not COMMANDS[parsed.command] then return usage(usage_error("unknown command " .. parsed.command)) end
  return run_command(parsed)
end

function M.main(argv)
  local args = {}
  for i = 1, #(argv or {}) do args[i] = argv[i] end
  local parsed = parse(args)
  if parsed.usage then
    if parsed.command and not COMMANDS[parsed.command] then parsed.command = nil end
    return usage(parsed)
  end
  local ok, code = pcall(dispatch, parsed)
  if ok then return code end
  if type(code) == "table" and code.usage then return usage(code) end
  say("connectstatus: internal error: ", tostring(code), "\n")
  return EXIT.error
end

return M
