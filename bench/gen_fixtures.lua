-- Deterministic fixtures for the benchmark, shaped like the Confluent Cloud Connect v1 examples.
--   lua5.4 bench/gen_fixtures.lua OUTDIR W2_SIZE [SIZE ...]
-- Writes OUTDIR/status/<name>.json (one ~300-byte status body), OUTDIR/fleets/<cluster>.json (the list with
-- expand=id,info,status) and OUTDIR/fleets/<cluster>.names.json (the plain list) for the cluster "lkc-bench"
-- (W2_SIZE connectors) and "lkc-bench-<SIZE>" for each SIZE, and OUTDIR/manifest.txt with one line
-- "<cluster> <connectors> <failed> <bytes>" per fleet. Fleet n holds the first n connectors of one sequence.
-- Plain string building: no JSON library, so key order and bytes never vary.

local STATUS_NAME = "orders-postgres-sink-prod-01"

local PREFIXES = { "orders", "payments", "inventory", "clickstream", "users", "shipments", "invoices", "audit" }
local KINDS = {
  { tag = "pg", class = "PostgresSink", type = "sink", key = "connection.host", value = "orders-db.example.com" },
  { tag = "s3", class = "S3_SINK", type = "sink", key = "s3.bucket.name", value = "acme-prod-kafka-archive" },
  { tag = "datagen", class = "DatagenSource", type = "source", key = "quickstart", value = "ORDERS" },
  { tag = "cdc", class = "MySqlCdcSource", type = "source", key = "database.hostname", value = "mysql-1.example.com" },
  { tag = "gcs", class = "GcsSink", type = "sink", key = "gcs.bucket.name", value = "acme-analytics-landing" },
}

local TRACE = [[org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to unrecoverable ]] ..
  [[exception.\n\tat org.apache.kafka.connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:618)\n]] ..
  [[\tat org.apache.kafka.connect.runtime.WorkerSinkTask.poll(WorkerSinkTask.java:334)\nCaused by: ]] ..
  [[org.postgresql.util.PSQLException: ERROR: duplicate key value violates unique constraint \"orders_pkey\"]]

local B36 = "0123456789abcdefghijklmnopqrstuvwxyz"

local function lcc_id(i)
  local t, x = {}, i * 7919 + 104729
  for k = 5, 1, -1 do
    local d = x % 36
    t[k] = B36:sub(d + 1, d + 1)
    x = x // 36
  end
  return "lcc-" .. table.concat(t)
end

local function name_of(i)
  local kind = KINDS[i % #KINDS + 1]
  return ("%s-%s-%05d"):format(PREFIXES[i % #PREFIXES + 1], kind.tag, i)
end

-- Which connectors fail: every 17th connector itself, and one task of every 23rd (offset 5).
local function failure_of(i)
  if i % 17 == 0 then return "connector" end
  if i % 23 == 5 then return "task" end
  return nil
end

local function status_json(name, ctype, ntasks, failure)
  local out = {
    '{"name":"', name, '","connector":{"state":"', failure == "connector" and "FAILED" or "RUNNING",
    '","worker_id":"', name, '","trace":"', failure == "connector" and TRACE or "", '"},"tasks":[',
  }
  for t = 0, ntasks - 1 do
    local failed = failure == "task" and t == ntasks - 1
    out[#out + 1] = ('%s{"id":%d,"state":"%s","worker_id":"%s","msg":"%s"}'):format(
      t > 0 and "," or "", t, failed and "FAILED" or "RUNNING", name, failed and TRACE or "")
  end
  out[#out + 1] = '],"type":"' .. ctype .. '"}'
  return table.concat(out)
end

local function config_json(i, name, kind, ntasks)
  local pairs_ = {
    { "cloud.environment", "prod" },
    { "cloud.provider", "aws" },
    { "connector.class", kind.class },
    { "input.data.format", "AVRO" },
    { "kafka.api.key", "****************" },
    { "kafka.api.secret", "****************" },
    { "kafka.auth.mode", "KAFKA_API_KEY" },
    { "kafka.endpoint", "SASL_SSL://pkc-xxxxx.us-west-2.aws.confluent.cloud:9092" },
    { "kafka.region", "us-west-2" },
    { kind.key, kind.value },
    { "name", name },
    { "tasks.max", tostring(ntasks) },
    { "topics", ("%s.events.v%d"):format(PREFIXES[i % #PREFIXES + 1], i % 3 + 1) },
    { "flush.size", "1000" },
    { "time.interval", "HOURLY" },
  }
  local out = {}
  for k, kv in ipairs(pairs_) do
    out[k] = ('"%s":"%s"'):format(kv[1], kv[2])
  end
  return "{" .. table.concat(out, ",") .. "}"
end

-- One member of the expanded list: "name":{"id":{...},"info":{...},"status":{...}}.
local function fleet_member(i)
  local kind = KINDS[i % #KINDS + 1]
  local name = name_of(i)
  local ntasks = i % 4 + 1
  return ('"%s":{"id":{"id":"%s","id_type":"ID"},"info":{"name":"%s","config":%s,"type":"%s"},"status":%s}'):format(
    name, lcc_id(i), name, config_json(i, name, kind, ntasks), kind.type,
    status_json(name, kind.type, ntasks, failure_of(i)))
end

local function write_file(path, writer)
  local f = assert(io.open(path, "wb"))
  local bytes = writer(f)
  assert(f:close())
  return bytes
end

local function write_fleet(dir, cluster, n)
  local failed = 0
  local bytes = write_file(dir .. "/fleets/" .. cluster .. ".json", function(f)
    local total = 1
    f:write("{")
    for i = 1, n do
      local member = fleet_member(i)
      if i > 1 then
        f:write(",")
        total = total + 1
      end
      f:write(member)
      total = total + #member
      if failure_of(i) then failed = failed + 1 end
    end
    f:write("}")
    return total + 1
  end)
  write_file(dir .. "/fleets/" .. cluster .. ".names.json", function(f)
    local names = {}
    for i = 1, n do names[i] = '"' .. name_of(i) .. '"' end
    f:write("[", table.concat(names, ","), "]")
  end)
  return ("%s %d %d %d"):format(cluster, n, failed, bytes)
end

local function main(dir, w2_size, ...)
  assert(dir and tonumber(w2_size), "usage: gen_fixtures.lua OUTDIR W2_SIZE [SIZE ...]")
  assert(os.execute(("mkdir -p '%s/status' '%s/fleets'"):format(dir, dir)))
  write_file(dir .. "/status/" .. STATUS_NAME .. ".json", function(f)
    f:write(status_json(STATUS_NAME, "sink", 2, nil))
  end)
  local manifest = { write_fleet(dir, "lkc-bench", math.tointeger(tonumber(w2_size))) }
  for _, size in ipairs { ... } do
    manifest[#manifest + 1] = write_fleet(dir, "lkc-bench-" .. size, math.tointeger(tonumber(size)))
  end
  write_file(dir .. "/manifest.txt", function(f)
    f:write("status ", STATUS_NAME, "\n", table.concat(manifest, "\n"), "\n")
  end)
end

main(...)
