#!/bin/sh
# Fuzzes the JSON codec (fuzz/json_fuzz.c) with libFuzzer + ASan/UBSan for $1 seconds (default 60)
# on each number model: built against Lua 5.4 (64-bit integers) and LuaJIT (doubles only).
# The corpus (fuzz/corpus) is seeded from the spec fixtures and JSONTestSuite ($JSON_TEST_SUITE,
# default ../shared/json-test-suite); a crashing input is written to fuzz/artifacts/ and the script
# exits non-zero. Each input is also decoded with a selection (see fuzz/json_fuzz.c).
set -eu
cd "$(dirname "$0")/.."
secs="${1:-60}"
out=build/fuzz
mkdir -p "$out" fuzz/corpus fuzz/artifacts
suite="${JSON_TEST_SUITE:-../shared/json-test-suite}"
for f in spec/fixtures/*.json spec/fixtures/json/* "$suite"/test_parsing/*; do
  [ -f "$f" ] && cp "$f" "fuzz/corpus/seed-$(basename "$f")"
done
printf '%s\n' '"["' '"]"' '"{"' '"}"' '","' '":"' '"true"' '"false"' '"null"' '"\\u"' \
  '"\\uD83D\\uDE00"' '"\\""' '"-0"' '"1e400"' '"9223372036854775808"' '"0.1"' '"E-"' \
  '"\\xEF\\xBB\\xBF"' >"$out/json.dict"
for lua in lua5.4 luajit; do
  echo "fuzz: $lua, $secs s"
  # shellcheck disable=SC2046
  clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -std=c99 \
    $(pkg-config --cflags "$lua") fuzz/json_fuzz.c -o "$out/json_fuzz_$lua" $(pkg-config --libs "$lua")
  "$out/json_fuzz_$lua" -max_total_time="$secs" -max_len=65536 -timeout=10 -dict="$out/json.dict" \
    -artifact_prefix="fuzz/artifacts/$lua-" -print_final_stats=1 fuzz/corpus
done
