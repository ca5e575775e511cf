#!/bin/sh
# make bench: the comparative benchmark of connectstatus (issue 6). Generates the fixtures, starts its own
# nginx on a free 127.0.0.1 port, runs every contender of W1..W5 BENCH_RUNS times (round-robin, so drift hits
# all alike), then W6 inside nginx (bench/w6_nginx.lua, BENCH_W6_RUNS times), stops nginx (also on failure),
# profiles connectstatus and writes bench/RESULTS.md and
# bench/results.png. Run from anywhere; `make bench` installs the packages and builds both modules first.
# A contender that fails, or counts a different number of FAILED connectors than the generator made,
# fails the run. bench/smoke.sh runs this with BENCH_SMOKE=1 (tiny sizes, one run, no plot or profile).
set -eu
cd "$(dirname "$0")/.."

SMOKE=${BENCH_SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  : "${BENCH_RUNS:=1}" "${BENCH_W1_N:=50}" "${BENCH_CURL_N:=5}" "${BENCH_WRK_SECONDS:=1}" "${BENCH_W2_SIZE:=100}"
  : "${BENCH_W4_SIZES:=100 1000}" "${BENCH_RSS_N:=2000}" "${BENCH_PROFILE:=0}" "${BENCH_PLOT:=0}"
  : "${BENCH_W5_N:=40}" "${BENCH_W6_SECONDS:=1}" "${BENCH_W6_RUNS:=1}"
  : "${BENCH_OUT:=bench/out/smoke}" "${BENCH_RESULTS:=bench/out/smoke/RESULTS.md}"
fi
RUNS=${BENCH_RUNS:-7}                        # repetitions of every workload and contender
W1_N=${BENCH_W1_N:-5000}                     # W1 status reads per run
CURL_N=${BENCH_CURL_N:-200}                  # W1 reads per run for curl | jq (two processes per read)
WRK_SECONDS=${BENCH_WRK_SECONDS:-3}          # wrk duration per run
W2_SIZE=${BENCH_W2_SIZE:-10000}              # W2 fleet size
W4_SIZES=${BENCH_W4_SIZES:-100 1000 10000 50000}
W5_N=${BENCH_W5_N:-200}                      # W5 distinct connectors read per run ...
W5_DELAY=${BENCH_W5_DELAY:-0.02}             # ... each answered this many seconds late
W6_SECONDS=${BENCH_W6_SECONDS:-5}            # W6: wrk seconds per contender inside nginx ...
W6_RUNS=${BENCH_W6_RUNS:-3}                  # ... and its runs
RSS_AT=1000                                  # W3: VmRSS after this many reads ...
RSS_N=${BENCH_RSS_N:-100000}                 # ... and after this many
PROFILE=${BENCH_PROFILE:-1}                  # callgrind + perf of the connectstatus contenders
PLOT=${BENCH_PLOT:-1}
OUT=${BENCH_OUT:-bench/out/full}
RESULTS=${BENCH_RESULTS:-bench/RESULTS.md}
PNG=${BENCH_PNG:-bench/results.png}
PYTHON=${PYTHON:-/usr/bin/python3}           # Debian's python3, which python3-requests belongs to
TIME=/usr/bin/time

# ---- tools ----
missing=""
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing $1"; }
for t in lua5.4 luajit nginx curl jq wrk cc pkg-config "$PYTHON" "$TIME"; do need "$t"; done
[ "$PLOT" = 1 ] && need gnuplot
[ "$PROFILE" = 1 ] && { need valgrind; need callgrind_annotate; }
"$PYTHON" -c 'import requests' 2>/dev/null || missing="$missing python3-requests"
lua5.4 -e 'require "socket.http"; require "cjson"' 2>/dev/null || missing="$missing lua-socket/lua-cjson"
for b in build/lua5.4 build/luajit; do [ -f "$b/connectstatus/core.so" ] || missing="$missing $b/connectstatus/core.so"; done
if [ -n "$missing" ]; then
  echo "bench: missing:$missing (make bench installs and builds them)" >&2
  exit 1
fi

# ---- CPU placement ----
# In a VM, waking a process on the other CPU costs an inter-processor interrupt that dominates a loopback round
# trip, and left alone the scheduler moves processes between CPUs mid-run, so W1 flips between two speeds.
# nginx is pinned to CPU 0 and W1 runs twice: client on CPU 1 ("apart": like a server elsewhere, latency-bound)
# and on CPU 0 ("shared": each round trip costs the client's CPU time plus nginx's, which exposes the client's
# own cost). Everything else runs apart.
SERVER_PIN=""
placements=unpinned
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
  SERVER_PIN="taskset -c 0"
  placements="apart shared"
fi
set_place() { # PLACEMENT: sets place (recorded with each result) and PIN (the taskset prefix)
  place=$1
  case "$1" in
    apart) PIN="taskset -c 1" ;;
    shared) PIN="taskset -c 0" ;;
    *) PIN="" ;;
  esac
}
set_place "${placements%% *}"

# ---- fixtures and nginx ----
rm -rf "$OUT"
mkdir -p "$OUT/nginx/tmp"
abs_out=$(cd "$OUT" && pwd)
# W1's reference: libcurl from C with nothing on top, what any libcurl-based client pays per read.
# shellcheck disable=SC2046
cc -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -o "$OUT/libcurl_floor" bench/libcurl_floor.c \
  $(pkg-config --cflags --libs libcurl)
echo "bench: generating fixtures (W2 $W2_SIZE connectors; W4 $W4_SIZES)"
# shellcheck disable=SC2086
lua5.4 bench/gen_fixtures.lua "$OUT/fixtures" "$W2_SIZE" $W4_SIZES
manifest="$OUT/fixtures/manifest.txt"
status_name=$(awk '$1 == "status" {print $2}' "$manifest")

port=$(lua5.4 -e 'local s = assert(require("socket").bind("127.0.0.1", 0)); local _, p = s:getsockname(); print(p); s:close()')
sed -e "s|@PORT@|$port|g" -e "s|@PREFIX@|$abs_out/nginx|g" -e "s|@FIXTURES@|$abs_out/fixtures|g" \
  bench/nginx.conf.in >"$OUT/nginx/nginx.conf"
nginx_pid=""
stop_nginx() {
  if [ -n "$nginx_pid" ]; then
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=""
  fi
}
trap stop_nginx EXIT
trap 'exit 130' INT TERM
$SERVER_PIN nginx -p "$abs_out/nginx" -c "$abs_out/nginx/nginx.conf" -e "$abs_out/nginx/error.log" &
nginx_pid=$!

base="http://127.0.0.1:$port"
prefix="$base/connect/v1/environments/env-bench/clusters"
status_url="$prefix/lkc-bench/connectors/$status_name/status"
fleet_url() { echo "$prefix/$1/connectors?expand=id,info,status"; }
tries=0
until curl -sf -o /dev/null "$status_url"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 50 ] || ! kill -0 "$nginx_pid" 2>/dev/null; then
    echo "bench: nginx did not answer on $base" >&2
    cat "$OUT/nginx/error.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "bench: nginx on $base (pid $nginx_pid)"
for c in $(awk '$1 != "status" {print $1}' "$manifest"); do curl -sf -o /dev/null "$(fleet_url "$c")"; done

# ---- running and checking contenders ----
raw="$OUT/raw.txt"
: >"$raw"

# record RUN CMD...: runs a contender, appends its result line with run= (and rss_kb= from /usr/bin/time
# for fleet runs); checks the connector and FAILED counts of fleet runs against the manifest.
record() {
  run=$1
  shift
  if ! "$TIME" -f %M -o "$OUT/time.txt" $PIN "$@" >"$OUT/line.txt" 2>"$OUT/err.txt"; then
    echo "bench: FAILED: $*" >&2
    cat "$OUT/err.txt" "$OUT/line.txt" >&2
    exit 1
  fi
  if grep -q '^skip ' "$OUT/line.txt"; then # a contender that cannot run yet says why
    grep '^skip ' "$OUT/line.txt" | tee -a "$raw"
    return
  fi
  line=$(grep '^result ' "$OUT/line.txt") || { echo "bench: no result line from $*" >&2; exit 1; }
  grep '^rss ' "$OUT/line.txt" >>"$raw" || true
  case "$line" in
    *workload=W2*)
      cluster=$(echo "$line" | sed 's/.* cluster=\([^ ]*\).*/\1/')
      want=$(awk -v c="$cluster" '$1 == c {print "n=" $2 " failed=" $3}' "$manifest")
      got=$(echo "$line" | sed 's/.* \(n=[0-9]*\) .*\(failed=[0-9]*\).*/\1 \2/')
      if [ "$got" != "$want" ]; then
        echo "bench: WRONG COUNT from $*: got $got, the fixtures have $want" >&2
        exit 1
      fi
      line="$line rss_kb=$(tail -n 1 "$OUT/time.txt")" ;;
  esac
  echo "$line run=$run cpu=$place" | tee -a "$raw"
}

# wrk_run RUN WORKLOAD URL [CLUSTER]: the single-connection ceiling, no decoding.
wrk_run() {
  $PIN wrk -t1 -c1 -d"${WRK_SECONDS}s" -H 'Authorization: Basic QkVOQ0hLRVkwMTIzNDU2Nzg5OmJlbmNoLXNlY3JldC1ub3QtcmVhbA==' \
    -H 'Accept: application/json' "$3" >"$OUT/wrk.txt"
  set -- "$1" "$2" "$3" "${4:+cluster=$4 }"
  awk -v run="$1" -v w="$2" -v c="$4" -v cpu="$place" '
    / requests in / { n = $1; s = $4; sub(/s,?$/, "", s) }
    /^Requests\/sec:/ { rate = $2 }
    END { if (!rate) exit 1
          printf "result contender=wrk workload=%s %sn=%d seconds=%.6f rate=%.2f run=%s cpu=%s\n", w, c, n, s, rate, run, cpu }
  ' "$OUT/wrk.txt" | tee -a "$raw"
}

cs54="lua5.4 bench/cs_poll.lua build/lua5.4 $base"
csjit="luajit bench/cs_poll.lua build/luajit $base"
w2_url=$(fleet_url lkc-bench)
r=1
while [ "$r" -le "$RUNS" ]; do
  echo "bench: run $r of $RUNS"
  for p in $placements; do
    set_place "$p"
    record "$r" $cs54 lkc-bench "$status_name" "$W1_N"
    record "$r" $csjit lkc-bench "$status_name" "$W1_N"
    record "$r" lua5.4 bench/luasocket_poll.lua "$status_url" "$W1_N"
    record "$r" "$PYTHON" bench/requests_poll.py "$status_url" "$W1_N"
    record "$r" sh bench/curl_jq.sh poll "$status_url" "$CURL_N"
    record "$r" "$OUT/libcurl_floor" "$status_url" "$W1_N"
    wrk_run "$r" W1 "$status_url"
  done
  set_place "${placements%% *}"

  record "$r" lua5.4 bench/cs_fleet.lua build/lua5.4 "$base" lkc-bench
  record "$r" luajit bench/cs_fleet.lua build/luajit "$base" lkc-bench
  record "$r" lua5.4 bench/luasocket_fleet.lua "$w2_url" lkc-bench
  record "$r" "$PYTHON" bench/requests_fleet.py "$w2_url" lkc-bench
  record "$r" sh bench/curl_jq.sh fleet "$w2_url" lkc-bench
  wrk_run "$r" W2 "$w2_url" lkc-bench
  # The decode alone of W2's body, fresh process, for the report's split of W2's time.
  record "$r" lua5.4 bench/decode_only.lua connectstatus build/lua5.4 "$OUT/fixtures/fleets/lkc-bench.json" lkc-bench
  record "$r" lua5.4 bench/decode_only.lua cjson - "$OUT/fixtures/fleets/lkc-bench.json" lkc-bench

  # Issue 16: W2 and W4 with the W2 selection (bench/w2_select.lua), end to end (cs_fleet.lua says "skip" while
  # the client does not pass select on) and the decode alone, full and selected, at every size for the split.
  for c in lkc-bench $(for size in $W4_SIZES; do echo "lkc-bench-$size"; done); do
    record "$r" lua5.4 bench/cs_fleet.lua build/lua5.4 "$base" "$c" select
    [ "$c" = lkc-bench ] && record "$r" luajit bench/cs_fleet.lua build/luajit "$base" "$c" select
    [ "$c" = lkc-bench ] || record "$r" lua5.4 bench/decode_only.lua connectstatus build/lua5.4 "$OUT/fixtures/fleets/$c.json" "$c"
    record "$r" lua5.4 bench/decode_only.lua connectstatus build/lua5.4 "$OUT/fixtures/fleets/$c.json" "$c" select
  done

  # W4; luasocket + cjson alongside shows which growth is Lua's own (tables, GC) rather than connectstatus's.
  for size in $W4_SIZES; do
    record "$r" lua5.4 bench/cs_fleet.lua build/lua5.4 "$base" "lkc-bench-$size"
    record "$r" lua5.4 bench/luasocket_fleet.lua "$(fleet_url "lkc-bench-$size")" "lkc-bench-$size"
  done
  r=$((r + 1))
done

echo "bench: W5, fan-out of $W5_N reads each answered $W5_DELAY s late"
lua5.4 bench/w5.lua "$OUT" "$RUNS" "$W5_N" "$W5_DELAY"

echo "bench: W6, a status read inside nginx, $W6_RUNS x $W6_SECONDS s per contender"
lua5.4 bench/w6_nginx.lua "$W6_SECONDS" "$W6_RUNS" "$OUT" >"$OUT/w6.log" 2>&1 || { cat "$OUT/w6.log" >&2; exit 1; }

echo "bench: W3, RSS after $RSS_AT and after $RSS_N reads"
record 1 $cs54 lkc-bench "$status_name" "$RSS_N" "$RSS_AT"
record 1 $csjit lkc-bench "$status_name" "$RSS_N" "$RSS_AT"

# ---- where the time goes ----
if [ "$PROFILE" = 1 ]; then
  echo "bench: profiling connectstatus (callgrind, perf)"
  for w in W1 W2; do
    if [ "$w" = W1 ]; then set -- $cs54 lkc-bench "$status_name" "$W1_N"; else
      set -- lua5.4 bench/cs_fleet.lua build/lua5.4 "$base" lkc-bench; fi
    $PIN valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$w.out" "$@" >/dev/null 2>"$OUT/valgrind.$w.log"
    callgrind_annotate --inclusive=no "$OUT/callgrind.$w.out" 2>/dev/null |
      sed -n '/PROGRAM TOTALS/p; /file:function/,$p' | grep -v -e '^-' -e '^$' | head -n 18 |
      sed -E 's#\[/(usr/)?(lib|bin)/(x86_64-linux-gnu/)?#[#; s#\./[^ ]*/([^/ :]+):#\1:#' >"$OUT/profile.$w.callgrind.txt"
    # Inclusive costs of the named entry points (Debian's lua5.4 is stripped: its internals are bare addresses,
    # but the C API it exports has names), one line per function.
    callgrind_annotate --inclusive=yes "$OUT/callgrind.$w.out" 2>/dev/null |
      awk 'match($0, /^ *[0-9,]+ \( *[0-9.]+%\) +/) {
             cost = substr($0, 1, RLENGTH); split(substr($0, RLENGTH + 1), loc, " ")
             if (loc[1] ~ /\?\?\?:0x/) next
             f = loc[1]; sub(/.*:/, "", f); sub(/\x27[0-9]+$/, "", f)
             if (f ~ /^(cs_|curl_(easy_perform|url_get|url_set|maprintf)$|(malloc|realloc|free)$)/ ||
                 f ~ /^lua_(rawset|createtable|pushlstring|close|pcallk)$/)
               if (!seen[f]++) print cost f }' >"$OUT/profile.$w.inclusive.txt"
    if command -v perf >/dev/null 2>&1; then
      if $PIN perf record -q -e cpu-clock -o "$OUT/perf.$w.data" -- "$@" >/dev/null 2>"$OUT/perf.$w.log"; then
        {
          perf report -q -i "$OUT/perf.$w.data" --stdio --sort dso 2>/dev/null | head -n 8
          echo "..."
          perf report -q -i "$OUT/perf.$w.data" --stdio --sort dso,sym 2>/dev/null | head -n 15
        } >"$OUT/profile.$w.perf.txt" || true
      fi
      $PIN perf stat -e task-clock,context-switches -o "$OUT/perf.$w.stat" -- "$@" >/dev/null 2>&1 &&
        grep -E 'task-clock|context-switches|elapsed|user|sys' "$OUT/perf.$w.stat" |
        sed 's/  */ /g; s/^ //' >"$OUT/profile.$w.stat.txt" || true
    fi
  done
fi

# ---- report ----
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc: $(nproc)"
  lscpu | head -n 15 | sed 's/^/lscpu: /'
  echo "kernel: $(uname -sr)"
  echo "lua5.4: $(lua5.4 -v 2>&1)"
  echo "luajit: $(luajit -v 2>&1)"
  echo "connectstatus: $(lua5.4 -e 'package.cpath = "build/lua5.4/?.so;" .. package.cpath
    local core = require "connectstatus.core"; print(core.version .. ", libcurl " .. tostring(core.curl_version))')"
  echo "lua-cjson: $(lua5.4 -e 'print(require("cjson")._VERSION)'), luasocket: $(lua5.4 -e 'print(require("socket")._VERSION)')"
  echo "python: $("$PYTHON" -c 'import sys, requests; print(sys.version.split()[0], "requests", requests.__version__)')"
  echo "curl: $(curl --version | head -n 1)"
  echo "jq: $(jq --version)"
  echo "nginx: $(nginx -v 2>&1)"
  echo "wrk: $(wrk -v 2>&1 | head -n 1)"
  echo "cc: $(cc --version | head -n 1)"
  echo "settings: runs=$RUNS w1_n=$W1_N curl_n=$CURL_N wrk_seconds=$WRK_SECONDS w2_size=$W2_SIZE w4_sizes=$W4_SIZES"
  echo "settings: rss_at=$RSS_AT rss_n=$RSS_N placements=$placements w5_n=$W5_N w5_delay=$W5_DELAY"
  echo "settings: w6_seconds=$W6_SECONDS w6_runs=$W6_RUNS"
  awk '$1 != "status" {printf "fixture: %s %d connectors, %d FAILED, %d bytes\n", $1, $2, $3, $4}' "$manifest"
  echo "fixture: status body $(wc -c <"$OUT/fixtures/status/$status_name.json") bytes"
} >"$OUT/machine.txt"
stop_nginx

plot_arg=""
[ "$PLOT" = 1 ] && plot_arg=$PNG
lua5.4 bench/report.lua "$OUT" "$RESULTS" "$plot_arg"
echo "bench: wrote $RESULTS${plot_arg:+ and $plot_arg}"
