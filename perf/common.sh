# Shared by the perf/ scripts (sourced). Builds what is missing, starts and
# stops benchfsd_mt jobs, runs ucx_perftest pairs, records machine load.
set -euo pipefail
PERF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$PERF_ROOT/scripts/env.sh"
BIN=${BENCHFS_BIN:-$PERF_ROOT/build/release}

perf_build() {
  if [[ -z "${BENCHFS_BIN:-}" ]]; then
    bash "$PERF_ROOT/scripts/build.sh" release --target benchfsd_mt benchfs_bench >/dev/null
  fi
  command -v ucx_perftest >/dev/null || { echo "ucx_perftest missing (apt-get install ucx-utils)" >&2; exit 1; }
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

# perf_output NAME HEADER: a fresh work directory /tmp/benchfs-NAME.* (sets
# work; `_` in NAME as `-`), OUT (--out, by default the work directory) and
# the table $OUT/NAME.csv (sets csv) with its first line HEADER.
perf_output() {
  work=$(mktemp -d "/tmp/benchfs-${1//_/-}.XXXXXX")
  OUT=${OUT:-$work}
  mkdir -p "$OUT"
  csv=$OUT/$1.csv
  echo "$2" >"$csv"
}

# kill_server_job: for an EXIT trap, SIGTERM to the job start_servers
# started if stop_servers did not stop it.
kill_server_job() {
  [[ -n "${SERVER_JOB:-}" ]] && kill -TERM "$SERVER_JOB" 2>/dev/null
  true
}

# start_servers DIR NP THREADS [extra benchfsd_mt args...]: sets SERVER_JOB.
start_servers() {
  local dir=$1 np=$2 threads=$3
  shift 3
  mkdir -p "$dir"
  mpirun -np "$np" --bind-to none --oversubscribe "$BIN/server/benchfsd_mt" --registry "$dir/registry" \
    --threads "$threads" --listen 127.0.0.1:0 --log-level warn "$@" >"$dir/servers.log" 2>&1 &
  SERVER_JOB=$!
}

# wait_ready DIR: until the job's registry is ready (20 s at most); when it
# is not, prints the servers' log and fails.
wait_ready() {
  local dir=$1
  for _ in $(seq 400); do [[ -f $dir/registry/server_list.ready ]] && return 0; sleep 0.05; done
  echo "servers did not start:" >&2
  cat "$dir/servers.log" >&2
  return 1
}

stop_servers() {
  local dir=$1
  "$BIN/perf/benchfs_bench" shutdown --registry "$dir/registry" >/dev/null 2>&1 || true
  for _ in $(seq 100); do kill -0 "$SERVER_JOB" 2>/dev/null || break; sleep 0.1; done
  kill -TERM "$SERVER_JOB" 2>/dev/null || true
  wait "$SERVER_JOB" 2>/dev/null || true
  SERVER_JOB=
}

# perftest TEST SIZE ITERS PORT COLUMN: one column of ucx_perftest's "Final:"
# line for TEST (ucp_am_lat: column 3 = p50 one-way latency in us;
# ucp_am_bw: column 7 = overall bandwidth in MB/s), server and client here.
perftest() {
  local test=$1 size=$2 iters=$3 port=$4 column=$5
  ucx_perftest -p "$port" >/dev/null 2>&1 &
  local srv=$!
  sleep 0.3
  local out
  out=$(timeout 120 ucx_perftest -p "$port" 127.0.0.1 -t "$test" -s "$size" -n "$iters" -w $((iters / 10)) 2>&1 || true)
  wait "$srv" 2>/dev/null || true
  awk -v c="$column" '/^Final:/ {print $c}' <<<"$out"
}

to_bytes() {
  python3 -c 'import sys
s=sys.argv[1].lower().rstrip("b").rstrip("i")
m={"k":1<<10,"m":1<<20,"g":1<<30}
print(int(s[:-1])*m[s[-1]] if s and s[-1] in m else int(s))' "$1"
}

# The script's header comment (the comment block after the shebang), for --help.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

# parse_options SPEC... -- "$@": each SPEC is --name=VAR (the option takes a
# value, stored in VAR) or --name=VAR:VALUE (a flag: sets VAR to VALUE).
# -h/--help prints usage; an unknown option or a missing value exits 2.
parse_options() {
  local -a spec=()
  while [[ $1 != -- ]]; do spec+=("$1"); shift; done
  shift
  local s name target found
  while [[ $# -gt 0 ]]; do
    if [[ $1 == -h || $1 == --help ]]; then usage; exit 0; fi
    found=
    for s in "${spec[@]}"; do
      name=${s%%=*} target=${s#*=}
      [[ $1 == "$name" ]] || continue
      found=1
      if [[ $target == *:* ]]; then
        printf -v "${target%%:*}" '%s' "${target#*:}"
        shift
      else
        [[ $# -ge 2 ]] || { echo "$(basename "$0"): $name needs a value (see --help)" >&2; exit 2; }
        printf -v "$target" '%s' "$2"
        shift 2
      fi
      break
    done
    [[ -n $found ]] || { echo "$(basename "$0"): unknown option $1 (see --help)" >&2; exit 2; }
  done
}
