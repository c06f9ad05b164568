#!/usr/bin/env bash
# DNS benchmark: dnsperf against pilotlight's embedded server and against Knot DNS
# serving the same zone on the same machine, with the same number of cores, one
# after the other; prints QPS and latency for each and pilotlight/Knot ratios.
#
#   bench/dns/run.sh [PILOTLIGHT_BINARY]
#
# Environment: DURATION (seconds per run, default 10), WORKERS (server threads, default 1),
# SERVER_CPUS / CLIENT_CPUS (taskset lists; default: servers on CPU 0, dnsperf on CPU 1),
# CLIENTS (dnsperf sockets, default 4), OUTSTANDING (dnsperf -q, default 200).
# Needs: dnsperf (Debian package dnsperf), knotd (knot), dig, taskset (util-linux).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pl="${1:-${PILOTLIGHT_BIN:-$root/build/src/cli/pilotlight}}"
duration="${DURATION:-10}"
workers="${WORKERS:-1}"
server_cpus="${SERVER_CPUS:-0}"
client_cpus="${CLIENT_CPUS:-1}"
clients="${CLIENTS:-4}"
outstanding="${OUTSTANDING:-200}"

for tool in dnsperf knotd dig taskset; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (apt-get install dnsperf knot bind9-dnsutils util-linux)" >&2; exit 1; }
done
[ -x "$pl" ] || { echo "run.sh: pilotlight binary not found at $pl (build it, or pass its path)" >&2; exit 1; }

work="$(mktemp -d /tmp/pilotlight-dns-bench-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_answer() {  # port
  for _ in $(seq 1 100); do
    if dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short api.pilotlight.test A | grep -q 127.0.1.10; then return 0; fi
    sleep 0.1
  done
  echo "run.sh: no answer on port $1" >&2; return 1
}

cpu_ticks() {  # pid -> user+system clock ticks of the whole process (all threads)
  awk '{print $14 + $15}' "/proc/$1/stat"
}

# dnsperf run -> "qps avg_latency_ms lost server_cpu_seconds"
perf() {  # port label server_pid
  local before after
  before=$(cpu_ticks "$3")
  taskset -c "$client_cpus" dnsperf -s 127.0.0.1 -p "$1" -d "$here/queries.txt" -l "$duration" \
    -c "$clients" -q "$outstanding" -T 1 > "$work/$2.dnsperf" 2>&1
  local qps lat lost
  qps=$(awk '/Queries per second:/ {print $4}' "$work/$2.dnsperf")
  lat=$(awk '/Average Latency \(s\):/ {print $4 * 1000}' "$work/$2.dnsperf")
  lost=$(awk '/Queries lost:/ {print $3}' "$work/$2.dnsperf")
  after=$(cpu_ticks "$3")
  echo "$qps $lat $lost $(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN {print t / hz}')"
}

# --- pilotlight ------------------------------------------------------------------------------
pl_port=$(free_port)
taskset -c "$server_cpus" "$pl" --log-level warn dns serve --zone-file "$here/zone.yaml" \
  --listen "127.0.0.1:$pl_port" --udp-workers "$workers" --overrides "$work/overrides" \
  > "$work/pilotlight.log" 2>&1 &
pids+=($!)
wait_answer "$pl_port"
read -r pl_qps pl_lat pl_lost pl_cpu < <(perf "$pl_port" pilotlight "${pids[0]}")
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true

# --- Knot --------------------------------------------------------------------------------------
knot_port=$(free_port)
mkdir -p "$work/knot/db"
cp "$here/pilotlight.test.zone" "$work/knot/"
cat > "$work/knot/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$knot_port
    rundir: $work/knot
    udp-workers: $workers
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: $work/knot/db
template:
  - id: default
    storage: $work/knot
zone:
  - domain: pilotlight.test
    file: pilotlight.test.zone
CONF
taskset -c "$server_cpus" knotd -c "$work/knot/knot.conf" > "$work/knot.log" 2>&1 &
pids+=($!)
wait_answer "$knot_port"
read -r knot_qps knot_lat knot_lost knot_cpu < <(perf "$knot_port" knot "${pids[1]}")

# --- report ------------------------------------------------------------------------------------
echo "dnsperf ${duration}s, ${clients} clients, ${outstanding} outstanding, client CPUs ${client_cpus};"
echo "servers: ${workers} UDP worker(s) on CPUs ${server_cpus}; query mix: $(wc -l < "$here/queries.txt") names from bench/dns/queries.txt"
printf '%-12s %10s %15s %8s %12s %14s\n' server QPS "avg latency ms" lost "server CPU s" "queries/CPU s"
for who in pilotlight knot; do
  if [ $who = pilotlight ]; then q=$pl_qps l=$pl_lat x=$pl_lost c=$pl_cpu; else q=$knot_qps l=$knot_lat x=$knot_lost c=$knot_cpu; fi
  awk -v w=$who -v q="$q" -v l="$l" -v x="$x" -v c="$c" -v d="$duration" \
    'BEGIN { printf "%-12s %10.0f %15.3f %8s %12.2f %14.0f\n", w, q, l, x, c, (c > 0 ? q * d / c : 0) }'
done
awk -v a="$pl_qps" -v b="$knot_qps" -v la="$pl_lat" -v lb="$knot_lat" -v ca="$pl_cpu" -v cb="$knot_cpu" \
  'BEGIN { printf "ratio pilotlight/knot: QPS %.2fx, latency %.2fx, queries per CPU-second %.2fx (target: QPS >= 0.5x)\n", a / b, la / lb, (a / ca) / (b / cb) }'
