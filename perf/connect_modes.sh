#!/usr/bin/env bash
# Persistent endpoints (the default) against the reply_ep method the
# persistent design replaced, side by side on the same servers, interleaved
# round by round (fresh servers every round):
#  - PING round trip p50 / p99, 8 B .. 1 MiB, one client
#  - aggregate 8 B PING ops/s with 1, 2 and 4 client ranks
#  - connect time: benchfs_init with prewarm (every server connected;
#    persistent mode also registers), the slowest rank
#  - the persistent mode's client-registry hit rate (servers' --stats)
# Prints the medians over rounds (min-max) and reply_ep / persistent ratios;
# writes connect_modes.csv and connect_modes.png (with gnuplot).
#   perf/connect_modes.sh [--rounds 3] [--count 20000] [--servers 1] [--threads 1]
#                         [--sizes 8,1k,64k,1m] [--clients 1,2,4] [--out DIR]
source "$(dirname "$0")/common.sh"
ROUNDS=3
COUNT=20000
SERVERS=1
THREADS=1
SIZES=8,1k,64k,1m
CLIENTS=1,2,4
OUT=
parse_options --rounds=ROUNDS --count=COUNT --servers=SERVERS --threads=THREADS --sizes=SIZES \
  --clients=CLIENTS --out=OUT -- "$@"
perf_build
perf_output connect_modes "round,mode,kind,x,p50_us,p99_us,ops_per_s,init_ms,load"
trap kill_server_job EXIT
echo "load before: $(load)"
hits=()
ping_rows() {  # round mode kind ranks sizes
  local round=$1 mode=$2 kind=$3 ranks=$4 sizes=$5 dir=$6
  local count=$COUNT
  [[ $kind == size ]] || count=$((COUNT / ranks))
  mpirun -np "$ranks" --bind-to none --oversubscribe "$BIN/perf/benchfs_bench" ping --registry "$dir/registry" \
    --size "$sizes" --count "$count" --warmup $((count / 10)) --connect "$mode" --json | grep '^{' |
    python3 -c '
import json, sys
round_, mode, kind, ranks, load = sys.argv[1:6]
for line in sys.stdin:
    j = json.loads(line)
    x = j["size"] if kind == "size" else ranks
    print(",".join(str(v) for v in (round_, mode, kind, x, j["p50_us"], j["p99_us"], j["ops_per_s"], j["init_ms"], load)))
' "$round" "$mode" "$kind" "$ranks" "$(load | cut -d' ' -f1)" >>"$csv"
}
for round in $(seq "$ROUNDS"); do
  dir=$work/round-$round
  start_servers "$dir" "$SERVERS" "$THREADS" --stats "$dir/stats.json"
  for _ in $(seq 200); do [[ -f $dir/registry/server_list.ready ]] && break; sleep 0.05; done
  # Alternate which mode goes first.
  modes="persistent reply_ep"
  (( round % 2 == 0 )) && modes="reply_ep persistent"
  for mode in $modes; do ping_rows "$round" "$mode" size 1 "$SIZES" "$dir"; done
  for n in ${CLIENTS//,/ }; do
    for mode in $modes; do ping_rows "$round" "$mode" clients "$n" 8 "$dir"; done
  done
  stop_servers "$dir"
  for f in "$dir"/stats.json*; do
    [[ -f $f ]] && hits+=("$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["registry"]; print(r["hits"], r["misses"])' "$f")")
  done
done
echo "load after: $(load)"
printf '%s\n' "${hits[@]}" >"$OUT/registry_hits.txt"
python3 - "$csv" "$OUT/registry_hits.txt" "$OUT" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = sys.argv[3]
def med(vals):
    return statistics.median(vals), min(vals), max(vals)
def pick(mode, kind, x, field):
    return [float(r[field]) for r in rows if r["mode"] == mode and r["kind"] == kind and r["x"] == x]
def fmt_size(n):
    n = int(n)
    for unit, f in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= f and n % f == 0: return f"{n // f} {unit}"
    return f"{n} B"
sizes = sorted({r["x"] for r in rows if r["kind"] == "size"}, key=int)
clients = sorted({r["x"] for r in rows if r["kind"] == "clients"}, key=int)
print("\nPING round trip, 1 client: median p50 (min-max) and median p99, us")
print(f"{'size':>8} {'persistent p50':>22} {'p99':>8} {'reply_ep p50':>22} {'p99':>8} {'reply_ep/pers':>14}")
dat = open(f"{out}/connect_modes_rtt.dat", "w")
for x in sizes:
    p = med(pick("persistent", "size", x, "p50_us")); r = med(pick("reply_ep", "size", x, "p50_us"))
    p99p = statistics.median(pick("persistent", "size", x, "p99_us")); p99r = statistics.median(pick("reply_ep", "size", x, "p99_us"))
    print(f"{fmt_size(x):>8} {p[0]:9.2f} ({p[1]:.2f}-{p[2]:.2f}) {p99p:8.2f} {r[0]:9.2f} ({r[1]:.2f}-{r[2]:.2f}) {p99r:8.2f} {r[0] / p[0]:13.2f}x")
    dat.write(f"{x} {p[0]} {p[1]} {p[2]} {r[0]} {r[1]} {r[2]}\n")
dat.close()
print("\nAggregate 8 B PING ops/s: median (min-max)")
print(f"{'clients':>8} {'persistent':>28} {'reply_ep':>28} {'reply_ep/pers':>14}")
dat = open(f"{out}/connect_modes_ops.dat", "w")
for x in clients:
    p = med(pick("persistent", "clients", x, "ops_per_s")); r = med(pick("reply_ep", "clients", x, "ops_per_s"))
    print(f"{x:>8} {p[0]:12.0f} ({p[1]:.0f}-{p[2]:.0f}) {r[0]:12.0f} ({r[1]:.0f}-{r[2]:.0f}) {r[0] / p[0]:13.2f}x")
    dat.write(f"{x} {p[0]} {p[1]} {p[2]} {r[0]} {r[1]} {r[2]}\n")
dat.close()
print("\nConnect time (benchfs_init with prewarm, slowest rank), ms: median (min-max) over every run")
for mode in ("persistent", "reply_ep"):
    v = med([float(r["init_ms"]) for r in rows if r["mode"] == mode])
    print(f"{mode:>10} {v[0]:8.2f} ({v[1]:.2f}-{v[2]:.2f})")
hits = misses = 0
for line in open(sys.argv[2]):
    if line.strip():
        h, m = line.split(); hits += int(h); misses += int(m)
total = hits + misses
print(f"\nPersistent mode client registry: {hits} hits, {misses} misses"
      + (f", hit rate {hits / total:.4f}" if total else " (no lookups)")
      + " (reply_ep clients never touch it)")
PY
if command -v gnuplot >/dev/null; then
  gnuplot <<GP 2>"$work/gnuplot.err" && echo "plot: $OUT/connect_modes.png" || echo "gnuplot failed: $(cat "$work/gnuplot.err")"
set terminal pngcairo size 1200,480 noenhanced
set output "$OUT/connect_modes.png"
set multiplot layout 1,2 title "BenchFS: persistent endpoints vs reply_ep (medians over $ROUNDS rounds, bars = min-max)"
set logscale xy
set xlabel "PING payload (bytes)"
set ylabel "round trip p50 (us)"
set key top left
plot "$OUT/connect_modes_rtt.dat" using 1:2:3:4 with yerrorlines title "persistent", \
     "" using 1:5:6:7 with yerrorlines title "reply_ep"
unset logscale
set logscale x 2
set xlabel "client ranks"
set ylabel "aggregate 8 B PING ops/s"
set yrange [0:*]
plot "$OUT/connect_modes_ops.dat" using 1:2:3:4 with yerrorlines title "persistent", \
     "" using 1:5:6:7 with yerrorlines title "reply_ep"
unset multiplot
GP
else
  echo "gnuplot missing: no plot (apt-get install gnuplot-nox)"
fi
echo "CSV: $csv"
