#!/usr/bin/env bash
# Trading service benchmark on a lab of its own: orders/s and latency with 1 and
# 2 instances, at a fixed rate and flat out, next to `pgbench -b simple-update`
# on the same PostgreSQL (the commit-rate ceiling). See README.md.
#
#   bench/trader/run.sh [seconds per run (default 20)] [concurrency (default 16)] [rate (default 1000)]
#
# Env: PILOTLIGHT (binary, default build/src/cli/pilotlight), BENCH_NET (second
# octet of the lab's loopback addresses, default 91), KEEP=1 keeps the lab.
set -euo pipefail

SECS=${1:-20}
CONC=${2:-16}
RATE=${3:-1000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PL=${PILOTLIGHT:-$ROOT/build/src/cli/pilotlight}
NET=${BENCH_NET:-91}
PGBIN=/usr/lib/postgresql/15/bin
PRIMARY=127.$NET.1.1
DR=127.$NET.2.1
PG_PORT=25432
REDIS_PORT=26379
HTTP_PORT=28080

[ -x "$PL" ] || { echo "no pilotlight binary at $PL (build it, or set PILOTLIGHT)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/pilotlight-bench-trader-XXXXXX)
LAB=$WORK/lab
CONFIG=$WORK/lab.yaml
EXTRA_PID=""
cleanup() {
  [ -n "$EXTRA_PID" ] && kill -TERM "$EXTRA_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then
    echo "lab kept in $LAB (stop it: $PL lab down --dir $LAB)" >&2
  else
    "$PL" lab down --purge --dir "$LAB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

cat > "$CONFIG" <<YAML
platform: bench-trader
regions:
  - name: primary
    role: primary
    address: $PRIMARY
    postgres: {port: $PG_PORT}
    redis: {port: $REDIS_PORT}
    buckets: [{name: confirmations}]
    node_groups: [{name: trader, production_size: 1, pilot_light_size: 1, port: $HTTP_PORT}]
  - name: dr
    role: dr
    address: $DR
    postgres: {port: $PG_PORT}
    redis: {port: $REDIS_PORT}
    buckets: [{name: confirmations}]
    node_groups: [{name: trader, production_size: 1, pilot_light_size: 1, port: $HTTP_PORT}]
YAML

echo "== lab up ($PRIMARY, $DR)" >&2
"$PL" lab up --dir "$LAB" --config "$CONFIG" >/dev/null 2>"$WORK/up.log" || { cat "$WORK/up.log" >&2; exit 1; }

PSQL="$PGBIN/psql -h $PRIMARY -p $PG_PORT -U postgres -v ON_ERROR_STOP=1 -qAt"
$PSQL -d postgres -c "CREATE DATABASE pgbench" >/dev/null
$PGBIN/pgbench -h "$PRIMARY" -p "$PG_PORT" -U postgres -i -s 10 -q pgbench >/dev/null 2>&1

json_field() {  # json_field FILE a.b -> value (from pilotlight's pretty JSON)
  python3 -c "import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'): d=d[k]
print(round(d, 2) if isinstance(d, float) else d)" "$1" "$2"
}

# CPU per operation, by component (bench/trader/cpu_sample.py): the processes of
# this lab (both PostgreSQL servers' children, its pilotlight processes, the load
# client) and pgbench.
postmaster_pid() {
  local dir
  dir=$($PGBIN/psql -h "$1" -p "$PG_PORT" -U postgres -qAt -d postgres -c "SHOW data_directory")
  head -1 "$dir/postmaster.pid"
}
POSTMASTERS="$(postmaster_pid "$PRIMARY") $(postmaster_pid "$DR")"
cpu_snap() { python3 "$ROOT/bench/trader/cpu_sample.py" snap "$WORK/cpu-$1.json" "$LAB" $POSTMASTERS; }
cpu_diff() {  # cpu_diff NAME OPS CLIENT -> appends a line to cpu.txt
  printf '%-28s %s\n' "$1" "$(python3 "$ROOT/bench/trader/cpu_sample.py" diff \
    "$WORK/cpu-before.json" "$WORK/cpu-after.json" "$2" \
    "$3=$(awk '{print $1 + $2}' "$WORK/client.time")")" >>"$WORK/cpu.txt"
}
# timed CMD... -> runs CMD, its CPU seconds (user sys) into client.time
timed() {
  local TIMEFORMAT='%U %S'
  { time "$@" 2>&3; } 3>&2 2>"$WORK/client.time"
}

# Lets the previous run's aftermath settle, so that it is not measured in the next
# run: vacuum (pgbench's updates and the trader's deletes leave dead rows that
# autovacuum would otherwise clean up during the next run) and a checkpoint.
settle() {
  $PSQL -d pgbench -c "VACUUM" >/dev/null
  $PSQL -d trading -c "VACUUM" >/dev/null
  $PSQL -d postgres -c "CHECKPOINT" >/dev/null
}

pgbench_simple_update() {  # pgbench_simple_update SECONDS
  $PGBIN/pgbench -h "$PRIMARY" -p "$PG_PORT" -U postgres -n -b simple-update -c "$CONC" -j 2 \
    -T "$1" pgbench
}

pgbench_run() {  # pgbench_run NAME
  settle
  cpu_snap before
  timed pgbench_simple_update "$SECS" 2>/dev/null >"$WORK/pgbench.txt"
  cpu_snap after
  cpu_diff "$1" "$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' \
    "$WORK/pgbench.txt")" "pgbench client"
  grep -E '^tps' "$WORK/pgbench.txt" | head -1 | sed -E 's/tps = ([0-9]+).*/\1/'
}

# Waits (up to 120 s) until the confirmation outbox is empty, so that a run does
# not start while the previous one's confirmations are still being written; says
# how long that took on stderr.
wait_drained() {
  local start=$SECONDS
  for _ in $(seq 1200); do
    [ "$($PSQL -d trading -c 'SELECT count(*) FROM confirmation_outbox')" = 0 ] && break
    sleep 0.1
  done
  echo "   (outbox drained $((SECONDS - start)) s after the run)" >&2
}

# load_run NAME FILE [--rate N] -> one result line
load_run() {
  local name=$1 file=$2; shift 2
  wait_drained
  settle
  cpu_snap before
  timed "$PL" load --dir "$LAB" --concurrency "$CONC" --duration "${SECS}s" --json "$@" \
    >"$WORK/$file.json" 2>"$WORK/$file.progress"
  cpu_snap after
  cpu_diff "$name" "$(json_field "$WORK/$file.json" acked)" "load client"
  printf '%-28s %10s %9s %9s %9s %9s %8s\n' "$name" \
    "$(json_field "$WORK/$file.json" throughput)" \
    "$(json_field "$WORK/$file.json" latency_ms.p50)" \
    "$(json_field "$WORK/$file.json" latency_ms.p99)" \
    "$(json_field "$WORK/$file.json" latency_ms.p99_9)" \
    "$(json_field "$WORK/$file.json" latency_ms.max)" \
    "$(( $(json_field "$WORK/$file.json" gave_up) + $(json_field "$WORK/$file.json" rejected) ))"
}

echo "== ${SECS}s per run, concurrency $CONC, fixed rate $RATE/s; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# Warm-up, not measured: both sides' first seconds on a fresh lab (new
# connections' catalog and plan caches, the first pages of every table and index)
# are slower than what follows.
pgbench_simple_update 3 >/dev/null 2>&1
"$PL" load --dir "$LAB" --concurrency "$CONC" --duration 3s >/dev/null 2>&1
pgbench_run "pgbench simple-update" >"$WORK/pgb1"
{
  printf '%-28s %10s %9s %9s %9s %9s %8s\n' RUN "orders/s" "p50 ms" "p99 ms" "p99.9 ms" "max ms" failed
  printf '%-28s %10s\n' "pgbench simple-update" "$(cat "$WORK/pgb1")"
  load_run "1 instance, flat out" i1-flat
  load_run "1 instance, ${RATE}/s" i1-rate --rate "$RATE"
  # A second instance on the same address and port (SO_REUSEPORT), as the lab's
  # node group would run it.
  "$PL" trader serve --config "$LAB/config.yaml" --region primary --dir "$LAB" \
    --instance trader-bench-2 >"$WORK/trader-2.log" 2>&1 &
  EXTRA_PID=$!
  for _ in $(seq 100); do grep -q ' listening on ' "$WORK/trader-2.log" && break; sleep 0.1; done
  load_run "2 instances, flat out" i2-flat
  load_run "2 instances, ${RATE}/s" i2-rate --rate "$RATE"
  kill -TERM "$EXTRA_PID"; wait "$EXTRA_PID" 2>/dev/null || true; EXTRA_PID=""
  pgbench_run "pgbench simple-update again" >"$WORK/pgb2"
  printf '%-28s %10s\n' "pgbench simple-update again" "$(cat "$WORK/pgb2")"
} | tee "$WORK/results.txt"
echo
echo "CPU per operation (all of this lab's processes, the load client and pgbench; $(nproc) cores):"
cat "$WORK/cpu.txt"

python3 - "$WORK" "$(cat "$WORK/pgb1")" "$(cat "$WORK/pgb2")" "$RATE" <<'PY'
import json, sys
work, pgb1, pgb2, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ceiling = (pgb1 + pgb2) / 2
for n, f in (("1 instance", "i1"), ("2 instances", "i2")):
    flat = json.load(open(f"{work}/{f}-flat.json"))
    fixed = json.load(open(f"{work}/{f}-rate.json"))
    print(f"{n}: flat out {flat['throughput']:.0f} orders/s = {100*flat['throughput']/ceiling:.0f}% "
          f"of pgbench {ceiling:.0f} tps (target >= 50%); p99 at {rate}/s = "
          f"{fixed['latency_ms']['p99']:.1f} ms (target <= 20 ms), achieved "
          f"{fixed['throughput']:.0f}/s")
PY
