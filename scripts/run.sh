#!/usr/bin/env bash
# The main job on one machine: builds BenchFS, starts SERVERS benchfsd_mt
# servers under mpirun, runs `benchfs_bench ping` against every server, then
# an IOR-like write/read (CLIENTS ranks, file per process and shared file,
# every byte verified) and an mdtest-like metadata run, shuts the servers
# down and prints a summary.
#   SERVERS=2 THREADS=1 CLIENTS=2 SIZES=8,4k,64k,1m COUNT=10000 XFER=1m BLOCK=16m FILES=1000 scripts/run.sh
# Its work directory (registry, server logs, statistics) is removed at the
# end unless KEEP=1, or the run failed; then the last line names it.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVERS=${SERVERS:-2}
THREADS=${THREADS:-1}
SIZES=${SIZES:-8,4k,64k,1m}
COUNT=${COUNT:-10000}
CLIENTS=${CLIENTS:-2}
XFER=${XFER:-1m}
BLOCK=${BLOCK:-16m}
FILES=${FILES:-1000}
KEEP=${KEEP:-0}
work=$(mktemp -d /tmp/benchfs-run.XXXXXX)
registry=$work/registry
job=
done_ok=0
cleanup() {
  if [[ -n "$job" ]] && kill -0 "$job" 2>/dev/null; then
    kill -TERM "$job" 2>/dev/null || true
    sleep 2
    kill -KILL "$job" 2>/dev/null || true
  fi
  if [[ $done_ok == 1 && $KEEP != 1 ]]; then
    rm -rf "$work"
  else
    echo "work directory kept: $work"
  fi
}
trap cleanup EXIT

# step LOG MESSAGE COMMAND...: runs COMMAND with its output in LOG; on
# failure shows the end of LOG.
step() {
  local log=$1 msg=$2
  shift 2
  echo "== $msg"
  if ! "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "failed: $msg (whole output in $log)" >&2
    return 1
  fi
}
step "$work/deps.log" "dependencies (Debian packages; installs what is missing, minutes on a new machine)" \
  bash scripts/deps.sh
step "$work/build.log" "building benchfsd_mt and benchfs_bench (build/release; ~5-10 min the first time)" \
  bash scripts/build.sh release --target benchfsd_mt benchfs_bench
source scripts/env.sh
bin=build/release

echo "== starting $SERVERS benchfsd_mt server(s), $THREADS progress thread(s) each; registry $registry"
mpirun -np "$SERVERS" --bind-to none --oversubscribe "$bin/server/benchfsd_mt" \
  --registry "$registry" --threads "$THREADS" --listen 127.0.0.1:0 \
  --stats "$work/stats.json.%r" >"$work/servers.log" 2>&1 &
job=$!

echo "== benchfs_bench ping (sizes $SIZES, $COUNT pings each, every server)"
# benchfs_bench waits for the registry to become ready (30 s at most).
"$bin/perf/benchfs_bench" ping --registry "$registry" --size "$SIZES" --count "$COUNT" \
  --warmup 1000 --server all | tee "$work/ping.txt"

clients() { mpirun -np "$CLIENTS" --bind-to none --oversubscribe "$bin/perf/benchfs_bench" "$@"; }
for mode in -F ""; do
  echo "== benchfs_bench io ($CLIENTS client ranks, -t $XFER -b $BLOCK -s 4 ${mode:-shared file}, verified)"
  # shellcheck disable=SC2086
  clients io --registry "$registry" -t "$XFER" -b "$BLOCK" -s 4 $mode --verify | tee -a "$work/io.txt"
done
echo "== benchfs_bench md ($CLIENTS client ranks, $FILES files each in a private and a shared directory)"
clients md --registry "$registry" -n "$FILES" | tee "$work/md.txt"

echo "== shutting the servers down"
"$bin/perf/benchfs_bench" shutdown --registry "$registry"
for _ in $(seq 100); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
wait "$job" && rc=0 || rc=$?
job=
echo "== summary"
python3 - "$work" "$SERVERS" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
for r in range(n):
    try:
        s = json.load(open(f"{work}/stats.json.{r}"))
    except OSError:
        print(f"node {r}: no statistics written"); continue
    ping = s["ops"].get("ping", {})
    st = s.get("store", {})
    lat = ping.get("latency_us", {})
    per = [t["accepted"] for t in s["connections"]["per_thread"]]
    print(f"node {r} ({s['server']['address']}): {ping.get('count', 0)} pings, "
          f"{ping.get('errors', 0)} errors, server-side p50 {lat.get('p50', 0):.2f} us, "
          f"connections per thread {per}, decode errors {s['decode_errors']}; "
          f"store at exit: {st.get('files', 0)} files, {st.get('chunks', 0)} chunks, "
          f"{st.get('bytes_used', 0)} bytes")
PY
echo "servers exited with status $rc"
[[ $rc == 0 ]] && done_ok=1
exit "$rc"
