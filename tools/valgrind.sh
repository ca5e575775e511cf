#!/bin/sh
# `make valgrind`: on Lua 5.4 under memcheck, every spec, then 100,000 status reads on one client and 10,000
# through cs.map in one process (tools/valgrind_reads.lua, so that a per-request leak of even a few bytes shows).
# Any invalid access or definite leak fails the run. Servers (the fake API, openssl s_server) run
# in child processes, outside valgrind. VALGRIND_SPECS and VALGRIND_READS narrow it down.
set -eu
cd "$(dirname "$0")/.."
specs="${VALGRIND_SPECS:-spec}"
reads="${VALGRIND_READS:-100000}"
paths="package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path
package.cpath = 'build/lua5.4/?.so;' .. package.cpath"
memcheck() {
  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --suppressions=tools/valgrind.supp "$@"
}
# shellcheck disable=SC2086
memcheck lua5.4 /usr/bin/busted --lpath='lua/?.lua;lua/?/init.lua;spec/?.lua' --cpath='build/lua5.4/?.so' $specs
memcheck lua5.4 -e "$paths" tools/valgrind_reads.lua "$reads"
echo "valgrind: clean"
