#!/bin/sh
# Smoke run of the benchmark harness for `make test`: bench/run.sh at tiny sizes (50 W1 reads, a 100-connector
# fleet, W4 at 100 and 1,000, W3 at 1,000 vs 2,000 reads, W5 over 40 connectors, W6 in nginx for 1 s per
# contender, one run, wrk for 1 s, no plot, no profile).
# No assertion on speed: only that every contender ran and counted the FAILED connectors right, and that the
# report was written. A missing tool is a failure, not a skip: `make test` installs them (tools/deps.sh test).
# Results go to bench/out/smoke/, never to bench/RESULTS.md. Takes a few seconds.
set -u
cd "$(dirname "$0")/.." || exit 2

missing=""
for t in nginx curl jq wrk lua5.4 luajit /usr/bin/time /usr/bin/python3 timeout; do
  command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
[ -x /usr/bin/python3 ] && { /usr/bin/python3 -c 'import requests' 2>/dev/null || missing="$missing python3-requests"; }
lua5.4 -e 'require "socket.http"; require "cjson"' 2>/dev/null || missing="$missing lua-socket/lua-cjson"
for b in build/lua5.4 build/luajit; do
  [ -f "$b/connectstatus/core.so" ] || missing="$missing $b/connectstatus/core.so"
done
if [ -n "$missing" ]; then
  echo "bench smoke: FAILED, missing:$missing (make test installs and builds them)"
  exit 1
fi

mkdir -p bench/out
log=bench/out/smoke.log
started=$(date +%s)
if ! BENCH_SMOKE=1 timeout 60 sh bench/run.sh >"$log" 2>&1; then
  tail -n 30 "$log"
  echo "bench smoke: FAILED (log: $log)"
  exit 1
fi

raw=bench/out/smoke/raw.txt
problems=""
expect() { grep -q "$1" "$raw" || problems="$problems [$1]"; }
for c in connectstatus-lua5.4 connectstatus-luajit luasocket-cjson python-requests curl-jq wrk; do
  expect "^result contender=$c workload=W1 "
  expect "^result contender=$c workload=W2 cluster=lkc-bench "
done
for c in connectstatus-lua5.4 luasocket-cjson; do
  expect "^result contender=$c workload=W2 cluster=lkc-bench-1000 n=1000 "
  expect "^result contender=$c workload=DECODE cluster=lkc-bench n=100 "
done
# The selected variants (issue 16): W2S says "skip" while the client does not pass select on.
grep -q "^## W2 and W4 with a selection" bench/out/smoke/RESULTS.md 2>/dev/null || problems="$problems [RESULTS.md: W2S]"
for c in lkc-bench lkc-bench-100 lkc-bench-1000; do
  expect "^\(result\|skip\) contender=connectstatus-lua5.4 workload=W2S cluster=$c "
  expect "^result contender=connectstatus-lua5.4 workload=DECODE_SEL cluster=$c "
done
expect "^\(result\|skip\) contender=connectstatus-luajit workload=W2S cluster=lkc-bench "
expect "^rss contender=connectstatus-lua5.4 first_n=1000 "
expect "^rss contender=connectstatus-luajit first_n=1000 "
for c in connectstatus-sequential connectstatus-map-8 connectstatus-map-32 luasocket-cjson-sequential \
  python-requests-threads-32 curl-parallel-32; do
  grep -q "^result contender=$c workload=W5 n=40 running=40 " bench/out/smoke/w5.txt 2>/dev/null ||
    problems="$problems [W5 $c]"
done
for c in cosocket libcurl; do
  grep -q "^result contender=$c workload=W6 connections=32 " bench/out/smoke/w6.txt 2>/dev/null ||
    problems="$problems [W6 $c]"
done
for section in "## Targets" "## W1" "## W2" "## W3" "## W4" "## W5" "## W6" "Where W2's time goes"; do
  grep -q "^$section" bench/out/smoke/RESULTS.md 2>/dev/null || problems="$problems [RESULTS.md: $section]"
done
if [ -n "$problems" ]; then
  echo "bench smoke: FAILED (missing results:$problems; log: $log)"
  exit 1
fi
echo "bench smoke: ok ($(grep -c '^result ' "$raw") results, counts checked, $(($(date +%s) - started)) s)"
