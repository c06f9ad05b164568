#!/usr/bin/env bash
# Object replication throughput against plain `cp -r` + `sync` of the same files
# (the ceiling: no checksums, no checkpoint), in one command, as a ratio.
#   bench/data/objects.sh [PILOTLIGHT_BINARY] [OBJECTS]
set -euo pipefail
pl=${1:-build/src/cli/pilotlight}
n=${2:-10000}
work=$(mktemp -d /tmp/pilotlight-objbench-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
echo "making $n objects (16 B .. 4 KB) in $work/src" >&2
for ((i = 0; i < n; i++)); do
  d="$work/src/t$((i / 500))"
  [ -d "$d" ] || mkdir -p "$d"
  head -c $(( (i * 7919) % 4000 + 16 )) /dev/urandom > "$d/$i.bin"
done
bytes=$(du -sb "$work/src" | cut -f1)
sync

now() { date +%s.%N; }
t0=$(now); cp -r "$work/src" "$work/cp-dst"; sync; t1=$(now)
"$pl" replication run-objects --once --source "$work/src" --dest "$work/dst" \
  --state "$work/state" >/dev/null 2>"$work/replicator.log"
t2=$(now)
count=$(find "$work/dst" -path "$work/dst/.pilotlight" -prune -o -type f -name '*.bin' -print | wc -l)
[ "$count" -eq "$n" ] || { echo "replicator copied $count of $n objects" >&2; exit 1; }
awk -v n="$n" -v b="$bytes" -v cp="$(echo "$t1 - $t0" | bc)" -v rep="$(echo "$t2 - $t1" | bc)" 'BEGIN {
  printf "objects %d, %.1f MB\n", n, b / 1e6;
  printf "cp -r + sync      %7.3f s  %8.0f objects/s  %6.1f MB/s\n", cp, n / cp, b / 1e6 / cp;
  printf "pilotlight        %7.3f s  %8.0f objects/s  %6.1f MB/s\n", rep, n / rep, b / 1e6 / rep;
  printf "pilotlight / cp:  %.2f of the ceiling\n", cp / rep;
}'
