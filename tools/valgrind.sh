#!/bin/sh
# The specs that exercise the C core, run on Lua 5.4 under memcheck: any invalid access or
# definite leak fails the run. (The fake server runs in a child process, outside valgrind.)
set -eu
cd "$(dirname "$0")/.."
specs="${VALGRIND_SPECS:-spec/json_spec.lua spec/client_spec.lua spec/errors_spec.lua}"
# shellcheck disable=SC2086
valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --suppressions=tools/valgrind.supp \
  lua5.4 /usr/bin/busted --lpath='lua/?.lua;lua/?/init.lua;spec/?.lua' --cpath='build/lua5.4/?.so' $specs
echo "valgrind: clean"
