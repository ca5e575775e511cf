#!/bin/sh
# The whole suite: busted specs on Lua 5.4, LuaJIT, 5.1 and 5.3 (TAP), then the checks that are not specs.
# Ends with one line "N passed, N failed" over everything; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.." || exit 2
out=build/test
mkdir -p "$out"
passed=0
failed=0

record() { # name, status
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok - $1"
  else failed=$((failed + 1)); echo "not ok - $1"; fi
}

run_busted() { # interpreter, build folder[, root, file pattern, name]
  tap="$out/${5:-$1}.tap"
  # The interpreter runs busted itself: `busted --lua=` re-executes through a shell that splits
  # the search paths at their semicolons.
  "$1" "$(command -v busted)" -o TAP --lpath='lua/?.lua;lua/?/init.lua;spec/?.lua' --cpath="$2/?.so" \
    --pattern="${4:-_spec}" "${3:-spec}" >"$tap" 2>&1
  cat "$tap"
  p=$(grep -c '^ok ' "$tap")
  f=$(grep -c '^not ok ' "$tap")
  [ "$p" -gt 0 ] || f=$((f + 1)) # a run that executed nothing is a failure
  echo "${5:-$1}: $p passed, $f failed"
  passed=$((passed + p))
  failed=$((failed + f))
}

run_busted lua5.4 build/lua5.4
run_busted luajit build/luajit
run_busted lua5.1 build/lua5.1
run_busted lua5.3 build/lua5.3

# A real nginx (issue 11): Debian's nginx-light with OpenResty's Lua module unpacked under build/openresty
# (tools/nginx.sh), running build/luajit's core.so; the specs in spec/nginx/*_ngx.lua drive it from Lua 5.4.
sh tools/nginx.sh prepare >/dev/null 2>"$out/nginx_prepare.log"
record "OpenResty's Lua module for Debian's nginx-light unpacked (tools/nginx.sh prepare)" $?
run_busted lua5.4 build/lua5.4 spec/nginx _ngx nginx

# Exactly one exported symbol.
exported=$(nm -D --defined-only build/lua5.4/connectstatus/core.so | awk '$2 == "T" {print $3}')
[ "$exported" = "luaopen_connectstatus_core" ]
record "core.so exports only luaopen_connectstatus_core (got: $exported)" $?

sh tools/small_stack.sh >"$out/small_stack.log" 2>&1
record "decoder and encoder survive 100,000 nested levels on a 64 KiB thread stack" $?

sh tools/threads.sh >"$out/threads.log" 2>&1
record "two Lua states on two threads, each with its own client, work independently" $?

sh tools/rock_check.sh >"$out/rock_check.log" 2>&1
record "luarocks make into a scratch tree gives a module that loads" $?
sh bench/smoke.sh; record "bench harness smoke: every contender (W6 in nginx too) runs and counts FAILED right (bench/smoke.sh)" $?

luacheck -q lua spec examples bin bench tools >"$out/luacheck.log" 2>&1
record "luacheck clean" $?

clang-format --dry-run --Werror csrc/*.c csrc/*.h fuzz/*.c tools/*.c bench/*.c >"$out/clang-format.log" 2>&1
record "clang-format clean" $?

for log in nginx_prepare small_stack threads rock_check luacheck clang-format; do
  [ -s "$out/$log.log" ] && { echo "--- $log"; tail -n 20 "$out/$log.log"; }
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
