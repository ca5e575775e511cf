-- The connectstatus command line: one-shot reads, waits with progress, fleet health, contexts.
-- main(argv) returns the exit status; bin/connectstatus passes it to os.exit.
-- A command is one entry of COMMANDS (its arguments, flags, help, and how it runs and shows);
-- settings come from flags, the environment and contexts through one table, SETTINGS.
local cs = require "connectstatus"
local core = require "connectstatus.core"
local options = require "connectstatus.options"
local status = require "connectstatus.status"
local output = require "connectstatus.cli.output"
local contexts = require "connectstatus.cli.context"
local health = require "connectstatus.health"
local errors = require "connectstatus.errors"

local M = {}

-- Reads of several names at once (cs.map's parallel).
local PARALLEL = 8

local EXIT = { ok = 0, failed = 1, usage = 2, timeout = 3, error = 4, interrupted = 130 }

M.HELP = [=[
Usage: connectstatus [FLAGS] COMMAND [ARGS] [FLAGS]

Read, change and wait on Confluent Cloud and Kafka Connect connectors and Feldera pipelines.

Commands (several NAMEs are read at once):
  status NAME...                       connector state, worker and tasks
  tasks NAME...                        the connectors' tasks
  list [--names] [--expand LIST]       NAME TYPE STATE TASKS of every connector
  check NAME...                        the health of these connectors (exit status as health's)
  health                               the health of every connector, unhealthy ones listed
  offsets NAME...                      the connectors' current offsets
  offsets-status NAME...               the last alter-offsets request and its phase (Confluent)
  feldera-stats PIPELINE TABLE CONN    a Feldera input connector's stats
  feldera-output-stats PIPE VIEW CONN  a Feldera output connector's stats
  pipeline-stats PIPELINE              a Feldera pipeline's health, metrics and endpoints
  wait NAME... [--state RUNNING]       wait until the connectors and their tasks reach a state
  wait-offsets NAME [--phase APPLIED]  wait until the offsets request reaches a phase
  wait-input PIPELINE TABLE CONN       wait until a Feldera connector has consumed all its input
  wait-completion PIPELINE TABLE CONN  wait until Feldera has processed what the connector took in
Actions (--wait: then wait for the outcome; --dry-run: print the request, send nothing):
  pause NAME, resume NAME              pause or resume a connector
  restart NAME [--failed-only] [--include-tasks] [--task ID]
                                       restart a Kafka Connect connector (its tasks, or one)
  stop NAME                            stop a Kafka Connect connector
  alter-offsets NAME FILE|-            send offsets (JSON in the API's format)
  reset-offsets NAME [--yes]           reset every offset (asks first; --yes in a pipe)
  pause-input, start-input PIPELINE TABLE CONN
                                       pause or start a Feldera input connector
Other:
  context list|use NAME|show [NAME]    the named contexts of the config file
  fake [--port N] [--scenario S]       run the bundled fake API until Ctrl-C
  help [COMMAND]                       this text, or a command's

Settings come from flags, else from the context named by --context, else from the environment,
else from the config file's current context (see connectstatus context --help).
  --context NAME          use this context [$CONNECTSTATUS_CONTEXT]
Confluent Cloud:
  --base-url URL          API base URL [$CONNECTSTATUS_BASE_URL, else https://api.confluent.cloud]
  --environment ID        environment id [$CONFLUENT_ENVIRONMENT_ID]
  --cluster ID            Kafka cluster id [$CONFLUENT_KAFKA_CLUSTER_ID]
  --api-key KEY           Cloud API key [$CONFLUENT_CLOUD_API_KEY]
  --api-secret SECRET     Cloud API secret [$CONFLUENT_CLOUD_API_SECRET]; prefer the variable:
                          other users can read command lines in the process list
  --token TOKEN           Bearer token instead of key and secret [$CONFLUENT_CLOUD_TOKEN]
Kafka Connect (when given, the connector commands talk to this worker instead):
  --connect-url URL       the worker's REST URL [$CONNECT_URL]
  --connect-user USER     Basic auth user [$CONNECT_USER]; the password only from $CONNECT_PASSWORD
Feldera:
  --feldera-host URL      pipeline manager URL [$FELDERA_HOST]
  --feldera-api-key KEY   API key [$FELDERA_API_KEY]; prefer the variable
  --tenant NAME           Feldera-Tenant header [$FELDERA_TENANT]
Connection:
  --proxy URL             send the API requests through this proxy
  --cacert FILE           verify the API's certificate with these CA certificates (PEM)
  --allow-insecure-http   allow credentials over plain http to a host that is not loopback
Output and timing:
  -o, --output FORMAT     table (default), json, jsonl (one object per connector), or
                          prometheus (health and check: node_exporter textfile gauges)
  --json                  the same as -o json: one document on stdout, sorted keys, exact
                          integers, {"error": {...}} on failure
  -q, --quiet             print nothing but usage errors: the exit status tells
  --timeout S             waits and --wait: give up after S seconds (300); else HTTP time limit (30)
  --interval S            waits and --wait: seconds between polls, with jitter (5)
  --heartbeat S           waits in a pipe: repeat an unchanged progress line every S seconds (30)
  --progress, --no-progress
                          waits: force the live progress line on or off (default: live on a
                          terminal, one line per change otherwise; always on stderr)
  -h, --help              help for the tool, or for a command after its name
  --version               the version and the Lua it runs on

Exit status: 0 done; 1 a failed state or phase (health, check: a failed or degraded connector;
reset-offsets: not confirmed); 2 usage error; 3 a wait timed out; 4 API, transport or output error.
]=]

-- ---- settings: flag, variable and context key of each ----

local SETTINGS = {
  base_url = { flag = "base-url", env = "CONNECTSTATUS_BASE_URL" },
  environment = { flag = "environment", env = "CONFLUENT_ENVIRONMENT_ID" },
  cluster = { flag = "cluster", env = "CONFLUENT_KAFKA_CLUSTER_ID" },
  api_key = { flag = "api-key", env = "CONFLUENT_CLOUD_API_KEY" },
  api_secret = { flag = "api-secret", env = "CONFLUENT_CLOUD_API_SECRET" },
  token = { flag = "token", env = "CONFLUENT_CLOUD_TOKEN" },
  feldera_host = { flag = "feldera-host", env = "FELDERA_HOST" },
  feldera_api_key = { flag = "feldera-api-key", env = "FELDERA_API_KEY" },
  tenant = { flag = "tenant", env = "FELDERA_TENANT" },
  connect_url = { flag = "connect-url", env = "CONNECT_URL" },
  connect_user = { flag = "connect-user", env = "CONNECT_USER" },
  connect_password = { env = "CONNECT_PASSWORD" },
  proxy = { flag = "proxy" },
  cacert = { flag = "cacert" },
}

-- Library option names in constructor errors, as the CLI user knows them.
local OPTION_WORDS = {
  base_url = "--base-url", api_key = "--api-key", api_secret = "--api-secret", token = "--token",
  environment = "--environment", cluster = "--cluster", tenant = "--tenant", proxy = "--proxy",
  cafile = "--cacert", timeout = "--timeout", allow_insecure_http = "--allow-insecure-http",
}

-- Flags every command takes; true = takes a value, false = a switch.
local COMMON = {
  context = true, ["base-url"] = true, environment = true, cluster = true, ["api-key"] = true,
  ["api-secret"] = true, token = true, ["feldera-host"] = true, ["feldera-api-key"] = true, tenant = true,
  ["connect-url"] = true, ["connect-user"] = true, proxy = true, cacert = true, ["allow-insecure-http"] = false,
  output = true, json = false, quiet = false,
  timeout = true, interval = true, heartbeat = true, progress = false, ["no-progress"] = false, help = false,
  version = false,
}
local SHORT = { h = "help", o = "output", q = "quiet" }
local REPEATABLE = { expand = true, state = true, ["ignore-state"] = true, only = true, exclude = true }
local FORMATS = { table = true, json = true, jsonl = true, prometheus = true }

-- ---- commands (the table each command is one entry of; filled below) ----

local COMMANDS = {}
local ORDER = { "status", "tasks", "list", "check", "health", "offsets", "offsets-status", "feldera-stats",
  "feldera-output-stats", "pipeline-stats", "wait", "wait-offsets", "wait-input", "wait-completion", "pause", "resume",
  "restart", "stop", "alter-offsets", "reset-offsets", "pause-input", "start-input", "context", "fake", "help" }

-- Every flag name any command takes, with whether it takes a value: flags may come before the
-- command, so a value is recognised before the command is known.
local function all_flags()
  local all = {}
  for k, v in pairs(COMMON) do all[k] = v end
  for _, spec in pairs(COMMANDS) do
    for k, v in pairs(spec.flags or {}) do all[k] = v end
  end
  return all
end

local function usage_error(message, command)
  return { usage = message, command = command }
end

local function raise_usage(message, command)
  error(usage_error(message, command), 0)
end

local function flag_names(command)
  local names = {}
  for k in pairs(COMMON) do names[#names + 1] = k end
  for k in pairs(command and COMMANDS[command] and COMMANDS[command].flags or {}) do names[#names + 1] = k end
  table.sort(names)
  return names
end

local function owners_of(flag)
  local owners = {}
  for _, name in ipairs(ORDER) do
    if COMMANDS[name].flags and COMMANDS[name].flags[flag] ~= nil then owners[#owners + 1] = name end
  end
  return owners
end

-- ---- argument parsing ----

local function add_flag(flags, name, value)
  if REPEATABLE[name] and flags[name] then
    flags[name] = flags[name] .. "," .. value
  else
    flags[name] = value
  end
end

-- "--name=value", "--name", "-o json", "-ojson", "-h" -> name, inline value (or nil); nil if not a flag.
local function split_flag(a)
  local name, value = a:match("^%-%-([%w-]+)=(.*)$")
  if name then return name, value end
  name = a:match("^%-%-([%w-]+)$")
  if name then return name end
  local short, rest = a:match("^%-(%a)(.*)$")
  if short and SHORT[short] then return SHORT[short], rest ~= "" and rest or nil end
  return nil
end

-- -> { command, args, flags } or a usage error; flags may come before or after the command.
local function parse(argv)
  local parsed = { args = {}, flags = {} }
  local known = all_flags()
  local i, only_args = 1, false
  while i <= #argv do
    local a = argv[i]
    if only_args or a:sub(1, 1) ~= "-" or a == "-" then
      if parsed.command then parsed.args[#parsed.args + 1] = a else parsed.command = a end
    elseif a == "--" then
      only_args = true
    else
      local name, value = split_flag(a)
      local takes_value = name and known[name]
      -- Named without its value: a mistyped --api-secret=... must not echo the secret.
      if takes_value == nil then
        local shown = a:match("^[^=]*")
        local guess = options.did_you_mean((shown:gsub("^%-+", "")), flag_names(parsed.command), "--")
        return usage_error("unknown flag " .. shown .. guess, parsed.command)
      end
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

-- Each flag given must belong to the command (or be common to all).
local function check_flags(parsed)
  local own = COMMANDS[parsed.command].flags or {}
  local names = {}
  for name in pairs(parsed.flags) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    if COMMON[name] == nil and own[name] == nil then
      local owners = owners_of(name)
      raise_usage(("unknown flag --%s for %s (%s takes it)"):format(name, parsed.command,
        table.concat(owners, ", ")), parsed.command)
    end
  end
end

local function number_flag(flags, name, default, check, what)
  local v = flags[name]
  if v == nil then return default end
  local n = tonumber(v)
  if not n or n ~= n or not check(n) then raise_usage(("--%s must be %s, got %s"):format(name, what, v)) end
  return n
end

local function seconds(flags, name, default, positive)
  return number_flag(flags, name, default, function(n) return n >= 0 and (not positive or n > 0) end,
    ("a %s number of seconds"):format(positive and "positive" or "non-negative"))
end

local function list_flag(value)
  local items = {}
  for item in tostring(value or ""):gmatch("[^,%s]+") do items[#items + 1] = item end
  return items
end

local function wants_json(argv)
  for i, a in ipairs(argv) do
    if a == "--json" or a == "--output=json" or a == "-ojson" then return true end
    if (a == "-o" or a == "--output") and argv[i + 1] == "json" then return true end
  end
  return false
end

-- ---- settings and clients ----

-- get(name) -> the setting from the flag, the --context context, the environment, or the
-- current context, in that order.
local function settings(flags)
  local config, explicit_ctx, current_ctx
  local explicit = flags.context or os.getenv("CONNECTSTATUS_CONTEXT")
  if explicit == "" then explicit = nil end
  local function load()
    if config then return end
    config = contexts.load()
    explicit_ctx = contexts.get(config, explicit, " (--context or $CONNECTSTATUS_CONTEXT)")
    if not explicit then
      local where = " (the current context in " .. tostring(contexts.path()) .. ")"
      current_ctx = contexts.get(config, config.current, where)
    end
  end
  return function(name)
    local spec = SETTINGS[name]
    local v = spec.flag and flags[spec.flag]
    if v == nil then
      load()
      v = contexts.value(explicit_ctx, name, explicit)
      if v == nil and spec.env then v = os.getenv(spec.env) end
      if v == nil then v = contexts.value(current_ctx, name, config.current) end
    end
    if v == "" then return nil end
    return v
  end
end

-- words: names that differ for this client (Kafka Connect's base_url is --connect-url).
local function in_cli_words(message, words)
  message = tostring(message):gsub("^[^:]*:%d+: ", "")
  for option, flag in pairs(words or {}) do
    message = message:gsub("'" .. option .. "'", flag):gsub("%f[%w_]" .. option .. "%f[^%w_]", flag)
  end
  for option, flag in pairs(OPTION_WORDS) do
    message = message:gsub("'" .. option .. "'", flag):gsub("%f[%w_]" .. option .. "%f[^%w_]", flag)
  end
  return message
end

-- Constructor errors are usage errors (missing or malformed settings), in the CLI's words.
local function construct(make, opts, words)
  local ok, client = pcall(make, opts)
  if not ok then raise_usage(in_cli_words(client, words)) end
  return client
end

local function require_setting(value, what)
  if value == nil then raise_usage("missing " .. what) end
  return value
end

-- driver: the --dry-run recorder, or nil to send.
local function connection(get, flags, http_timeout, driver)
  return {
    timeout = http_timeout, allow_insecure_http = flags["allow-insecure-http"] == true,
    proxy = get("proxy"), cafile = get("cacert"), driver = driver, retry = driver and { attempts = 1 } or nil,
  }
end

local function confluent_client(flags, http_timeout, driver)
  local get = settings(flags)
  local key, secret, token = get("api_key"), get("api_secret"), get("token")
  -- A flag names the credential meant for this run, even when the environment holds the other kind.
  if flags.token then key, secret = nil, nil elseif key or secret then token = nil end
  if not token and not (key and secret) then
    raise_usage("missing credentials: set CONFLUENT_CLOUD_API_KEY and CONFLUENT_CLOUD_API_SECRET " ..
      "(or CONFLUENT_CLOUD_TOKEN), or use a context")
  end
  local opts = connection(get, flags, http_timeout, driver)
  opts.api_key, opts.api_secret, opts.token = key, secret, token
  opts.environment = require_setting(get("environment"), "environment: --environment, CONFLUENT_ENVIRONMENT_ID " ..
    "or a context's environment")
  opts.cluster = require_setting(get("cluster"),
    "cluster: --cluster, CONFLUENT_KAFKA_CLUSTER_ID or a context's cluster")
  opts.base_url = get("base_url")
  return construct(cs.confluent, opts)
end

local function feldera_client(flags, http_timeout, driver)
  local get = settings(flags)
  local opts = connection(get, flags, http_timeout, driver)
  opts.base_url = require_setting(get("feldera_host"), "Feldera host: --feldera-host, FELDERA_HOST or a " ..
    "context's feldera_host")
  opts.api_key, opts.tenant = get("feldera_api_key"), get("tenant")
  return construct(cs.feldera, opts)
end

-- A Kafka Connect worker, when --connect-url, $CONNECT_URL or a context's connect_url says which.
local function connect_client(flags, http_timeout, driver)
  local get = settings(flags)
  local opts = connection(get, flags, http_timeout, driver)
  opts.base_url = require_setting(get("connect_url"), "Kafka Connect URL: --connect-url, CONNECT_URL or a " ..
    "context's connect_url")
  local user, password = get("connect_user"), get("connect_password")
  if user and not password then
    raise_usage("--connect-user needs a password: set CONNECT_PASSWORD (or a context's connect_password_env or " ..
      "connect_password_command)")
  end
  if password and not user then raise_usage("CONNECT_PASSWORD needs a user: --connect-user or CONNECT_USER") end
  opts.username, opts.password = user, password
  local client = construct(cs.kafka_connect, opts, { base_url = "--connect-url", username = "--connect-user",
    password = "CONNECT_PASSWORD" })
  -- A dry run sends nothing, not even the version question: an unreadable version counts as the newest.
  if driver then client:remember {} end
  return client
end

-- Whether the connector commands go to Kafka Connect. A context named by --context (or
-- $CONNECTSTATUS_CONTEXT) decides by itself, so that an exported CONNECT_URL cannot send a
-- runbook's `--context prod pause ...` to another system.
local function uses_connect(flags)
  if flags["connect-url"] then return true end
  local explicit = flags.context or os.getenv("CONNECTSTATUS_CONTEXT")
  if explicit and explicit ~= "" then
    local named = contexts.get(contexts.load(), explicit, " (--context or $CONNECTSTATUS_CONTEXT)")
    return contexts.value(named, "connect_url", explicit) ~= nil
  end
  return settings(flags)("connect_url") ~= nil
end

-- Records a request instead of sending it, for --dry-run.
local function dry_driver()
  local d = { sent = {} }
  function d.request(_, req)
    d.sent[#d.sent + 1] = req
    return nil, "cancelled", "dry run: not sent"
  end
  return d
end

-- ---- results and errors ----

local ERROR_FIELDS = { "kind", "message", "status", "code", "request_id", "retry_after", "url", "task", "msg",
  "trace", "state", "fatal_error", "attempts" }

local function error_doc(err)
  local e = {}
  for _, k in ipairs(ERROR_FIELDS) do e[k] = err[k] end
  return { error = e, last = err.last }
end

-- A wait's own deadline is the only timeout a wait returns: read timeouts just keep it polling.
local function exit_for(err, waiting)
  if err.kind == "failed" then return EXIT.failed end
  if waiting and err.kind == "timeout" then return EXIT.timeout end
  return EXIT.error
end

local function worst(a, b)
  return math.max(a or 0, b or 0)
end

local function say_error(ctx, err)
  ctx.err:write(output.clean(tostring(err)), "\n") -- already "connectstatus: KIND: message"
end

-- ---- human renderings ----

local function print_trace(w, title, trace)
  if type(trace) == "string" and trace:find("%S") then
    w:write("\n", title, ":\n", output.clean((trace:gsub("\n?$", "\n")), true))
  end
end

local function task_counts(st)
  local tasks = status.tasks(st)
  local running = 0
  for _, t in ipairs(tasks) do
    if t.state == "RUNNING" then running = running + 1 end
  end
  return ("%d/%d"):format(running, #tasks)
end

local function show_status(ctx, s)
  local w = ctx.out
  if type(s) ~= "table" then
    w:write("unreadable status: ", output.cell(s), "\n")
    return
  end
  output.table(w, { "CONNECTOR", "TYPE", "STATE", "WORKER", "HEALTH" },
    { { s.name, status.type(s), status.state(s), status.worker(s), (cs.health(s)) } }, { colour = ctx.colour })
  local rows = {}
  for _, t in ipairs(status.tasks(s)) do
    rows[#rows + 1] = { t.id, t.state, t.worker_id, status.task_line(t) }
  end
  if #rows > 0 then
    w:write("\n")
    output.table(w, { "TASK", "STATE", "WORKER", "MESSAGE" }, rows, { colour = ctx.colour })
  end
  print_trace(w, "connector trace", status.trace(s))
  for _, t in ipairs(status.tasks(s)) do
    print_trace(w, status.task_label(t) .. " trace", t.trace)
  end
end

local function show_tasks(ctx, tasks)
  local rows = {}
  for _, t in ipairs(type(tasks) == "table" and tasks or {}) do
    local id = type(t) == "table" and type(t.id) == "table" and t.id or {}
    local keys = 0
    for _ in pairs(type(t) == "table" and type(t.config) == "table" and t.config or {}) do keys = keys + 1 end
    rows[#rows + 1] = { id.task, id.connector, keys }
  end
  output.table(ctx.out, { "TASK", "CONNECTOR", "CONFIG_KEYS" }, rows)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function field(t, k)
  return type(t) == "table" and t[k] or nil
end

-- What the NAME TYPE STATE TASKS table reads of each status.
local LIST_TABLE_SELECT = { "*.status.type", "*.status.connector.state", "*.status.tasks.*.state" }

local function list_rows(result, expand)
  local rows = {}
  for _, name in ipairs(sorted_keys(type(result) == "table" and result or {})) do
    local e = result[name]
    local st = field(e, "status")
    if expand then
      local info = field(e, "info")
      rows[#rows + 1] = { name, field(field(e, "id"), "id"), field(info, "type"),
        field(field(info, "config"), "connector.class"), status.state(st), st ~= nil and (cs.health(st)) or nil }
    else
      rows[#rows + 1] = { name, status.type(st), status.state(st), st ~= nil and task_counts(st) or nil }
    end
  end
  return rows
end

local function show_list(ctx, result)
  if ctx.names then
    for _, name in ipairs(type(result) == "table" and result or {}) do ctx.out:write(output.clean(name), "\n") end
    return
  end
  local headers = ctx.expand and { "NAME", "ID", "TYPE", "CLASS", "STATE", "HEALTH" } or
    { "NAME", "TYPE", "STATE", "TASKS" }
  return output.table(ctx.out, headers, list_rows(result, ctx.expand), { colour = ctx.colour,
    highlight = ctx.highlight })
end

local function show_offsets(ctx, st)
  local request, s = field(st, "request"), field(st, "status")
  output.table(ctx.out, { "CONNECTOR", "TYPE", "PHASE", "REQUESTED_AT", "APPLIED_AT" },
    { { field(request, "name"), field(request, "type"), field(s, "phase"), field(request, "requested_at"),
      field(st, "applied_at") } })
  local message = field(s, "message")
  if message then ctx.out:write("\nmessage: ", output.clean(message), "\n") end
end

local function show_stats(ctx, st)
  local m = field(st, "metrics")
  local rows = {}
  for _, k in ipairs(sorted_keys(type(m) == "table" and m or {})) do rows[#rows + 1] = { k, m[k] } end
  rows[#rows + 1] = { "paused", field(st, "paused") }
  ctx.out:write("endpoint ", output.cell(field(st, "endpoint_name")), "\n")
  output.table(ctx.out, { "METRIC", "VALUE" }, rows)
  local fatal = field(st, "fatal_error")
  if fatal then ctx.out:write("\nfatal_error: ", output.clean(fatal), "\n") end
end

local function show_health(ctx, summary)
  local w, h = ctx.out, summary.health
  w:write(("%d connectors: %d healthy, %d degraded, %d failed, %d pending\n"):format(summary.total,
    h.healthy, h.degraded, h.failed, h.pending))
  local states = {}
  for _, state in ipairs(sorted_keys(summary.states)) do
    states[#states + 1] = output.clean(state) .. "=" .. summary.states[state]
  end
  if #states > 0 then w:write("states: ", table.concat(states, " "), "\n") end
  if summary.min_connectors and not summary.min_connectors.ok then
    w:write(("fewer connectors than --min-connectors %d\n"):format(summary.min_connectors.wanted))
  end
  if #summary.unhealthy == 0 then return end
  local rows = {}
  for _, u in ipairs(summary.unhealthy) do
    for i, reason in ipairs(u.reasons) do
      rows[#rows + 1] = { i == 1 and u.name or "", i == 1 and u.health or "", reason }
    end
  end
  w:write("\n")
  output.table(w, { "NAME", "HEALTH", "REASON" }, rows, { colour = ctx.colour })
end

-- node_exporter textfile lines: per connector its health and state, per task its state, as 1/0 gauges.
local function prometheus(ctx, summary, fleet)
  local w = ctx.out
  local function metric(name, help)
    w:write("# HELP ", name, " ", help, "\n# TYPE ", name, " gauge\n")
  end
  metric("connectstatus_up", "1 when the connectors could be read")
  w:write("connectstatus_up ", fleet and "1" or "0", "\n")
  if not fleet then return end
  metric("connectstatus_connectors", "connectors per health")
  for _, level in ipairs(health.LEVELS) do
    w:write(('connectstatus_connectors{health="%s"} %d\n'):format(level, summary.health[level]))
  end
  metric("connectstatus_connector_health", "1 for the connector's health level")
  for _, c in ipairs(fleet) do
    for _, level in ipairs(health.LEVELS) do
      w:write(('connectstatus_connector_health{connector="%s",health="%s"} %d\n'):format(output.label(c.name), level,
        c.health == level and 1 or 0))
    end
  end
  metric("connectstatus_connector_state", "1 for the connector's state")
  for _, c in ipairs(fleet) do
    w:write(('connectstatus_connector_state{connector="%s",state="%s"} 1\n'):format(output.label(c.name),
      output.label(status.state(c.status) or "UNKNOWN")))
  end
  metric("connectstatus_task_state", "1 for each task's state")
  for _, c in ipairs(fleet) do
    for _, t in ipairs(status.tasks(c.status)) do
      w:write(('connectstatus_task_state{connector="%s",task="%s",state="%s"} 1\n'):format(output.label(c.name),
        output.label(t.id or ("#" .. t.index)), output.label(t.state or "UNKNOWN")))
    end
  end
end

-- ---- progress of waits ----

local function progress_mode(flags)
  if flags["no-progress"] then return "lines" end
  if flags.progress or output.is_terminal(2) then return "live" end
  return "lines"
end

-- An on_poll callback that shows describe(value) live on a terminal, else once per change and
-- again every heartbeat seconds while nothing changes. A failed read is said to be retried only
-- once the next poll proves it was: in a pipe its line waits for that poll (or for finish).
local function progress(ctx, describe)
  local live = progress_mode(ctx.flags) == "live"
  local heartbeat = seconds(ctx.flags, "heartbeat", 30, true)
  local shown, shown_at, failed
  local reporter = {}
  -- A pipe's line: printed when it differs from the last, or as a heartbeat.
  local function emit(elapsed, text)
    if text ~= shown then
      ctx.err:write(("[%6.1fs] %s\n"):format(elapsed, text))
    elseif elapsed - shown_at >= heartbeat then
      ctx.err:write(("[%6.1fs] %s (unchanged)\n"):format(elapsed, text))
    else
      return
    end
    shown, shown_at = text, elapsed
  end
  function reporter.on_poll(value, elapsed, err)
    if failed and not live then emit(failed.elapsed, failed.text .. ", retried") end
    failed = nil
    local text = output.clean(value ~= nil and describe(value) or "read failed (" .. tostring(err and err.kind) .. ")")
    if live then
      ctx.err:write(("\r\27[K%s  %.1fs"):format(text, elapsed))
      shown = text
    elseif value == nil then
      failed = { elapsed = elapsed, text = text }
    else
      emit(elapsed, text)
    end
  end
  function reporter.finish()
    if failed then emit(failed.elapsed, failed.text) end
    if live and shown then ctx.err:write("\n") end
  end
  return reporter
end

local function describe_status(s)
  local states = {}
  for _, t in ipairs(status.tasks(s)) do
    states[#states + 1] = tostring(t.id or "?") .. ":" .. tostring(t.state or "?")
  end
  return ("%s  %s  tasks [%s]"):format(output.cell(status.name(s)), output.cell(status.state(s)),
    table.concat(states, " "))
end

local function describe_offsets(st)
  local request, s = field(st, "request"), field(st, "status")
  return ("%s  offsets %s  requested %s"):format(output.cell(field(request, "name")), output.cell(field(s, "phase")),
    output.cell(field(request, "requested_at")))
end

local function describe_stats(st)
  local m = field(st, "metrics")
  return ("%s  records %s  buffered %s  end_of_input %s"):format(output.cell(field(st, "endpoint_name")),
    output.cell(field(m, "total_records")), output.cell(field(m, "buffered_records")),
    output.cell(field(m, "end_of_input")))
end

-- ---- running one read per name ----

local function check_name(name, what)
  if name == "" or name == "." or name == ".." or name:find("%c") then
    raise_usage(("%s must not be empty, '.', '..' or contain control characters"):format(what))
  end
  return name
end

-- Runs read(name) for each name, in parallel (cs.map) -> list of { name, value, err } in the
-- order of the names. The names are checked first, so that a bad one sends nothing.
local function each_name(ctx, read)
  for _, name in ipairs(ctx.args) do check_name(name, "a connector name") end
  local values, errs = cs.map(ctx.args, read, { parallel = PARALLEL })
  local results = {}
  for i, name in ipairs(ctx.args) do
    local err = errs[i]
    if values[i] == nil and not errors.is_error(err) then error(err, 0) end -- a raise in a read stays a raise
    results[i] = { name = name, value = values[i], err = values[i] == nil and err or nil }
  end
  return results
end

-- Prints per-name results in the chosen format; returns the exit status.
local function show_each(ctx, results, show, waiting)
  local code, doc = EXIT.ok, {}
  for i, r in ipairs(results) do
    if r.err then
      code = worst(code, exit_for(r.err, waiting))
      say_error(ctx, r.err)
    end
    local value = r.err and error_doc(r.err) or r.value
    if ctx.format == "json" then
      doc[r.name] = value
    elseif ctx.format == "jsonl" then
      output.json(ctx.out, r.err and { name = r.name, error = value.error } or value, ctx.err)
    elseif r.err then
      if r.err.last then
        ctx.out:write(i > 1 and "\n" or "", "last seen:\n")
        show(ctx, r.err.last)
      end
    else
      if i > 1 then ctx.out:write("\n") end
      show(ctx, r.value)
    end
  end
  if ctx.format == "json" then output.json(ctx.out, #results == 1 and doc[results[1].name] or doc, ctx.err) end
  return code
end

-- A command that one of the connector APIs lacks is a usage error, before anything is sent.
local function needs_api(ctx, api)
  if ctx.api() == api then return end
  if api == "confluent" then
    raise_usage(ctx.command .. " is for Confluent Cloud, and --connect-url or CONNECT_URL chose Kafka Connect",
      ctx.command)
  end
  raise_usage(ctx.command .. " is for Kafka Connect: give --connect-url URL or set CONNECT_URL", ctx.command)
end

local function reads(method, show, api)
  return function(ctx)
    if api then needs_api(ctx, api) end
    local client = ctx.connectors()
    return show_each(ctx, each_name(ctx, function(name) return client[method](client, name) end), show)
  end
end

-- One result (or error) in the chosen format -> exit status.
local function show_one(ctx, value, err, show, waiting)
  return show_each(ctx, { { name = "result", value = value, err = err } }, show, waiting)
end

-- ---- fleet health ----

local function check_pattern(flag, value)
  for _, p in ipairs(list_flag(value)) do
    local ok, why = pcall(string.find, "", p)
    if not ok then raise_usage(("--%s: bad Lua pattern %s: %s"):format(flag, p, why:gsub("^[^:]*:%d+: ", ""))) end
  end
  return list_flag(value)
end

local function matches_any(name, patterns)
  for _, p in ipairs(patterns) do
    if name:find(p) then return true end
  end
  return false
end

local function health_opts(ctx)
  local ignore = {}
  for _, s in ipairs(list_flag(ctx.flags["ignore-state"])) do
    local state, why = options.canonical(s, "state", ctx.flags["force-state"])
    if not state then raise_usage("--ignore-state: " .. why .. " (--force-state to use it anyway)") end
    ignore[#ignore + 1] = state
  end
  return { ignore_states = ignore }
end

-- The list with only the names --only and --exclude let through.
local function filtered(ctx, list)
  local only, exclude = check_pattern("only", ctx.flags.only), check_pattern("exclude", ctx.flags.exclude)
  local kept = {}
  for name, entry in pairs(list) do
    local n = tostring(name)
    if (#only == 0 or matches_any(n, only)) and not matches_any(n, exclude) then kept[name] = entry end
  end
  return kept
end

local function fleet_of(list, opts)
  local fleet = {}
  for _, name in ipairs(sorted_keys(list)) do
    local st = field(list[name], "status")
    local verdict = cs.health(st == nil and core.null or st, opts)
    fleet[#fleet + 1] = { name = tostring(name), status = st, health = verdict }
  end
  return fleet
end

local function min_connectors(ctx)
  return number_flag(ctx.flags, "min-connectors", nil, function(n) return n >= 0 and n == math.floor(n) end,
    "a non-negative integer")
end

-- read_errors: { name = Error } for check's statuses that could not be read (kept in -o json).
local function show_fleet(ctx, list, read_err, read_errors)
  local opts, min = health_opts(ctx), min_connectors(ctx)
  if read_err then
    if ctx.format ~= "prometheus" then return show_one(ctx, nil, read_err, show_health) end
    say_error(ctx, read_err)
    prometheus(ctx)
    return EXIT.error
  end
  list = filtered(ctx, list)
  local summary = cs.summarize(list, opts)
  if read_errors and next(read_errors) then
    summary.errors = {}
    for name, e in pairs(read_errors) do summary.errors[name] = error_doc(e).error end
  end
  local code = (summary.health.failed + summary.health.degraded > 0) and EXIT.failed or EXIT.ok
  if min then
    summary.min_connectors = { wanted = min, found = summary.total, ok = summary.total >= min }
    if not summary.min_connectors.ok then code = EXIT.failed end
  end
  if ctx.format == "prometheus" then
    prometheus(ctx, summary, fleet_of(list, opts))
  elseif ctx.format == "jsonl" then
    for _, c in ipairs(fleet_of(list, opts)) do
      local _, reasons = cs.health(c.status == nil and core.null or c.status, opts)
      output.json(ctx.out, { name = c.name, health = c.health, state = status.state(c.status), reasons = reasons },
        ctx.err)
    end
  elseif ctx.format == "json" then
    output.json(ctx.out, summary, ctx.err)
  else
    show_health(ctx, summary)
  end
  return code
end

-- ---- waits ----

-- A wait's options and its progress line's finish (also ctx.finish, for a single wait).
local function wait_opts(ctx, describe, timeout)
  local reporter = progress(ctx, describe)
  ctx.finish = reporter.finish
  return {
    timeout = timeout, interval = seconds(ctx.flags, "interval", 5, true),
    on_poll = reporter.on_poll, allow_missing = ctx.flags["allow-missing"] == true,
    force = ctx.flags["force-state"] == true,
  }, reporter.finish
end

local function canonical_list(ctx, flag, kind, default)
  local names = list_flag(ctx.flags[flag] or default)
  if #names == 0 then raise_usage(("--%s needs at least one %s"):format(flag, kind), ctx.command) end
  for i, n in ipairs(names) do
    local name, why = options.canonical(n, kind, ctx.flags["force-state"])
    if not name then raise_usage(("--%s: %s (--force-state to wait for it anyway)"):format(flag, why), ctx.command) end
    names[i] = name
  end
  return names
end

-- ---- the commands ----

COMMANDS.status = { args = { "NAME" }, many = true, run = reads("status", show_status), help = [=[
Usage: connectstatus status NAME... [-o table|json|jsonl]
The connector's state, worker and trace, and each task's state and informative message.
With several names, they are read at once; -o json gives an object by name, jsonl one line each.
Exit 0; 4 on an API error (a missing connector is an API error: not_found).
]=] }

COMMANDS.tasks = { args = { "NAME" }, many = true, run = reads("tasks", show_tasks), help = [=[
Usage: connectstatus tasks NAME... [-o table|json|jsonl]
The connector's tasks (id and number of config keys; -o json shows the config).
]=] }

COMMANDS.list = { args = {}, flags = { expand = true, names = false, watch = true }, help = [=[
Usage: connectstatus list [--names | --expand id,info,status] [--watch S] [-o table|json|jsonl]
Without flags, one row per connector: NAME TYPE STATE TASKS (running/all). --names prints the
names only; --expand (repeatable or comma-separated) a row with the expansions instead (Kafka
Connect has info and status).
  --watch S           redraw every S seconds until Ctrl-C; on a terminal the screen is redrawn and
                      changed cells are highlighted, in a pipe each table is printed in turn
]=] }

COMMANDS.check = { args = { "NAME" }, many = true, flags = { ["ignore-state"] = true, ["force-state"] = false },
  help = [=[
Usage: connectstatus check NAME... [--ignore-state STATE] [-o table|json|jsonl|prometheus]
Reads each connector's status once and rates it as health does, with its exit status: 0 when none
is failed or degraded, 1 otherwise, 4 when a status cannot be read.
  --ignore-state LIST   states to rate healthy (e.g. PAUSED); any case
]=] }

COMMANDS.health = { args = {}, flags = { ["ignore-state"] = true, ["force-state"] = false, only = true,
  exclude = true, ["min-connectors"] = true }, help = [=[
Usage: connectstatus health [--ignore-state LIST] [--only PATTERN] [--exclude PATTERN]
                            [--min-connectors N] [-o table|json|jsonl|prometheus]
Reads every connector with its status and prints the counts per state and per health, then each
connector that is not healthy with its reasons (the informative line of its trace; -o json keeps
the whole traces). Health: failed (FAILED or DELETED, or an unreadable status), degraded
(DEGRADED, PAUSED, STOPPED, a FAILED task, or a task not RUNNING under a RUNNING connector),
pending (PROVISIONING, UNASSIGNED, RESTARTING, no tasks yet, unknown states) or healthy.
  --ignore-state LIST   states to rate healthy (e.g. PAUSED), connector or task; any case
  --only PATTERN        only names matching a Lua pattern (repeatable: any of them), e.g. '^prod%-'
  --exclude PATTERN     leave out names matching a Lua pattern (repeatable)
  --min-connectors N    fewer than N connectors (after --only/--exclude) is a failure, so that an
                        empty list from a mistyped cluster id does not read as healthy
-o prometheus writes node_exporter textfile gauges (connectstatus_up, _connectors,
_connector_health, _connector_state, _task_state).
Exit 0 when nothing is failed or degraded (pending is fine), 1 otherwise, 4 on an API error.
]=] }

COMMANDS["offsets-status"] = { args = { "NAME" }, many = true,
  run = reads("offset_request_status", show_offsets, "confluent"),
  help = [=[
Usage: connectstatus offsets-status NAME... [-o table|json|jsonl]
The last alter-offsets request of the connector: type, phase, requested_at, applied_at, message.
]=] }

COMMANDS["feldera-stats"] = { args = { "PIPELINE", "TABLE", "CONNECTOR" }, help = [=[
Usage: connectstatus feldera-stats PIPELINE TABLE CONNECTOR [-o table|json]
A Feldera input connector's metrics (exact 64-bit counters) and any fatal error.
]=] }

COMMANDS.wait = { args = { "NAME" }, many = true, wait = true,
  flags = { state = true, ["force-state"] = false, ["failed-grace"] = true, ["allow-missing"] = false,
    ["no-tasks"] = false }, help = [=[
Usage: connectstatus wait NAME... [--state RUNNING[,STATE...]] [--timeout S] [--interval S]
                                  [--failed-grace S] [--allow-missing] [--no-tasks]
Waits until the connector is in one of the states and so is every task (RUNNING also needs at
least one task); several names are waited for at once, within one --timeout. A FAILED connector
or task ends the wait at once with its trace (exit 1) unless it recovers within --failed-grace
seconds; DELETED fails too. Other states keep waiting, and so do 429s, 5xx and network errors;
401, 403 and 400 end it (exit 4).
  --state LIST        target states, comma-separated, any case (default RUNNING); one that no
                      API knows is a usage error
  --force-state       accept a state no API knows (sent as given)
  --failed-grace S    tolerate a FAILED that recovers within S seconds (default 0)
  --allow-missing     a connector that does not exist yet (404) is still pending
  --no-tasks          judge the connector state only, not its tasks
Exit 0 reached, 1 failed, 3 timed out (the last status is printed), 4 API error.
]=] }

COMMANDS["wait-offsets"] = { args = { "NAME" }, wait = true,
  flags = { phase = true, ["force-state"] = false, since = true, ["allow-missing"] = false }, help = [=[
Usage: connectstatus wait-offsets NAME [--phase APPLIED] [--since TIME] [--timeout S] [--interval S]
Waits until the connector's alter-offsets request reaches the phase. PENDING, PENDING_VALIDATION and
unknown phases keep waiting; FAILED ends it with the request's message (exit 1).
  --phase PHASE       target phase, any case (default APPLIED): APPLIED, FAILED, PENDING or
                      PENDING_VALIDATION (--force-state accepts another)
  --since TIME        ignore requests older than TIME (epoch seconds or e.g. 2024-02-20T15:14:19Z),
                      so that a previous APPLIED request is not taken for a new one
  --allow-missing     no request yet (404) is still pending
Exit 0 reached, 1 failed, 3 timed out, 4 API error.
]=] }

COMMANDS["wait-input"] = { args = { "PIPELINE", "TABLE", "CONNECTOR" }, wait = true,
  flags = { ["allow-missing"] = false }, help = [=[
Usage: connectstatus wait-input PIPELINE TABLE CONNECTOR [--timeout S] [--interval S]
Waits until the Feldera input connector has signalled end of input and buffers no records.
A fatal_error ends it (exit 1); 503 (pipeline not deployed yet) keeps waiting.
  --allow-missing     an unknown pipeline or connector (404) is still pending
Exit 0 done, 1 failed, 3 timed out, 4 API error.
]=] }

-- Flags of the actions: --wait (act, then wait; the wait flags apply) and --dry-run.
local ACT = { wait = false, ["dry-run"] = false }

local function with_act(flags)
  local all = {}
  for k, v in pairs(ACT) do all[k] = v end
  for k, v in pairs(flags or {}) do all[k] = v end
  return all
end

COMMANDS.offsets = { args = { "NAME" }, many = true, help = [=[
Usage: connectstatus offsets NAME... [-o table|json|jsonl]
The connector's current offsets (Confluent Cloud, or Kafka Connect 3.5+): one row per partition.
-o json prints {"offsets": [...]} as the API sends it, the format alter-offsets reads back.
]=] }

COMMANDS["feldera-output-stats"] = { args = { "PIPELINE", "VIEW", "CONNECTOR" }, help = [=[
Usage: connectstatus feldera-output-stats PIPELINE VIEW CONNECTOR [-o table|json]
A Feldera output connector's metrics (transmitted and queued records...) and any fatal error.
]=] }

COMMANDS["pipeline-stats"] = { args = { "PIPELINE" }, help = [=[
Usage: connectstatus pipeline-stats PIPELINE [-o table|json]
A Feldera pipeline's health (as health rates it), global metrics and every input and output
endpoint, from one request.
]=] }

COMMANDS["wait-completion"] = { args = { "PIPELINE", "TABLE", "CONNECTOR" }, wait = true, help = [=[
Usage: connectstatus wait-completion PIPELINE TABLE CONNECTOR [--timeout S] [--interval S]
Takes a completion token for the Feldera input connector's current position, then waits until
the pipeline has processed everything the connector had ingested by then. An unknown token or
another 4xx ends the wait at once (exit 4).
Exit 0 complete, 3 timed out, 4 API error.
]=] }

COMMANDS.pause = { args = { "NAME" }, flags = with_act(), help = [=[
Usage: connectstatus pause NAME [--wait [--timeout S] [--interval S]] [--dry-run] [-o table|json]
Pauses the connector (PUT .../pause; asynchronous on the server). With --wait, then waits until
the connector and every task are PAUSED and prints that status.
  --wait              act, then wait for the outcome within one --timeout (300)
  --dry-run           print the request (method, URL, body) and send nothing
Exit 0 done, 1 a FAILED state during the wait, 3 timed out, 4 API error.
]=] }

COMMANDS.resume = { args = { "NAME" }, flags = with_act(), help = [=[
Usage: connectstatus resume NAME [--wait [--timeout S] [--interval S]] [--dry-run] [-o table|json]
Resumes the connector (PUT .../resume); --wait waits until it and every task are RUNNING.
  --wait              act, then wait for the outcome within one --timeout (300)
  --dry-run           print the request (method, URL, body) and send nothing
Exit 0 done, 1 a FAILED state during the wait, 3 timed out, 4 API error.
]=] }

COMMANDS.restart = { args = { "NAME" }, flags = with_act { ["failed-only"] = false, ["include-tasks"] = false,
  task = true, ["failed-grace"] = true }, help = [=[
Usage: connectstatus restart NAME [--failed-only] [--include-tasks | --task ID] [--wait] [--dry-run]
Kafka Connect only: restarts the connector (POST .../restart). --failed-only restarts only the
failed instances, the failed tasks included; --include-tasks restarts the tasks too; --task ID
restarts that one task alone. With --wait, then waits until the connector and every task (with
--task: that task) are RUNNING (a task that fails again: exit 1).
  --failed-only       onlyFailed=true (and includeTasks=true)
  --include-tasks     includeTasks=true
  --task ID           POST .../tasks/ID/restart instead
  --failed-grace S    with --wait: tolerate a FAILED that recovers within S seconds (the worker's
                      status can lag its restart answer)
  --wait              act, then wait for the outcome within one --timeout (300)
  --dry-run           print the request (method, URL, body) and send nothing
Exit 0 done, 1 failed again, 3 timed out, 4 API error (a worker older than 3.0 with a flag:
unsupported, nothing sent).
]=] }

COMMANDS.stop = { args = { "NAME" }, flags = with_act(), help = [=[
Usage: connectstatus stop NAME [--wait] [--dry-run] [-o table|json]
Kafka Connect 3.5+ only: stops the connector (PUT .../stop), which its offsets changes need.
--wait waits until it is STOPPED.
Exit 0 done, 3 timed out, 4 API error.
]=] }

COMMANDS["alter-offsets"] = { args = { "NAME", "FILE|-" }, flags = with_act(), help = [=[
Usage: connectstatus alter-offsets NAME FILE|- [--wait] [--dry-run] [-o table|json]
Sends the offsets in FILE (- for stdin): JSON in the API's format, {"offsets": [{"partition":
{...}, "offset": {...}}, ...]}, as `connectstatus offsets NAME --json` prints them. Confluent
Cloud accepts the request (type PATCH) and applies it later: --wait waits until that request is
APPLIED (FAILED: exit 1). Kafka Connect (3.6+, connector STOPPED) applies it at once: --wait
reads the offsets back. A malformed file is a usage error, before anything is sent.
  --wait              act, then wait for the outcome within one --timeout (300)
  --dry-run           print the request (method, URL, body) and send nothing
Exit 0 done, 1 the request FAILED, 3 timed out, 4 API error.
]=] }

COMMANDS["reset-offsets"] = { args = { "NAME" }, flags = with_act { yes = false }, help = [=[
Usage: connectstatus reset-offsets NAME [--yes] [--wait] [--dry-run] [-o table|json]
Resets every offset of the connector (Confluent Cloud: an offsets request of type DELETE;
Kafka Connect 3.6+: DELETE .../offsets, connector STOPPED). It asks on a terminal first; anywhere
else it needs --yes, and without it exits 2 having sent nothing.
  --yes               do not ask
  --wait              act, then wait for the outcome within one --timeout (300)
  --dry-run           print the request (method, URL, body) and send nothing
Exit 0 done, 1 the request FAILED or the answer was not yes, 2 no --yes in a pipe, 3 timed
out, 4 API error.
]=] }

COMMANDS["pause-input"] = { args = { "PIPELINE", "TABLE", "CONNECTOR" }, flags = { ["dry-run"] = false },
  help = [=[
Usage: connectstatus pause-input PIPELINE TABLE CONNECTOR [--dry-run] [-o table|json]
Pauses a Feldera input connector (POST .../pause); done once Feldera has processed it.
  --dry-run           print the request (method, URL, body) and send nothing
]=] }

COMMANDS["start-input"] = { args = { "PIPELINE", "TABLE", "CONNECTOR" }, flags = { ["dry-run"] = false },
  help = [=[
Usage: connectstatus start-input PIPELINE TABLE CONNECTOR [--dry-run] [-o table|json]
Starts (resumes) a Feldera input connector (POST .../start); done once Feldera has processed it.
  --dry-run           print the request (method, URL, body) and send nothing
]=] }

COMMANDS.context = { args = { "ACTION" }, min = 0, max = 2, flags = { names = false }, help = [=[
Usage: connectstatus context list | use NAME | show [NAME]
Contexts are named sets of settings in $XDG_CONFIG_HOME/connectstatus/config (default
~/.config/connectstatus/config):

  current = prod
  [prod]
  environment = env-abc123
  cluster = lkc-abc123
  api_key = ABCDEFGHIJKLMNOP
  api_secret_command = pass show confluent/prod
  [local]
  feldera_host = http://127.0.0.1:8080
  feldera_api_key_env = FELDERA_LOCAL_KEY

Settings: base_url, environment, cluster, api_key, feldera_host, tenant, connect_url,
connect_user, proxy, cacert. Secrets (api_secret, token, feldera_api_key, connect_password) are
never stored: NAME_env names the variable that holds one, NAME_command a command that prints it.
  list                the contexts, the current one marked *, and the APIs each can reach
                      (--names: the names only)
  use NAME            make NAME the current context
  show [NAME]         a context's settings (the current one by default), secrets by source only
]=] }

COMMANDS.fake = { args = {}, flags = { port = true, scenario = true }, help = [=[
Usage: connectstatus fake [--port N] [--scenario demo|empty]
Runs the bundled fake Confluent Cloud, Kafka Connect and Feldera API on 127.0.0.1 until Ctrl-C.
It prints the export lines that point the CLI at it (add CONNECT_URL=$CONNECTSTATUS_BASE_URL for
its Kafka Connect worker), then serves:
  connectstatus fake --port 8099 > /tmp/fake.env &  sleep 1;  . /tmp/fake.env
  --port N            listen on port N (default: a free one)
  --scenario NAME     demo (the demo connectors, default) or empty
]=] }

COMMANDS.help = { args = { "COMMAND" }, min = 0, max = 1, help = [=[
Usage: connectstatus help [COMMAND]
]=] }

-- ---- running the commands ----

local RUN = {}

for name, spec in pairs(COMMANDS) do
  if spec.run then RUN[name] = spec.run end
end

function RUN.list(ctx)
  local expand = list_flag(ctx.flags.expand)
  local connect = ctx.api() == "kafka-connect"
  for _, e in ipairs(expand) do
    if e ~= "info" and e ~= "status" and (connect or e ~= "id") then
      raise_usage((connect and "--expand takes info and status on Kafka Connect, got " or
        "--expand takes id, info and status, got ") .. e, "list")
    end
  end
  if ctx.flags.names and #expand > 0 then raise_usage("--names and --expand do not go together", "list") end
  ctx.names = ctx.flags.names == true
  ctx.expand = #expand > 0 and expand or nil
  local client = ctx.connectors()
  local query
  if not ctx.names then query = { expand = ctx.expand or { "status" } } end
  -- The table shows a few members of each status: the decoder builds only those (issue 16).
  if query and not ctx.expand and ctx.format == "table" then query.select = LIST_TABLE_SELECT end
  if ctx.flags.watch then return M.watch(ctx, client, query) end
  local result, err = client:list(query)
  if result and ctx.format == "jsonl" and not ctx.names then
    for _, name in ipairs(sorted_keys(result)) do
      local entry = type(result[name]) == "table" and result[name] or {}
      local line = { name = name }
      for k, v in pairs(entry) do line[k] = v end
      output.json(ctx.out, line, ctx.err)
    end
    return EXIT.ok
  end
  return show_one(ctx, result, err, show_list)
end

function RUN.health(ctx)
  health_opts(ctx) -- usage errors before any request
  min_connectors(ctx)
  -- What a summary reads of each status, and nothing else, is decoded (issue 16).
  local result, err = ctx.connectors():list { expand = { "status" }, select = require("connectstatus.health").SELECT }
  return show_fleet(ctx, result, err)
end

function RUN.check(ctx)
  health_opts(ctx)
  local client = ctx.connectors()
  local list, failed, code = {}, {}, EXIT.ok
  for _, r in ipairs(each_name(ctx, function(name) return client:status(name) end)) do
    if r.err then
      say_error(ctx, r.err)
      code, failed[r.name] = EXIT.error, r.err
    else
      list[r.name] = { status = r.value }
    end
  end
  return worst(code, show_fleet(ctx, list, nil, failed))
end

RUN["feldera-stats"] = function(ctx)
  local value, err = ctx.feldera():input_stats(ctx.args[1], ctx.args[2], ctx.args[3])
  return show_one(ctx, value, err, show_stats)
end

function RUN.wait(ctx)
  local states = canonical_list(ctx, "state", "state", "RUNNING")
  local grace = seconds(ctx.flags, "failed-grace", 0)
  wait_opts(ctx, describe_status, ctx.wait_timeout) -- usage errors before any request
  local client = ctx.connectors()
  -- The names are waited for at once, each with the whole --timeout.
  local results = each_name(ctx, function(name)
    local opts, finish = wait_opts(ctx, describe_status, ctx.wait_timeout)
    opts.failed_grace = grace
    opts.tasks = not ctx.flags["no-tasks"]
    local value, err = client:wait_for_state(name, states, opts)
    finish()
    return value, err
  end)
  return show_each(ctx, results, show_status, true)
end

RUN["wait-offsets"] = function(ctx)
  local phase = canonical_list(ctx, "phase", "phase", "APPLIED")
  if #phase > 1 then raise_usage("--phase takes one phase", "wait-offsets") end
  local opts = wait_opts(ctx, describe_offsets, ctx.wait_timeout)
  local since = ctx.flags.since
  if since ~= nil then
    since = tonumber(since) or since
    if type(since) == "string" and not require("connectstatus.timefmt").parse(since) then
      raise_usage("--since must be epoch seconds or a timestamp like 2024-02-20T15:14:19Z", "wait-offsets")
    end
    opts.since = since
  end
  needs_api(ctx, "confluent")
  local value, err = ctx.confluent():wait_for_offset_phase(check_name(ctx.args[1], "a connector name"), phase[1], opts)
  ctx.finish()
  return show_one(ctx, value, err, show_offsets, true)
end

RUN["wait-input"] = function(ctx)
  local opts = wait_opts(ctx, describe_stats, ctx.wait_timeout)
  local value, err = ctx.feldera():wait_for_end_of_input(ctx.args[1], ctx.args[2], ctx.args[3], opts)
  ctx.finish()
  return show_one(ctx, value, err, show_stats, true)
end

-- ---- actions: pause, resume, restart, stop, offsets changes, Feldera input control ----

local function pairs_text(t)
  if type(t) ~= "table" then return output.cell(t) end
  local parts = {}
  for _, k in ipairs(sorted_keys(t)) do parts[#parts + 1] = output.cell(k) .. "=" .. output.cell(t[k]) end
  return table.concat(parts, " ")
end

-- GET .../offsets (both APIs): { offsets = [ { partition = {...}, offset = {...} } ], metadata = ... }.
local function show_current_offsets(ctx, doc)
  local rows = {}
  local list = field(doc, "offsets")
  for _, o in ipairs(type(list) == "table" and list or {}) do
    rows[#rows + 1] = { pairs_text(field(o, "partition")), pairs_text(field(o, "offset")) }
  end
  output.table(ctx.out, { "PARTITION", "OFFSET" }, rows)
  local observed = field(field(doc, "metadata"), "observed_at")
  if observed then ctx.out:write("\nobserved_at: ", output.cell(observed), "\n") end
end

local function show_fields(ctx, value)
  local rows = {}
  for _, k in ipairs(sorted_keys(type(value) == "table" and value or {})) do
    if type(value[k]) ~= "table" then rows[#rows + 1] = { k, value[k] } end
  end
  output.table(ctx.out, { "FIELD", "VALUE" }, rows)
end

-- What an action answered, or what its wait returned: true (an empty 2xx), a connector status
-- (a restart's 202, a state wait), an offsets request's status, the offsets, or other fields.
local function show_answer(ctx, value)
  if value == true then
    ctx.out:write(ctx.command, " ", output.clean(table.concat(ctx.args, "/")), ": done\n")
  elseif type(field(value, "connector")) == "table" then
    show_status(ctx, value)
  elseif field(value, "request") then
    show_offsets(ctx, value)
  elseif field(value, "offsets") and not field(value, "requested_at") then
    show_current_offsets(ctx, value)
  else
    show_fields(ctx, value)
  end
end

-- --dry-run: the request the action would have sent (the client's base URL and the path, the
-- method, the JSON body), never its headers.
local function show_dry_run(ctx, client_url)
  local req = ctx.dry.sent[1]
  if not req then
    ctx.err:write("connectstatus: nothing would be sent\n")
    return EXIT.error
  end
  local doc = { method = req.method, url = client_url .. req.path, body = req.body and core.json_decode(req.body) }
  if ctx.format == "json" or ctx.format == "jsonl" then
    doc.dry_run = true
    output.json(ctx.out, doc, ctx.err)
  else
    ctx.out:write(req.method, " ", output.clean(doc.url), "\n")
    if req.body then ctx.out:write(output.clean(req.body, true), "\n") end
  end
  ctx.err:write("dry run: nothing sent\n")
  return EXIT.ok
end

local function base_url(client)
  return client.base_url or client.transport.base_url
end

-- The action's options: with --wait, the wait's (with the progress line); else nil.
local function action_opts(ctx, describe, extra)
  local opts
  if ctx.flags.wait and not ctx.dry then
    opts = wait_opts(ctx, describe, ctx.wait_timeout)
    opts.allow_missing = nil
    opts.wait = true
    if ctx.flags["failed-grace"] then opts.failed_grace = seconds(ctx.flags, "failed-grace", 0) end
  end
  for k, v in pairs(extra or {}) do
    opts = opts or {}
    opts[k] = v
  end
  return opts
end

-- Runs act(client, opts) -> value, err; library argument errors (an offsets list of the wrong
-- shape) are usage errors, raised before anything is sent.
local function run_action(ctx, client, act, describe, extra)
  local opts = action_opts(ctx, describe, extra)
  local ok, value, err = pcall(act, client, opts)
  if not ok then
    if type(value) == "table" or tostring(value):find("interrupted") then error(value, 0) end
    raise_usage(in_cli_words(value), ctx.command)
  end
  local waited = opts ~= nil and opts.wait == true
  if waited then ctx.finish() end
  if ctx.dry then return show_dry_run(ctx, base_url(client)) end
  if value == true and ctx.format ~= "table" then value = { ok = true } end
  return show_one(ctx, value, err, show_answer, waited)
end

-- A connector action of both APIs (or of one: api) with the connector's name as its argument.
local function connector_action(method, describe, api)
  return function(ctx)
    if api then needs_api(ctx, api) end
    local name = check_name(ctx.args[1], "a connector name")
    return run_action(ctx, ctx.connectors(), function(client, opts)
      return client[method](client, name, opts)
    end, describe)
  end
end

RUN.pause = connector_action("pause", describe_status)
RUN.resume = connector_action("resume", describe_status)
RUN.stop = connector_action("stop", describe_status, "kafka-connect")

-- restart NAME --task ID: one task, alone.
local function restart_task(ctx, name)
  if ctx.flags["failed-only"] or ctx.flags["include-tasks"] then
    raise_usage("--task restarts one task: it does not go with --failed-only or --include-tasks", "restart")
  end
  local id = number_flag(ctx.flags, "task", nil, function(n) return n >= 0 and n < 2 ^ 31 and n == math.floor(n) end,
    "a task id (a whole number from 0)")
  return run_action(ctx, ctx.connect(), function(client, opts)
    return client:restart_task(name, id, opts)
  end, describe_status)
end

function RUN.restart(ctx)
  needs_api(ctx, "kafka-connect")
  local name = check_name(ctx.args[1], "a connector name")
  if ctx.flags.task then return restart_task(ctx, name) end
  local extra = { only_failed = ctx.flags["failed-only"] or nil, include_tasks = ctx.flags["include-tasks"] or nil }
  return run_action(ctx, ctx.connect(), function(client, opts)
    return client:restart(name, opts)
  end, describe_status, extra)
end

function RUN.offsets(ctx)
  local client = ctx.connectors()
  return show_each(ctx, each_name(ctx, function(name) return client:offsets(name) end), show_current_offsets)
end

local function read_source(source)
  if source == "-" then return io.stdin:read("*a") end
  local f, why = io.open(source, "r")
  if not f then raise_usage("cannot read " .. source .. ": " .. tostring(why), "alter-offsets") end
  local text = f:read("*a")
  f:close()
  return text
end

-- FILE holds the offsets as the APIs send and take them: { "offsets": [ ... ] } (what `offsets
-- NAME --json` prints, so that it can be edited and sent back).
local function offsets_file(source)
  local text = read_source(source)
  local ok, doc = pcall(core.json_decode, text or "")
  if not ok or type(doc) ~= "table" or type(doc.offsets) ~= "table" then
    raise_usage(("%s must hold a JSON object with an \"offsets\" list, as `connectstatus offsets NAME --json` " ..
      "prints%s"):format(source == "-" and "stdin" or source, ok and "" or ": " .. in_cli_words(doc)), "alter-offsets")
  end
  if doc.type ~= nil and doc.type ~= "PATCH" then
    raise_usage("alter-offsets sends type PATCH; the file says " .. output.cell(doc.type), "alter-offsets")
  end
  return doc.offsets
end

RUN["alter-offsets"] = function(ctx)
  local name = check_name(ctx.args[1], "a connector name")
  local offsets = offsets_file(ctx.args[2])
  return run_action(ctx, ctx.connectors(), function(client, opts)
    return client:alter_offsets(name, offsets, opts)
  end, describe_offsets)
end

-- A destructive action goes ahead with --yes (or --dry-run, which sends nothing), or when the user
-- answers y on a terminal; elsewhere, without --yes, it is a usage error.
local function confirmed(ctx, question)
  if ctx.flags.yes or ctx.dry then return true end
  if not (output.is_terminal(0) and output.is_terminal(2)) then
    raise_usage(ctx.command .. " changes the connector for good: give --yes to confirm (stdin is not a terminal)",
      ctx.command)
  end
  io.stderr:write(question, " [y/N] ")
  io.stderr:flush()
  local answer = io.stdin:read("*l")
  return answer ~= nil and (answer:lower():match("^%s*y") ~= nil)
end

RUN["reset-offsets"] = function(ctx)
  local name = check_name(ctx.args[1], "a connector name")
  local connect = ctx.api() == "kafka-connect"
  local client = ctx.connectors()
  if not confirmed(ctx, ("Reset every offset of connector %s on %s?"):format(output.clean(name),
    output.clean(client:describe()))) then
    ctx.err:write("connectstatus: not confirmed; nothing sent\n")
    return EXIT.failed
  end
  return run_action(ctx, client, function(c, opts)
    if connect then return c:reset_offsets(name, opts) end
    return c:reset_offsets(name, nil, opts)
  end, describe_offsets)
end

RUN["feldera-output-stats"] = function(ctx)
  local value, err = ctx.feldera():output_stats(ctx.args[1], ctx.args[2], ctx.args[3])
  return show_one(ctx, value, err, show_stats)
end

local function endpoint_rows(rows, side, list)
  for _, ep in ipairs(type(list) == "table" and list or {}) do
    local m = field(ep, "metrics")
    rows[#rows + 1] = { field(ep, "endpoint_name"), side,
      side == "input" and field(m, "total_records") or field(m, "transmitted_records"),
      side == "input" and field(m, "buffered_records") or field(m, "queued_records"), field(ep, "paused"),
      field(ep, "fatal_error") ~= nil and "yes" or "-" }
  end
end

local function show_pipeline(ctx, st)
  local verdict, reasons = cs.health(st)
  ctx.out:write("health: ", verdict, "\n")
  for _, r in ipairs(reasons or {}) do ctx.out:write("  ", output.clean(r), "\n") end
  local g = field(st, "global_metrics")
  local rows = {}
  for _, k in ipairs(sorted_keys(type(g) == "table" and g or {})) do
    if type(g[k]) ~= "table" then rows[#rows + 1] = { k, g[k] } end
  end
  ctx.out:write("\n")
  output.table(ctx.out, { "METRIC", "VALUE" }, rows)
  local endpoints = {}
  endpoint_rows(endpoints, "input", field(st, "inputs"))
  endpoint_rows(endpoints, "output", field(st, "outputs"))
  ctx.out:write("\n")
  output.table(ctx.out, { "ENDPOINT", "SIDE", "RECORDS", "BUFFERED", "PAUSED", "FATAL" }, endpoints,
    { colour = ctx.colour })
end

RUN["pipeline-stats"] = function(ctx)
  local value, err = ctx.feldera():pipeline_stats(ctx.args[1])
  return show_one(ctx, value, err, show_pipeline)
end

local function input_action(method)
  return function(ctx)
    local a = ctx.args
    return run_action(ctx, ctx.feldera(), function(client, opts)
      return client[method](client, a[1], a[2], a[3], opts)
    end)
  end
end

RUN["pause-input"] = input_action("pause_connector")
RUN["start-input"] = input_action("start_connector")

local function describe_completion(answer)
  return ("completion %s  step %s"):format(output.cell(field(answer, "status")), output.cell(field(answer, "step")))
end

-- The token's read counts against --timeout: the wait gets what is left.
RUN["wait-completion"] = function(ctx)
  local opts = wait_opts(ctx, describe_completion, ctx.wait_timeout)
  opts.allow_missing = nil
  local client = ctx.feldera()
  local started = core.monotonic()
  local token, err = client:completion_token(ctx.args[1], ctx.args[2], ctx.args[3])
  local value
  if token then
    opts.timeout = math.max(0, ctx.wait_timeout - (core.monotonic() - started))
    value, err = client:wait_for_completion(ctx.args[1], token, opts)
  end
  ctx.finish()
  return show_one(ctx, value, err, show_fields, true)
end

function RUN.context(ctx)
  local action, name = ctx.args[1] or "list", ctx.args[2]
  local path = contexts.path()
  local config = contexts.load(path)
  if action == "list" then
    if ctx.format == "json" then
      output.json(ctx.out, { current = config.current, contexts = config.contexts }, ctx.err)
      return EXIT.ok
    end
    for _, n in ipairs(config.order) do
      if ctx.flags.names then
        ctx.out:write(n, "\n")
      else
        ctx.out:write(n == config.current and "* " or "  ", n, "  (", table.concat(contexts.apis(config.contexts[n]),
          ", "), ")\n")
      end
    end
    if #config.order == 0 and not ctx.flags.names then ctx.err:write("no contexts in ", tostring(path), "\n") end
    return EXIT.ok
  elseif action == "use" then
    if not name then raise_usage("context use needs a NAME", "context") end
    contexts.get(config, name)
    local ok, err = contexts.use(path, name)
    if not ok then ctx.err:write("connectstatus: cannot write ", path, ": ", tostring(err), "\n") return EXIT.error end
    ctx.err:write("current context: ", name, "\n")
    return EXIT.ok
  elseif action == "show" then
    name = name or config.current
    if not name then raise_usage("no current context: name one, or run connectstatus context use NAME", "context") end
    local rows = contexts.describe(contexts.get(config, name))
    if ctx.format == "json" then
      local doc = {}
      for _, r in ipairs(rows) do doc[r[1]] = r[2] end
      output.json(ctx.out, { name = name, settings = doc }, ctx.err)
    else
      ctx.out:write("context ", name, name == config.current and " (current)" or "", "\n")
      output.table(ctx.out, { "SETTING", "VALUE" }, rows)
    end
    return EXIT.ok
  end
  raise_usage("context takes list, use NAME or show [NAME], got " .. action ..
    options.did_you_mean(action, { "list", "show", "use" }), "context")
end

-- Ctrl-C arrives as the interpreter's "interrupted!" error, raised by a hook. The server runs in
-- a child process (fake.start), so that the hook never fires inside one of its connection
-- coroutines, where it would be caught; this loop stays interpreted, as LuaJIT runs hooks in
-- interpreted code only. The child also ends by itself once this process is gone.
local function sleep_forever()
  while true do core.sleep(1) end
end
if rawget(_G, "jit") then rawget(_G, "jit").off(sleep_forever) end

function RUN.fake(ctx)
  local port = number_flag(ctx.flags, "port", 0, function(n) return n >= 0 and n <= 65535 and n == math.floor(n) end,
    "a port number")
  local scenario = ctx.flags.scenario or "demo"
  if scenario ~= "demo" and scenario ~= "empty" then
    raise_usage("--scenario takes demo or empty, got " .. scenario .. options.did_you_mean(scenario,
      { "demo", "empty" }), "fake")
  end
  local ok, server = pcall(require("connectstatus.fake").start, { port = port, scenario = scenario })
  if not ok then
    ctx.err:write("connectstatus: ", (tostring(server):match("[^\n]*"):gsub("^[^:]*:%d+: ", "")), "\n")
    return EXIT.error
  end
  local w = ctx.out
  w:write("export CONNECTSTATUS_BASE_URL=", server.url, " FELDERA_HOST=", server.url, "\n",
    "export CONFLUENT_CLOUD_API_KEY=demo-key CONFLUENT_CLOUD_API_SECRET=demo-secret\n",
    "export CONFLUENT_ENVIRONMENT_ID=env-demo CONFLUENT_KAFKA_CLUSTER_ID=lkc-demo\n")
  local written, werr = w:finish()
  if not written then
    server:stop()
    ctx.err:write("connectstatus: cannot write the output: ", tostring(werr), "\n")
    return EXIT.error
  end
  ctx.err:write("fake API on ", server.url, " (scenario ", scenario, "); Ctrl-C to stop\n")
  local _, why = pcall(sleep_forever)
  server:stop()
  if not tostring(why):find("interrupted") then error(why, 0) end
  ctx.err:write("\nfake API stopped\n")
  return EXIT.interrupted
end

-- ---- --watch ----

local function clock_line()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

-- Redraws the list every --watch seconds: on a terminal the screen is cleared and the cells that
-- changed since the last draw are shown in reverse video; in a pipe each table follows the last.
function M.watch(ctx, client, query)
  local every = seconds(ctx.flags, "watch", nil, true)
  local terminal = output.is_terminal(1)
  local previous
  while true do
    local result, err = client:list(query)
    if terminal then ctx.out:write("\27[H\27[2J") end
    ctx.out:write("every ", tostring(every), "s  ", clock_line(), "\n")
    if result then
      local before = previous
      ctx.highlight = terminal and before and function(_, i, row)
        local old = before[row[1]]
        return old == nil or old[i] ~= row[i]
      end or nil
      previous = {}
      for _, row in ipairs(show_list(ctx, result) or {}) do previous[row[1]] = row end
    else
      ctx.out:write(output.clean(tostring(err)), "\n")
    end
    if not terminal then ctx.out:write("\n") end
    local ok, werr = ctx.out:finish()
    if not ok then
      ctx.err:write("connectstatus: cannot write the output: ", tostring(werr), "\n")
      return EXIT.error
    end
    core.sleep(every)
  end
end

-- ---- help, version, man page, completion ----

local function help(ctx, command)
  if not command then
    ctx.out:write(M.HELP)
  else
    ctx.out:write(COMMANDS[command].help, "Common flags (credentials, -o, --timeout...): connectstatus --help\n")
  end
  return EXIT.ok
end

function M.version_text()
  local lua = rawget(_G, "jit") and rawget(_G, "jit").version or _VERSION
  local note = math.type and "" or " (numbers are doubles here: integers beyond 2^53 are marked inexact)"
  return ("connectstatus %s on %s%s\n"):format(tostring(cs.version), lua, note)
end

local function roff(text)
  return (text:gsub("\\", "\\e"):gsub("\n([.'])", "\n\\&%1"):gsub("^([.'])", "\\&%1"))
end

-- The man page, from the same help texts as --help.
function M.man_page()
  local parts = { '.TH CONNECTSTATUS 1 "" "connectstatus ' .. tostring(cs.version) .. '" "User Commands"',
    ".SH NAME", "connectstatus \\- read and wait on the status of data-pipeline connectors",
    ".SH SYNOPSIS", ".nf", roff(M.HELP), ".fi", ".SH COMMANDS" }
  for _, name in ipairs(ORDER) do
    if name ~= "help" then
      parts[#parts + 1] = ".SS " .. name
      parts[#parts + 1] = ".nf\n" .. roff(COMMANDS[name].help) .. ".fi"
    end
  end
  parts[#parts + 1] = ".SH FILES\n$XDG_CONFIG_HOME/connectstatus/config (default ~/.config/connectstatus/config): " ..
    "the contexts; see the context command."
  parts[#parts + 1] = ".SH ENVIRONMENT\nNO_COLOR disables colour. The variables of each flag are named in the " ..
    "synopsis."
  return table.concat(parts, "\n") .. "\n"
end

-- `connectstatus __complete commands|flags [COMMAND]|connectors|contexts`: words for the shell
-- completions, so that they follow this file. Prints nothing on any error.
local function complete(ctx)
  local what, command = ctx.args[1], ctx.args[2]
  local words = {}
  if what == "commands" then
    words = ORDER
  elseif what == "flags" then
    for _, f in ipairs(flag_names(COMMANDS[command] and command or nil)) do words[#words + 1] = "--" .. f end
  elseif what == "states" then
    words = options.CONNECTOR_STATES
  elseif what == "phases" then
    words = options.OFFSET_PHASES
  elseif what == "contexts" then
    local ok, config = pcall(contexts.load)
    words = ok and config.order or {}
  elseif what == "connectors" then
    local ok, client = pcall(ctx.connectors)
    local names = ok and client:list() or nil
    words = type(names) == "table" and names or {}
  end
  for _, w in ipairs(words) do
    if type(w) == "string" and not w:find("[%c%s]") then ctx.out:write(w, "\n") end
  end
  return EXIT.ok
end

-- ---- dispatch ----

local function check_args(parsed)
  local spec = COMMANDS[parsed.command]
  local n = #parsed.args
  local low = spec.many and 1 or spec.min or #spec.args
  local high = spec.many and math.huge or spec.max or #spec.args
  if n < low or n > high then
    raise_usage(("%s takes %s"):format(parsed.command, #spec.args == 0 and "no arguments" or
      table.concat(spec.args, " ") .. (spec.many and "..." or "")), parsed.command)
  end
end

local function output_format(flags)
  local format = flags.output or (flags.json and "json") or "table"
  if not FORMATS[format] then
    raise_usage(("-o takes table, json, jsonl or prometheus, got %s%s"):format(format,
      options.did_you_mean(format, { "json", "jsonl", "prometheus", "table" })))
  end
  return format
end

local function new_ctx(parsed, out, err)
  local spec = COMMANDS[parsed.command]
  local ctx = { command = parsed.command, args = parsed.args, flags = parsed.flags, out = out, err = err }
  ctx.format = output_format(parsed.flags)
  if ctx.format == "prometheus" and parsed.command ~= "health" and parsed.command ~= "check" then
    raise_usage("-o prometheus is for health and check", parsed.command)
  end
  ctx.colour = ctx.format == "table" and output.use_colour()
  local waits = spec.wait or (parsed.flags.wait and not parsed.flags["dry-run"])
  ctx.wait_timeout = waits and seconds(parsed.flags, "timeout", 300) or nil
  -- A wait bounds its HTTP transfers too (at least 1 s, at most the usual 30 s).
  local http_timeout = waits and math.min(30, math.max(ctx.wait_timeout, 1))
    or seconds(parsed.flags, "timeout", nil, true)
  ctx.dry = parsed.flags["dry-run"] and dry_driver() or nil
  ctx.confluent = function() return confluent_client(parsed.flags, http_timeout, ctx.dry) end
  ctx.feldera = function() return feldera_client(parsed.flags, http_timeout, ctx.dry) end
  ctx.connect = function() return connect_client(parsed.flags, http_timeout, ctx.dry) end
  ctx.api = function() return uses_connect(parsed.flags) and "kafka-connect" or "confluent" end
  -- The connectors' API: Kafka Connect when a Connect URL is set, else Confluent Cloud.
  ctx.connectors = function()
    if ctx.api() == "kafka-connect" then return ctx.connect() end
    return ctx.confluent()
  end
  return ctx
end

local function dispatch(parsed, out, err)
  if parsed.flags.version then
    out:write(M.version_text())
    return EXIT.ok
  end
  local command = parsed.command
  if command == "__complete" then
    parsed.command = "help" -- common flags only
    return complete(new_ctx(parsed, out, err))
  end
  if command == nil and parsed.flags.help then command = "help" end
  if command == nil then raise_usage("a command is needed") end
  parsed.command = command
  if not COMMANDS[command] then
    raise_usage("unknown command " .. command .. options.did_you_mean(command, ORDER, ""))
  end
  check_flags(parsed)
  local ctx = new_ctx(parsed, out, err)
  if command == "help" or parsed.flags.help then
    local topic = command == "help" and parsed.args[1] or (command ~= "help" and command or nil)
    if topic and not COMMANDS[topic] then
      raise_usage("unknown command " .. topic .. options.did_you_mean(topic, ORDER, ""))
    end
    return help(ctx, topic)
  end
  check_args(parsed)
  return RUN[command](ctx)
end

-- A sink for --quiet.
local NULL = { write = function() return true end, flush = function() return true end }

local function report_usage(u, json, out, err)
  err:write("connectstatus: ", output.clean(u.usage), "\n")
  err:write("Run 'connectstatus ", u.command and COMMANDS[u.command] and u.command .. " --help" or "--help",
    "' for usage.\n")
  if json then output.json(out, { error = { kind = "usage", message = u.usage } }) end
  return EXIT.usage
end

function M.main(argv)
  local args = {}
  for i = 1, #(argv or {}) do args[i] = argv[i] end
  local json = wants_json(args)
  local out, err = output.writer(io.stdout), output.writer(io.stderr)
  local parsed = parse(args)
  if parsed.usage then
    local code = report_usage(parsed, json, out, err)
    out:finish()
    return code
  end
  if parsed.flags.quiet then out, err = output.writer(NULL), output.writer(NULL) end
  local ok, code = pcall(dispatch, parsed, out, err)
  if not ok then
    if type(code) == "table" and code.usage then
      code = report_usage(code, json, output.writer(io.stdout), output.writer(io.stderr))
    elseif tostring(code):find("interrupted") then
      err:write("\nconnectstatus: interrupted\n")
      code = EXIT.interrupted
    else
      err:write("connectstatus: internal error: ", output.clean(tostring(code)), "\n")
      if json then output.json(out, { error = { kind = "internal", message = tostring(code) } }) end
      code = EXIT.error
    end
  end
  local written, why = out:finish()
  if not written then
    io.stderr:write("connectstatus: cannot write the output: ", tostring(why), "\n")
    return worst(code, EXIT.error)
  end
  return code
end

return M
