#!/usr/bin/env bash
# Server polling policies compared in one run, interleaved round by round:
#  A) cores free: 1 server (1 progress thread) + 1 client rank, 8 B PING.
#  B) oversubscribed: 1 server with 2 progress threads + 4 client ranks on
#     this machine (more busy threads than cores).
# Prints per policy the median, min and max over rounds of the PING p50 RTT
# and of the aggregate ops/s, and ratios against busy polling.
#   perf/polling.sh [--rounds 3] [--count 20000] [--out DIR]
source "$(dirname "$0")/common.sh"
ROUNDS=3
COUNT=20000
OUT=
parse_options --rounds=ROUNDS --count=COUNT --out=OUT -- "$@"
perf_build
perf_output polling "scenario,policy,round,p50_us,p99_us,ops_per_s,load"
trap kill_server_job EXIT
echo "load before: $(load)"

run_case() {  # scenario policy round threads client_ranks client_poll
  local scenario=$1 policy=$2 round=$3 threads=$4 ranks=$5 cpoll=$6
  local dir=$work/$scenario-$policy-$round
  start_servers "$dir" 1 "$threads" --poll "$policy"
  local line
  line=$(mpirun -np "$ranks" --bind-to none --oversubscribe "$BIN/perf/benchfs_bench" ping \
    --registry "$dir/registry" --size 8 --count "$COUNT" --warmup $((COUNT / 10)) --poll "$cpoll" --json | grep '^{')
  stop_servers "$dir"
  python3 - "$line" "$scenario" "$policy" "$round" "$(load | cut -d' ' -f1)" >>"$csv" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
print(f"{sys.argv[2]},{sys.argv[3]},{sys.argv[4]},{j['p50_us']},{j['p99_us']},{j['ops_per_s']},{sys.argv[5]}")
PY
}

for round in $(seq "$ROUNDS"); do
  for policy in busy adaptive blocking; do
    run_case free "$policy" "$round" 1 1 busy
    run_case oversubscribed "$policy" "$round" 2 4 adaptive
  done
done
echo "load after: $(load)"
python3 - "$csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for scenario, title in (("free", "A) cores free: 1 progress thread, 1 client (8 B PING)"),
                        ("oversubscribed", "B) oversubscribed: 2 progress threads + 4 client ranks on 2 cores")):
    print(f"\n{title}")
    print(f"{'policy':10} {'p50 median':>11} {'min':>8} {'max':>8} {'p99 med':>9} {'ops/s med':>11}"
          f" {'p50/busy':>9} {'p50/blocking':>13} {'ops/busy':>9}")
    med = {}
    for policy in ("busy", "adaptive", "blocking"):
        r = [x for x in rows if x["scenario"] == scenario and x["policy"] == policy]
        p50 = [float(x["p50_us"]) for x in r]
        med[policy] = (statistics.median(p50), min(p50), max(p50),
                       statistics.median(float(x["p99_us"]) for x in r),
                       statistics.median(float(x["ops_per_s"]) for x in r))
    for policy, (m, lo, hi, p99, ops) in med.items():
        print(f"{policy:10} {m:11.3f} {lo:8.3f} {hi:8.3f} {p99:9.3f} {ops:11.0f}"
              f" {m / med['busy'][0]:8.2f}x {m / med['blocking'][0]:12.2f}x {ops / med['busy'][4]:8.2f}x")
PY
echo "CSV: $csv"
