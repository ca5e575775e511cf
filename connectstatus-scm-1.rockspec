rockspec_format = "3.0"
package = "connectstatus"
version = "scm-1"
source = {
  url = "git+https://example.invalid/connectstatus.git",
}
description = {
  summary = "Read and wait on the status of Confluent Cloud Connect and Feldera connectors",
  detailed = [[
    A libcurl-backed client with an exact-integer JSON decoder in C, and the helpers runbooks need:
    wait_for_state, wait_for_offset_phase, fleet health, rate-limit pacing, a CLI and a fake API.
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
    ["connectstatus.confluent"] = "lua/connectstatus/confluent.lua",
    ["connectstatus.feldera"] = "lua/connectstatus/feldera.lua",
    ["connectstatus.pp"] = "lua/connectstatus/pp.lua",
    ["connectstatus.timefmt"] = "lua/connectstatus/timefmt.lua",
    ["connectstatus.wait"] = "lua/connectstatus/wait.lua",
    ["connectstatus.health"] = "lua/connectstatus/health.lua",
    ["connectstatus.cli"] = "lua/connectstatus/cli.lua",
    ["connectstatus.cli.output"] = "lua/connectstatus/cli/output.lua",
    ["connectstatus.cli.context"] = "lua/connectstatus/cli/context.lua",
    ["connectstatus.status"] = "lua/connectstatus/status.lua",
    ["connectstatus.options"] = "lua/connectstatus/options.lua",
    ["connectstatus.fake"] = "lua/connectstatus/fake.lua",
  },
  install = {
    bin = { connectstatus = "bin/connectstatus" },
  },
}
test = {
  type = "command",
  command = "make test",
}
