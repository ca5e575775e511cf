#!/bin/sh
# Smoke run of the benchmark harness for `make test`: bench/run.sh at tiny sizes (50 W1 reads, a 100-connector
# fleet, W4 at 100 and 1,000, W3 at 1,000 vs 2,000 reads, one run, wrk for 1 s when installed, no plot, no
# profile). No assertion on speed: only that every contender ran and counted the FAILED connectors right.
# Installs nothing; skips (exit 0) with a clear line when a bench package is absent. Results go to
# bench/out/smoke/, never to bench/RESULTS.md.
set -u
cd "$(dirname "$0")/.." || exit 2

missing=""
for t in nginx curl jq lua5.4 luajit /usr/bin/time /usr/bin/python3 timeout; do
  command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
[ -x /usr/bin/python3 ] && { /usr/bin/python3 -c 'import requests' 2>/dev/null || missing="$missing python3-requests"; }
lua5.4 -e 'require "socket.http"; require "cjson"' 2>/dev/null || missing="$missing lua-socket/lua-cjson"
if [ -n "$missing" ]; then
  echo "bench smoke: skipped (missing:$missing)"
  exit 0
fi
for b in build/lua5.4 build/luajit; do
  [ -f "$b/connectstatus/core.so" ] || { echo "bench smoke: FAILED ($b/connectstatus/core.so not built)"; exit 1; }
done

mkdir -p bench/out
log=bench/out/smoke.log
started=$(date +%s)
if ! BENCH_SMOKE=1 timeout 120 sh bench/run.sh >"$log" 2>&1; then
  tail -n 30 "$log"
  echo "bench smoke: FAILED (log: $log)"
  exit 1
fi

raw=bench/out/smoke/raw.txt
problems=""
expect() { grep -q "$1" "$raw" || problems="$problems [$1]"; }
for c in connectstatus-lua5.4 connectstatus-luajit luasocket-cjson python-requests curl-jq; do
  expect "^result contender=$c workload=W1 "
  expect "^result contender=$c workload=W2 cluster=lkc-bench "
done
if command -v wrk >/dev/null 2>&1; then
  expect "^result contender=wrk workload=W1 "
  expect "^result contender=wrk workload=W2 "
fi
expect "^result contender=connectstatus-lua5.4 workload=W2 cluster=lkc-bench-1000 n=1000 "
expect "^rss contender=connectstatus-lua5.4 first_n=1000 "
expect "^rss contender=connectstatus-luajit first_n=1000 "
grep -q "^## Targets" bench/out/smoke/RESULTS.md 2>/dev/null || problems="$problems [RESULTS.md]"
if [ -n "$problems" ]; then
  echo "bench smoke: FAILED (missing results:$problems; log: $log)"
  exit 1
fi
echo "bench smoke: ok ($(grep -c '^result ' "$raw") results, counts checked, $(($(date +%s) - started)) s)"
