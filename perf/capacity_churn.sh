#!/usr/bin/env bash
# More clients than a server's --client-capacity, as a new user meets it:
# one server with --client-capacity CAP (2), CLIENTS (6) separate
# `benchfs_bench ping --count COUNT` processes started at once, no retries
# of their own. Every run starts a fresh server; a run passes when every
# client exits 0. Prints per run the clients that failed, the server's
# evictions, peak registry size and over-capacity admissions and the
# slowest client's time, then the pass count.
#   perf/capacity_churn.sh [--runs 20] [--clients 6] [--capacity 2] [--count 20000]
#                          [--server-args "--client-idle-ms 0"] [--out DIR]
source "$(dirname "$0")/common.sh"
RUNS=20
CLIENTS=6
CAP=2
COUNT=20000
SERVER_ARGS=
OUT=
parse_options --runs=RUNS --clients=CLIENTS --capacity=CAP --count=COUNT --server-args=SERVER_ARGS \
  --out=OUT -- "$@"
if [[ -z "${BENCHFS_BIN:-}" ]]; then
  bash "$PERF_ROOT/scripts/build.sh" release --target benchfsd_mt benchfs_bench >/dev/null
fi
perf_output capacity_churn "run,clients,failed,evictions,peak_live,over_capacity,slowest_s,load"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; kill_server_job' EXIT
echo "load before: $(load)"
passed=0
for run in $(seq "$RUNS"); do
  dir=$work/run-$run
  # shellcheck disable=SC2086
  start_servers "$dir" 1 1 --client-capacity "$CAP" --stats "$dir/stats.json" $SERVER_ARGS
  wait_ready "$dir" || true  # the clients then fail, and the run counts as failed
  t0=$(date +%s.%N)
  pids=()
  for c in $(seq "$CLIENTS"); do
    "$BIN/perf/benchfs_bench" ping --registry "$dir/registry" --count "$COUNT" >"$dir/client-$c.out" 2>&1 &
    pids+=($!)
  done
  failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  pids=()
  slowest=$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 2))")
  stop_servers "$dir"
  read -r ev peak over < <(python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))["registry"]; print(r["evictions"], r["peak"], r["over_capacity"])' "$dir/stats.json" 2>/dev/null || echo "? ? ?")
  echo "$run,$CLIENTS,$failed,$ev,$peak,$over,$slowest,$(load | cut -d' ' -f1)" >>"$csv"
  printf 'run %2d: %d/%d clients failed, %s evictions, peak %s live, %s over capacity, %s s\n' \
    "$run" "$failed" "$CLIENTS" "$ev" "$peak" "$over" "$slowest"
  if [[ $failed -eq 0 ]]; then
    passed=$((passed + 1))
  else
    grep -h -i -E 'error|fail|refused|lost' "$dir"/client-*.out | head -3
  fi
done
echo "load after: $(load)"
echo "runs passed: $passed/$RUNS (capacity $CAP, $CLIENTS clients, $COUNT pings each${SERVER_ARGS:+, $SERVER_ARGS})"
echo "raw: $csv"
