#!/bin/sh
# The runbook way: one curl and one jq process per read.
#   sh bench/curl_jq.sh poll URL N        W1: N reads, each piped through jq -r .connector.state
#   sh bench/curl_jq.sh fleet URL CLUSTER W2: the expanded list, FAILED connectors counted with select
set -eu
now() { date +%s.%N; }
auth="BENCHKEY0123456789:bench-secret-not-real"
mode=$1 url=$2
case "$mode" in
  poll)
    n=$3 i=0 running=0
    started=$(now)
    while [ "$i" -lt "$n" ]; do
      state=$(curl -s -u "$auth" -H 'Accept: application/json' "$url" | jq -r .connector.state)
      [ "$state" = RUNNING ] && running=$((running + 1))
      i=$((i + 1))
    done
    seconds=$(echo "$(now) $started" | awk '{printf "%.6f", $1 - $2}')
    echo "result contender=curl-jq workload=W1 n=$n seconds=$seconds ok=$running"
    [ "$running" -eq "$n" ] || { echo "curl_jq: $running of $n reads said RUNNING" >&2; exit 1; }
    ;;
  fleet)
    cluster=$3
    started=$(now)
    out=$(curl -s -u "$auth" -H 'Accept: application/json' "$url" | jq -r '"\(length) \([.[] | select(
      .status.connector.state == "FAILED" or any(.status.tasks[]; .state == "FAILED"))] | length)"')
    seconds=$(echo "$(now) $started" | awk '{printf "%.6f", $1 - $2}')
    set -- $out
    echo "result contender=curl-jq workload=W2 cluster=$cluster n=$1 seconds=$seconds failed=$2"
    ;;
  *) echo "usage: curl_jq.sh poll URL N | fleet URL CLUSTER" >&2; exit 2 ;;
esac
