#!/usr/bin/env bash
# What the bucket replicator costs per object copied (CPU, user + system), the
# working tree's replicator against an earlier commit's, in one command.
#   bench/data/objects_copy.sh [BUILD_DIR=build] [OBJECTS=20000] [ROUNDS=3] [BASE=a3cd2b4]
# Compiles bench/data/objects_copy_bench.cc twice with the same compiler command:
# once against src/data/objects of the working tree, once against src/data/objects
# of BASE (default: the last commit before the per-object cost work); both link
# BUILD_DIR's pl_core. Then runs them alternately ROUNDS times each, in the order
# before, after, after, before, ... (the machine is shared and the file system's
# state drifts: interleaving spreads both over the two), and prints each run and
# the ratio of the medians. Also runs the working tree's with its sidecar-file
# fallback (a file system without extended attributes). The runs' files stay
# until the end (in BUILD_DIR/bench-objects-copy/runs): see the bench's header.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-build}" && pwd)
objects=${2:-20000}
rounds=${3:-3}
base=${4:-a3cd2b4}
work="$build/bench-objects-copy"
mkdir -p "$work"
ninja -C "$build" pl_core >/dev/null

compile() {  # compile <src tree with data/objects> <output> [extra flags]
  local tree=$1 out=$2
  shift 2
  c++ -std=gnu++20 -O2 -g -DNDEBUG -Wall -Wextra -Wno-unused-parameter "$@" -I"$tree" \
    -I"$root/src" "$root/bench/data/objects_copy_bench.cc" \
    "$tree"/data/objects/{digest,checkpoint,change_feed,replicator}.cc \
    "$build/src/core/libpl_core.a" -lspdlog -lfmt -lcrypto -pthread -o "$out"
}

# The baseline is rebuilt when BASE or the bench's source changes.
before_bin="$work/base-$base-$(sha1sum "$root/bench/data/objects_copy_bench.cc" | cut -c1-12)"
if [[ ! -x "$before_bin" ]]; then
  rm -rf "$work/base-tree" && mkdir -p "$work/base-tree"
  git -C "$root" archive "$base" src/data/objects | tar -x -C "$work/base-tree" --strip-components=1
  compile "$work/base-tree" "$before_bin"
fi
compile "$root/src" "$work/current" -DPL_OBJECTS_HAVE_SIDECAR_OPTION=1

runs="$work/runs"
rm -rf "$runs" && mkdir -p "$runs"
trap 'rm -rf "$runs"' EXIT
export TMPDIR="$runs" PL_BENCH_KEEP_FILES=1
declare -a before after
us() { sed -E 's/.*= ([0-9.]+) us\/object.*/\1/' <<<"$1"; }
run_before() {
  local line
  line=$("$before_bin" "$objects")
  echo "before ($base) $line"
  before+=("$(us "$line")")
}
run_after() {
  local line
  line=$("$work/current" "$objects")
  echo "after            $line"
  after+=("$(us "$line")")
}
for ((i = 0; i < rounds; ++i)); do
  if ((i % 2 == 0)); then run_before; run_after; else run_after; run_before; fi
done
echo "after            $("$work/current" "$objects" 300 500 sidecar)"
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
b=$(median "${before[@]}")
a=$(median "${after[@]}")
awk -v b="$b" -v a="$a" 'BEGIN {printf "CPU per object copied, median: before %.1f us, after %.1f us: after/before %.2f\n", b, a, a/b}'
