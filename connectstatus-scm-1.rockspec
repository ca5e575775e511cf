rockspec_format = "3.0"
package = "connectstatus"
version = "scm-1"
source = {
  url = "git+https://example.invalid/connectstatus.git",
}
description = {
  summary = "Read, change and wait on the state of Confluent Cloud Connect and Feldera connectors",
  detailed = [[
    A libcurl-backed client with an exact-integer JSON decoder in C, and the helpers runbooks need:
    actions that wait for their outcome in the same call (pause, resume, alter and reset offsets),
    wait_for_state, wait_for_offset_phase, wait_for_completion, fleet health, rate-limit pacing, a
    CLI and a fake API.
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1, < 5.5",
}
test_dependencies = {
  "busted",
  "lua-cjson",
  "luasocket",
}
-- Declared by library only: Debian keeps curl.h in a multiarch include folder the compiler finds.
external_dependencies = {
  CURL = { library = "curl" },
}
build = {
  type = "builtin",
  modules = {
    ["connectstatus.core"] = {
      sources = { "csrc/cs_core.c" },
      libraries = { "curl" },
      libdirs = { "$(CURL_LIBDIR)" },
    },
    ["connectstatus"] = "lua/connectstatus/init.lua",
    ["connectstatus.errors"] = "lua/connectstatus/errors.lua",
    ["connectstatus.path"] = "lua/connectstatus/path.lua",
    ["connectstatus.transport"] = "lua/connectstatus/transport.lua",
    ["connectstatus.retry"] = "lua/connectstatus/retry.lua",
    ["connectstatus.backend"] = "lua/connectstatus/backend.lua",
    ["connectstatus.driver_curl"] = "lua/connectstatus/driver_curl.lua",
    ["connectstatus.driver_loop"] = "lua/connectstatus/driver_loop.lua",
    ["connectstatus.loop"] = "lua/connectstatus/loop.lua",
    ["connectstatus.driver_nginx"] = "lua/connectstatus/driver_nginx.lua",
    ["connectstatus.confluent"] = "lua/connectstatus/confluent.lua",
    ["connectstatus.feldera"] = "lua/connectstatus/feldera.lua",
    ["connectstatus.kafka_connect"] = "lua/connectstatus/kafka_connect.lua",
    ["connectstatus.pp"] = "lua/connectstatus/pp.lua",
    ["connectstatus.timefmt"] = "lua/connectstatus/timefmt.lua",
    ["connectstatus.wait"] = "lua/connectstatus/wait.lua",
    ["connectstatus.health"] = "lua/connectstatus/health.lua",
    ["connectstatus.cli"] = "lua/connectstatus/cli.lua",
    ["connectstatus.fake"] = "lua/connectstatus/fake/init.lua",
    ["connectstatus.fake.common"] = "lua/connectstatus/fake/common.lua",
    ["connectstatus.fake.http"] = "lua/connectstatus/fake/http.lua",
    ["connectstatus.fake.faults"] = "lua/connectstatus/fake/faults.lua",
    ["connectstatus.fake.control"] = "lua/connectstatus/fake/control.lua",
    ["connectstatus.fake.confluent"] = "lua/connectstatus/fake/confluent.lua",
    ["connectstatus.fake.feldera"] = "lua/connectstatus/fake/feldera.lua",
    ["connectstatus.fake.kafka_connect"] = "lua/connectstatus/fake/kafka_connect.lua",
    ["connectstatus.cli.output"] = "lua/connectstatus/cli/output.lua",
    ["connectstatus.cli.context"] = "lua/connectstatus/cli/context.lua",
    ["connectstatus.status"] = "lua/connectstatus/status.lua",
    ["connectstatus.options"] = "lua/connectstatus/options.lua",
  },
  install = {
    bin = { connectstatus = "bin/connectstatus" },
  },
}
test = {
  type = "command",
  command = "make test",
}
