#!/usr/bin/env bash
# The FHIR Observation search (one patient, 500 Observations, one searchset page at
# _count=500) measured as BENCHMARKS.md reports it: requests/s, and the server's CPU
# per request (utime+stime over the run / requests), on SQLite. Two layouts:
#   pinned: server on CPU 1, wrk (1 thread) on CPU 0;
#   shared: server and wrk (2 threads) both on both cores, as the issue's goal states.
# Needs a release build (make bench builds one) and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release
DURATION=${BENCH_DURATION:-8}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
work=$(mktemp -d /tmp/headway-fhir-bench.XXXXXX)
server=""
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
ticks=$(getconf CLK_TCK)

ids=$("$BIN/headway-bench" seed "sqlite://$work/b.db" 0 0)
client=$(echo "$ids" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')

cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Each thread's name and CPU ticks, to find the busy share of a thread every request
# passes through (the writer that commits audit events, for one).
threads_of() {
  for t in /proc/$1/task/*; do
    echo "$(basename "$t") $(cat "$t/comm" 2>/dev/null | tr ' ' '_') $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null)"
  done
}

measure() { # layout server-cpus wrk-cpus wrk-threads
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  DATABASE_URL="sqlite://$work/b.db" HEADWAY_LISTEN=127.0.0.1:$port HEADWAY_ACCESS_TOKEN_TTL=7200 \
    HEADWAY_JWT_SECRET=benchmark-signing-secret-0123456789abcdef HEADWAY_DB_POOL_SIZE=16 RUST_LOG=warn \
    taskset -c "$2" "$BIN/headway" serve >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  base="http://127.0.0.1:$port"
  tok=$(curl -sf "$base/api/v1/auth/token" -d grant_type=password -d username=olivia.ot@riverside.example \
    -d password=headway-demo-2026 | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$tok" >"$work/get.lua"
  url="$base/fhir/r4/Observation?patient=$client&_count=500"
  entries=$(curl -sf "$url" -H "Authorization: Bearer $tok" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entry"]))')
  taskset -c "$3" wrk -t"$4" -c"$CONNECTIONS" -d2s -s "$work/get.lua" "$url" >/dev/null
  for route in fhir healthz; do
    [ $route = fhir ] && target=$url || target=$base/healthz
    before=$(cpu_of "$server"); threads_of "$server" >"$work/t0"
    taskset -c "$3" wrk -t"$4" -c"$CONNECTIONS" -d"${DURATION}s" -s "$work/get.lua" "$target" >"$work/wrk.txt"
    after=$(cpu_of "$server"); threads_of "$server" >"$work/t1"
    requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
    python3 -c "print(f'$1 {\"$route\":8} {$rps:>10.0f} req/s  {($after-$before)/$ticks/$requests*1e6:>8.1f} us server CPU/request  ($entries entries/page) ${non2xx:+NON-2XX $non2xx}')"
    # The three busiest threads over the run, each as a share of one core.
    join "$work/t0" "$work/t1" 2>/dev/null | awk -v d="$DURATION" -v t="$ticks" \
      'NF == 5 {printf "    %5.1f%% busy  %s (%s)\n", ($5 - $3) / t / d * 100, $2, $1}' | sort -rn | head -3
  done
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
}

measure pinned 1 0 1
measure shared 0,1 0,1 2
