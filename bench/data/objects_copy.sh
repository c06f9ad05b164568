#!/usr/bin/env bash
# What the bucket replicator costs per object copied (CPU, user + system): the
# working tree's replicator against an earlier commit's, side by side in one
# process (see objects_copy_bench.cc for how and why).
#   bench/data/objects_copy.sh [BUILD_DIR=build] [OBJECTS=20000] [BASE=a3cd2b4]
# BASE defaults to the last commit before the per-object cost work. Builds
# BUILD_DIR's pl_core, then compiles, with one compiler command line, the bench,
# src/data/objects of the working tree, and src/data/objects of BASE (from git,
# unchanged but for its namespace, renamed by the preprocessor so that both
# builds link into one binary), and runs it. The baseline's objects are kept in
# BUILD_DIR/bench-objects-copy/BASE between runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-build}" && pwd)
objects=${2:-20000}
base=${3:-a3cd2b4}
work="$build/bench-objects-copy"
mkdir -p "$work/$base" "$work/current"
ninja -C "$build" pl_core >/dev/null

cxx() { c++ -std=gnu++20 -O2 -g -DNDEBUG -Wall -Wextra -Wno-unused-parameter "$@"; }
sources=(digest checkpoint change_feed replicator)

if [[ ! -f "$work/$base/replicator.o" ]]; then
  rm -rf "$work/$base/tree" && mkdir -p "$work/$base/tree"
  git -C "$root" archive "$base" src/data/objects | tar -x -C "$work/$base/tree" --strip-components=1
  for s in "${sources[@]}"; do
    cxx -Dobjects=objects_v0 -I"$work/$base/tree" -I"$root/src" -c \
      "$work/$base/tree/data/objects/$s.cc" -o "$work/$base/$s.o"
  done
fi
cxx -Dobjects=objects_v0 -DPL_BENCH_RUNNER=MakeBaselineRunner -I"$work/$base/tree" -I"$root/src" \
  -I"$root/bench/data" -c "$root/bench/data/objects_copy_runner.cc" -o "$work/$base/runner.o"
for s in "${sources[@]}"; do
  cxx -I"$root/src" -c "$root/src/data/objects/$s.cc" -o "$work/current/$s.o"
done
cxx -DPL_OBJECTS_HAVE_SIDECAR_OPTION=1 -I"$root/src" -I"$root/bench/data" -c \
  "$root/bench/data/objects_copy_runner.cc" -o "$work/current/runner.o"
cxx -DPL_BENCH_BASELINE="\"$base\"" -I"$root/src" -I"$root/bench/data" \
  "$root/bench/data/objects_copy_bench.cc" "$work/current/"*.o "$work/$base/"*.o \
  "$build/src/core/libpl_core.a" -lspdlog -lfmt -lcrypto -pthread -o "$work/bench"
exec "$work/bench" "$objects"
