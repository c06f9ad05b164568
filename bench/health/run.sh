#!/bin/sh
# Builds and runs the health-check benchmark: 10,000 HTTP checks at a 1 s interval
# against a local server for 60 s. Usage: bench/health/run.sh [build-dir] [extra args]
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
cmake -S "$(dirname "$0")/../.." -B "$build" -G Ninja >/dev/null
ninja -C "$build" health_bench
uptime
exec "$build/bench/health/health_bench" --checks 10000 --interval-ms 1000 --duration-s 60 "$@"
