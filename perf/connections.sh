#!/usr/bin/env bash
# What client connections cost one server, and whether every call still
# succeeds when there are more connections than --client-capacity.
#  1. cost: a fresh server with a capacity above the connection count (so
#     nothing is evicted); its RSS and open descriptors before any client
#     and once N connections (PROCS processes x THREADS threads of
#     benchfs_conns, one connection per thread) are open and registered, for
#     N = each of --sweep. Cost per connection = (after - before) / N.
#  2. over capacity: a fresh server with --client-capacity CAP and the full
#     PROCS x THREADS connections. Every process first creates its client
#     engines, then all connect at once (as a job's ranks do at start), stay
#     idle for --hold-ms
#     (longer than the server's --client-idle-ms, so newer ones evict them),
#     then every thread runs --rounds rounds of ping, create O_EXCL, pwrite,
#     pread (checked), stat and unlink with no retries of its own. Every
#     call must succeed. Reports errors, the server's evictions, its peak
#     registry size and the rounds it spent over capacity, and its peak RSS
#     and descriptors (sampled every 0.2 s), for each of --runs runs.
# Transports: --tls (UCX_TLS for server and clients, default tcp). The
# clients of a large job are on other hosts and reach a server over the
# network, not through shared memory; here they are all local, so tcp
# stands in for the network. `--tls default` leaves UCX's choice (shared
# memory for every local client; see docs/RECOVERY.md for what 1,024 local
# shared-memory clients do to one server on 2 cores). Servers run with
# --reserve 0, so that their RSS is the connections' and not the chunk
# buffer reserve's. Writes connections.csv under --out.
#   perf/connections.sh [--procs 16] [--threads 64] [--capacity 256] [--rounds 10]
#                       [--hold-ms 3000] [--sweep 256,1024] [--runs 1] [--tls tcp]
#                       [--out DIR] [--server-args "..."]
source "$(dirname "$0")/common.sh"
PROCS=16
THREADS=64
CAP=256
ROUNDS=10
HOLD_MS=3000
SWEEP=256,1024
RUNS=1
OUT=
SERVER_ARGS=
TLS=tcp
parse_options --procs=PROCS --threads=THREADS --capacity=CAP --rounds=ROUNDS --hold-ms=HOLD_MS \
  --sweep=SWEEP --runs=RUNS --out=OUT --server-args=SERVER_ARGS --tls=TLS -- "$@"
if [[ -z "${BENCHFS_BIN:-}" ]]; then
  bash "$PERF_ROOT/scripts/build.sh" release --target benchfsd_mt benchfs_bench benchfs_conns >/dev/null
fi
if [[ $TLS != default ]]; then export UCX_TLS=$TLS; fi
perf_output connections "phase,run,connections,capacity,rss_before_kib,rss_kib,fds_before,fds,errors,calls,evictions,peak_live,over_capacity,reconnects,connect_ms,load"
clients=()
trap 'kill "${clients[@]}" 2>/dev/null; kill_server_job' EXIT
echo "load before: $(load); UCX_TLS=${UCX_TLS:-(UCX default)}"

server_pid() { pgrep -f "^$BIN/server/benchfsd_mt --registry $1/registry" | head -1; }  # not mpirun
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# start DIR CAPACITY: a fresh server; sets PID.
start() {
  local dir=$1 cap=$2
  # shellcheck disable=SC2086
  start_servers "$dir" 1 1 --client-capacity "$cap" --reserve 0 --stats "$dir/stats.json" $SERVER_ARGS
  wait_ready "$dir" || exit 1
  PID=$(server_pid "$dir")
  sleep 0.5
}

# clients DIR N HOLD ROUNDS: N connections in PROCS processes (fewer when N
# is small), in the background; sets clients=().
clients_start() {
  local dir=$1 n=$2 hold=$3 rounds=$4
  local procs=$PROCS
  (( n < procs * THREADS )) && procs=$(( (n + THREADS - 1) / THREADS ))
  clients=()
  for p in $(seq 0 $((procs - 1))); do
    local t=$(( n / procs + (p < n % procs ? 1 : 0) ))
    BENCHFS_REGISTRY=$dir/registry "$BIN/perf/benchfs_conns" --threads "$t" --rounds "$rounds" \
      --hold-ms "$hold" --tag "p$p" --start-file "$dir/go" --release-file "$dir/release" >"$dir/client-$p.out" 2>"$dir/client-$p.err" &
    clients+=($!)
  done
  NPROCS=$procs
}

# wait_line DIR TAG: until every client process printed TAG (or 600 s).
wait_line() {
  local dir=$1 tag=$2
  for _ in $(seq 6000); do
    [[ $(cat "$dir"/client-*.out 2>/dev/null | grep -c "^$tag") -ge $NPROCS ]] && return 0
    sleep 0.1
  done
  echo "clients did not print $tag within 600 s" >&2
  return 1
}



client_sum() {  # DIR KEY [max]: the sum (or the max) of KEY over the processes' CONNS lines
  python3 - "$@" <<'PY'
import glob, json, sys
d, key = sys.argv[1:3]
vals = [json.loads(line[len("CONNS "):])[key] for f in glob.glob(d + "/client-*.out") for line in open(f)
        if line.startswith("CONNS ")]
print(round(max(vals) if sys.argv[3:] == ["max"] else sum(vals), 1) if vals else "")
PY
}
server_stat() {  # DIR KEY (of the registry section)
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["registry"][sys.argv[2]])' "$1/stats.json" "$2" 2>/dev/null || echo ""
}

# Phase 1: cost per connection, nothing evicted.
for n in ${SWEEP//,/ }; do
  dir=$work/cost-$n
  start "$dir" $((n * 4 + 1024))
  clients_start "$dir" "$n" 600000 0
  wait_line "$dir" CREATED
  before=$(rss_kib "$PID")
  fds_before=$(fds "$PID")
  touch "$dir/go"
  wait_line "$dir" CONNECTED
  sleep 1.5
  after=$(rss_kib "$PID")
  fds_after=$(fds "$PID")
  touch "$dir/release"
  wait "${clients[@]}" || true
  clients=()
  stop_servers "$dir"
  echo "cost,1,$n,$((n * 4 + 1024)),$before,$after,$fds_before,$fds_after,$(client_sum "$dir" errors),,$(server_stat "$dir" evictions),$(server_stat "$dir" peak),,,$(client_sum "$dir" connect_ms max),$(load | cut -d' ' -f1)" >>"$csv"
done

# Phase 2: PROCS x THREADS connections against --capacity CAP.
n=$((PROCS * THREADS))
for run in $(seq "$RUNS"); do
  dir=$work/over-$run
  start "$dir" "$CAP"
  before=$(rss_kib "$PID")
  fds_before=$(fds "$PID")
  peak=$before
  peak_fds=$fds_before
  clients_start "$dir" "$n" "$HOLD_MS" "$ROUNDS"
  wait_line "$dir" CREATED
  touch "$dir/go"
  while kill -0 "${clients[@]}" 2>/dev/null || pgrep -f "benchfs_conns .*--tag p" >/dev/null; do
    r=$(rss_kib "$PID")
    f=$(fds "$PID")
    (( r > peak )) && peak=$r
    (( f > peak_fds )) && peak_fds=$f
    sleep 0.2
  done
  rc=0
  for c in "${clients[@]}"; do wait "$c" || rc=1; done
  clients=()
  stop_servers "$dir"
  errors=$(client_sum "$dir" errors)
  [[ $rc -ne 0 && -z $errors ]] && errors="failed"
  echo "over,$run,$n,$CAP,$before,$peak,$fds_before,$peak_fds,$errors,$(client_sum "$dir" calls),$(server_stat "$dir" evictions),$(server_stat "$dir" peak),$(server_stat "$dir" over_capacity),$(client_sum "$dir" reconnects),$(client_sum "$dir" connect_ms max),$(load | cut -d' ' -f1)" >>"$csv"
  if [[ $rc -ne 0 ]]; then
    echo "run $run: a client failed:" >&2
    head -5 "$dir"/client-*.err >&2
  fi
done
echo "load after: $(load)"

python3 - "$csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("\ncost per connection (a server with room for all; RSS and descriptors before any client and with all connected)")
print(f"{'conns':>6} {'RSS before':>11} {'RSS with':>10} {'KiB/conn':>9} {'fds before':>10} {'fds with':>9} {'fds/conn':>9} {'connect ms':>11} {'errors':>7}")
for r in (r for r in rows if r["phase"] == "cost"):
    n = int(r["connections"])
    d = (int(r["rss_kib"]) - int(r["rss_before_kib"])) / n
    f = (int(r["fds"]) - int(r["fds_before"])) / n
    print(f"{n:>6} {int(r['rss_before_kib'])/1024:>8.1f} MiB {int(r['rss_kib'])/1024:>6.1f} MiB {d:>9.1f} {r['fds_before']:>10} {r['fds']:>9} {f:>9.2f} {r['connect_ms']:>11} {r['errors']:>7}")
over = [r for r in rows if r["phase"] == "over"]
if over:
    r0 = over[0]
    print(f"\n{r0['connections']} connections against --client-capacity {r0['capacity']}, {len(over)} run(s)")
    print(f"{'run':>4} {'calls':>8} {'errors':>7} {'evictions':>10} {'peak live':>10} {'over cap':>9} {'reconnects':>11} {'peak RSS':>10} {'peak fds':>9}")
    for r in over:
        print(f"{r['run']:>4} {r['calls']:>8} {r['errors']:>7} {r['evictions']:>10} {r['peak_live']:>10} {r['over_capacity']:>9} {r['reconnects']:>11} {int(r['rss_kib'])/1024:>6.1f} MiB {r['fds']:>9}")
    ok = sum(1 for r in over if r["errors"] == "0")
    print(f"runs with every call successful: {ok}/{len(over)}")
PY
echo "raw: $csv"
