#!/usr/bin/env bash
# PING round-trip latency of benchfsd_mt beside UCX's own ucp_am_lat, measured
# in the same run on this machine, for the default transports (shared memory
# after a tcp connection) and for UCX_TLS=tcp.
#   perf/latency.sh [--sizes 8,64,512,4k,32k,256k,1m] [--count 20000] [--poll busy]
#                   [--tls "default tcp"] [--out DIR]
# Prints, per size: our RTT p50 (min, p99), 2x ucp_am_lat one-way p50, ratio.
source "$(dirname "$0")/common.sh"
SIZES=8,64,512,4k,32k,256k,1m
COUNT=20000
POLL=busy
TLS_LIST="default tcp"
OUT=
while [[ $# -gt 0 ]]; do
  case $1 in
    --sizes) SIZES=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --poll) POLL=$2; shift 2 ;;
    --tls) TLS_LIST=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
perf_build
work=$(mktemp -d /tmp/benchfs-latency.XXXXXX)
OUT=${OUT:-$work}
mkdir -p "$OUT"
csv=$OUT/latency.csv
echo "tls,size,benchfs_p50_us,benchfs_min_us,benchfs_p99_us,perftest_rtt_us,ratio,load" >"$csv"
trap '[[ -n "${SERVER_JOB:-}" ]] && kill -TERM $SERVER_JOB 2>/dev/null; true' EXIT

echo "BenchFS PING RTT vs 2 x ucx_perftest ucp_am_lat (p50, microseconds); server --poll $POLL, client busy"
echo "load before: $(load)"
port=$((20000 + RANDOM % 20000))
for tls in $TLS_LIST; do
  if [[ $tls == default ]]; then unset UCX_TLS; else export UCX_TLS=$tls; fi
  dir=$work/$tls
  start_servers "$dir" 1 1 --poll "$POLL"
  "$BIN/perf/benchfs_bench" ping --registry "$dir/registry" --size "$SIZES" --count "$COUNT" \
    --warmup $((COUNT / 10)) --poll busy --json >"$dir/ping.json"
  stop_servers "$dir"
  printf '\n[%s transports]\n%-8s %12s %12s %12s %14s %8s\n' "$tls" size p50_us min_us p99_us perftest_rtt ratio
  IFS=, read -ra sizes <<<"$SIZES"
  for s in "${sizes[@]}"; do
    bytes=$(to_bytes "$s")
    line=$(grep "\"size\":$bytes," "$dir/ping.json")
    read -r p50 mn p99 < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["p50_us"], j["min_us"], j["p99_us"])' "$line")
    port=$((port + 1))
    one_way=$(perftest_lat "$bytes" "$COUNT" "$port")
    rtt=$(python3 -c "print(f'{2*float(\"${one_way:-0}\"):.3f}')")
    ratio=$(python3 -c "r=float('$rtt'); print(f'{float(\"$p50\")/r:.2f}' if r > 0 else 'n/a')")
    printf '%-8s %12.3f %12.3f %12.3f %14s %8s\n' "$s" "$p50" "$mn" "$p99" "$rtt" "$ratio"
    echo "$tls,$bytes,$p50,$mn,$p99,$rtt,$ratio,$(load | cut -d' ' -f1)" >>"$csv"
  done
done
unset UCX_TLS
echo
echo "load after: $(load)"
echo "CSV: $csv"
