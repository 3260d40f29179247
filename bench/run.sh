#!/usr/bin/env bash
# make bench: a reproducible load benchmark on loopback. For each backend (SQLite, and
# PostgreSQL 15 when its server is installed):
#   1. small database: the demo clinic, and Maria's episode (10 goals x 50 measurements,
#      COPM and GAS); /healthz and the progress view at 64 connections; then recording
#      measurements (authenticated POST, durable commit);
#   2. live events on the small database: 1,000 open streams (BENCH_STREAMS),
#      commit-to-event latency over 100 writes (BENCH_STREAM_WRITES), memory per idle
#      stream;
#   3. large database: the same plus 100,000 clients and 5,000,000 measurements; the
#      progress view again;
#   4. sign-in flood (bench/signin.sh): 500 parallel sign-ins, peak RSS, /healthz meanwhile.
# Knobs: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (64), BENCH_FILLER_CLIENTS
# (100000), BENCH_MEASUREMENTS_PER_CLIENT (50), BENCH_BACKENDS ("sqlite postgres").
set -euo pipefail
cd "$(dirname "$0")/.."

export BENCH_DURATION=${BENCH_DURATION:-10}
export BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-64}
export BENCH_FILLER_CLIENTS=${BENCH_FILLER_CLIENTS:-100000}
export BENCH_MEASUREMENTS_PER_CLIENT=${BENCH_MEASUREMENTS_PER_CLIENT:-50}
export BENCH_STREAMS=${BENCH_STREAMS:-1000}
export BENCH_STREAM_WRITES=${BENCH_STREAM_WRITES:-100}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}

cargo build --release -q -p headway-api -p headway-bench
export BENCH_RESULTS
BENCH_RESULTS=$(mktemp /tmp/headway-bench-results.XXXXXX)

for backend in $BACKENDS; do
  case $backend in
    sqlite) bench/backend.sh sqlite ;;
    postgres)
      if [ -x /usr/lib/postgresql/15/bin/postgres ]; then
        HEADWAY_PG_FSYNC=on scripts/with-postgres.sh bench/backend.sh postgres
      else
        echo "PostgreSQL 15 is not installed; skipping it"
      fi ;;
  esac
done

# The FHIR search's CPU per request and thread shares, pinned and shared (SQLite).
bench/fhir-cpu.sh | tee -a "$BENCH_RESULTS.fhir"

echo
echo "Headway benchmark: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, ${BENCH_CONNECTIONS} connections, ${BENCH_DURATION}s per run (wrk, loopback)"
printf '%-9s %-40s %10s %9s %9s %s\n' backend scenario 'req/s' 'p50 ms' 'p99 ms' note
cat "$BENCH_RESULTS"
echo
echo "FHIR Observation search (bench/fhir-cpu.sh):"
cat "$BENCH_RESULTS.fhir"
rm -f "$BENCH_RESULTS" "$BENCH_RESULTS.fhir"
