#!/usr/bin/env bash
# PING round-trip latency of benchfsd_mt beside UCX's own ucp_am_lat, measured
# in the same run on this machine, for the default transports (shared memory
# after a tcp connection) and for UCX_TLS=tcp. Rounds alternate BenchFS and
# ucx_perftest so that background load hits both alike; the table shows the
# median over rounds of each p50 (and the min / max of our p50s).
#   perf/latency.sh [--sizes 8,64,512,4k,32k,256k,1m] [--count 20000] [--rounds 3]
#                   [--poll busy|adaptive|blocking] [--tls "default tcp"] [--out DIR]
source "$(dirname "$0")/common.sh"
SIZES=8,64,512,4k,32k,256k,1m
COUNT=20000
ROUNDS=3
POLL=busy
TLS_LIST="default tcp"
OUT=
parse_options --sizes=SIZES --count=COUNT --rounds=ROUNDS --poll=POLL --tls=TLS_LIST --out=OUT -- \
  "$@"
perf_build
perf_output latency "tls,round,size,benchfs_p50_us,benchfs_min_us,benchfs_p99_us,perftest_one_way_p50_us,load"
trap kill_server_job EXIT

echo "BenchFS PING RTT vs 2 x ucx_perftest ucp_am_lat one-way (p50, us); server --poll $POLL, client busy"
echo "load before: $(load)"
port=$((20000 + RANDOM % 20000))
IFS=, read -ra sizes <<<"$SIZES"
for tls in $TLS_LIST; do
  if [[ $tls == default ]]; then unset UCX_TLS; else export UCX_TLS=$tls; fi
  for round in $(seq "$ROUNDS"); do
    dir=$work/$tls-$round
    start_servers "$dir" 1 1 --poll "$POLL"
    "$BIN/perf/benchfs_bench" ping --registry "$dir/registry" --size "$SIZES" --count "$COUNT" \
      --warmup $((COUNT / 10)) --poll busy --json >"$dir/ping.json"
    stop_servers "$dir"
    for s in "${sizes[@]}"; do
      bytes=$(to_bytes "$s")
      port=$((port + 1))
      one_way=$(perftest ucp_am_lat "$bytes" "$COUNT" "$port" 3)
      python3 - "$(grep "\"size\":$bytes," "$dir/ping.json")" "$tls" "$round" "$bytes" "${one_way:-nan}" \
        "$(load | cut -d' ' -f1)" >>"$csv" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
print(f"{sys.argv[2]},{sys.argv[3]},{sys.argv[4]},{j['p50_us']},{j['min_us']},{j['p99_us']},{sys.argv[5]},{sys.argv[6]}")
PY
    done
  done
done
unset UCX_TLS
echo "load after: $(load)"
python3 - "$csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for tls in dict.fromkeys(r["tls"] for r in rows):
    print(f"\n[{tls} transports]")
    print(f"{'size':>8} {'ours p50':>9} {'(min':>8} {'max)':>8} {'p99':>9} {'2x perftest':>12} {'ratio':>7}")
    for size in dict.fromkeys(r["size"] for r in rows if r["tls"] == tls):
        r = [x for x in rows if x["tls"] == tls and x["size"] == size]
        ours = [float(x["benchfs_p50_us"]) for x in r]
        p99 = statistics.median(float(x["benchfs_p99_us"]) for x in r)
        ref = [2 * float(x["perftest_one_way_p50_us"]) for x in r if x["perftest_one_way_p50_us"] != "nan"]
        med = statistics.median(ours)
        refm = statistics.median(ref) if ref else float("nan")
        print(f"{int(size):>8} {med:9.3f} {min(ours):8.3f} {max(ours):8.3f} {p99:9.3f} {refm:12.3f} {med / refm:7.2f}")
PY
echo "CSV: $csv"
