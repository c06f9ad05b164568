#!/usr/bin/env bash
# What an idle bucket replicator costs with a full scan every pass (the old mode)
# and with its inotify change feed, and how soon a renamed-into-place object is
# in the DR bucket. Builds the benchmark in BUILD_DIR (default build) first.
#   bench/data/objects_watch.sh [BUILD_DIR] [OBJECTS=50000] [IDLE_SECONDS=20] [SAMPLES=20]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
ninja -C "$build" pl_bench_objects_watch >/dev/null
exec "$build/bench/data/pl_bench_objects_watch" "${2:-50000}" "${3:-20}" "${4:-20}"
