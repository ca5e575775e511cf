-- The W2 selection (issue 16): what counting the FAILED connectors of a fleet reads, each connector's state and
-- its tasks' states. bench/cs_fleet.lua, bench/decode_only.lua and bench/json_bench.lua use it.
return { "*.status.connector.state", "*.status.tasks.*.state" }
