#!/usr/bin/env bash
# One backend's runs; appends rows to $BENCH_RESULTS. See bench/run.sh.
set -euo pipefail
backend=$1
BIN=target/release
SECRET=benchmark-signing-secret-0123456789abcdef
work=$(mktemp -d /tmp/headway-bench.XXXXXX)
chmod 755 "$work"
server=""
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT

url_for() { # name -> DATABASE_URL
  if [ "$backend" = sqlite ]; then
    echo "sqlite://$work/$1.db"
  else
    psql -q "$HEADWAY_TEST_PG" -c "CREATE DATABASE $1" >/dev/null
    echo "${HEADWAY_TEST_PG%/*}/$1"
  fi
}

start() { # url
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  DATABASE_URL=$1 HEADWAY_LISTEN=127.0.0.1:$port HEADWAY_JWT_SECRET=$SECRET HEADWAY_ACCESS_TOKEN_TTL=7200 \
    HEADWAY_DB_POOL_SIZE=16 RUST_LOG=warn "$BIN/headway" serve >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  base="http://127.0.0.1:$port"
}

stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }

token() {
  curl -sf "$base/api/v1/auth/token" -d grant_type=password -d "username=$1" -d password=headway-demo-2026 \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# run VAR LABEL wrk-args... : runs wrk, appends a row, and sets $VAR to req/s.
run() {
  var=$1; label=$2; note=""; shift 2
  wrk -t2 -c"$BENCH_CONNECTIONS" -d"${BENCH_DURATION}s" --latency "$@" >"$work/wrk.txt"
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  ms() { awk -v p="$1" '$1 == p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.2f", v}' "$work/wrk.txt"; }
  bad=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt"); errors=$(awk '/Socket errors/ {print}' "$work/wrk.txt")
  [ -n "$bad" ] && note="$note; NON-2XX: $bad"
  [ -n "$errors" ] && note="$note; $errors"
  printf '%-9s %-40s %10.0f %9s %9s %s\n' "$backend" "$label" "$rps" "$(ms 50%)" "$(ms 99%)" "$note" | tee -a "$BENCH_RESULTS"
  printf -v "$var" '%s' "$rps"
}

progress_script() { # token episode client -> lua file
  cat >"$work/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $1"
LUA
}

echo "== $backend: seeding the small database"
small=$(url_for bench_small)
ids=$("$BIN/headway-bench" seed "$small" 0 0)
client=$(echo "$ids" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
episode=$(echo "$ids" | python3 -c 'import json,sys; print(json.load(sys.stdin)["episode_id"])')
goal=$(echo "$ids" | python3 -c 'import json,sys; print(json.load(sys.stdin)["goal_id"])')
start "$small"
tok=$(token olivia.ot@riverside.example)
progress="$base/api/v1/clients/$client/episodes/$episode/progress"
curl -sf "$progress" -H "Authorization: Bearer $tok" | python3 -c 'import json,sys; v=json.load(sys.stdin); print("progress view:", len(v["goals"]), "goals,", sum(g["progress"]["values"] for g in v["goals"]), "values, COPM", v["copm"]["assessments"], "assessments, GAS T", round(v["gas"]["current_t"],1))'
progress_script "$tok"
wrk -t2 -c"$BENCH_CONNECTIONS" -d2s -s "$work/get.lua" "$progress" >/dev/null  # warm-up
run healthz "GET /healthz" "$base/healthz"
run progress_small "GET progress view (small db)" -s "$work/get.lua" "$progress"
ratio=$(python3 -c "print(f'{$progress_small/$healthz*100:.1f}')")
echo "$(printf '%-9s %-40s' "$backend" "  progress / healthz")  ${ratio}% of /healthz throughput" | tee -a "$BENCH_RESULTS"
# FHIR: one patient's 500 observations (Maria's episode), one searchset page.
observations="$base/fhir/r4/Observation?patient=$client&_count=500"
curl -sf "$observations" -H "Authorization: Bearer $tok" | python3 -c 'import json,sys; b=json.load(sys.stdin); print("FHIR searchset:", len(b.get("entry", [])), "Observations")'
wrk -t2 -c"$BENCH_CONNECTIONS" -d2s -s "$work/get.lua" "$observations" >/dev/null  # warm-up
run fhir_search "GET FHIR Observation search (500/page)" -s "$work/get.lua" "$observations"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"goal_id":"$goal","measure_code":"nrs","values":{"value":6}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $tok"
LUA
run recording "POST measurement (durable)" -s "$work/post.lua" "$base/api/v1/clients/$client/episodes/$episode/measurements"
stop

echo "== $backend: live events, $BENCH_STREAMS open streams"
ulimit -n 4096 2>/dev/null || true   # a stream is a descriptor on each side
start "$small"
admin=$(token admin@riverside.example)
olivia=$(token olivia.ot@riverside.example)
# The streams are the admin's (the whole clinic); Olivia records on Maria's episode.
# The load generator runs on CPU 0, the server on any.
streams=$(taskset -c 0 "$BIN/headway-bench" streams "$base" "$admin" "$olivia" "$BENCH_STREAMS" "$BENCH_STREAM_WRITES" \
  "/api/v1/clients/$client/episodes/$episode/measurements" "$server" 2>&1 | tail -1)
echo "$streams"
python3 - "$backend" "$streams" <<'PY' | tee -a "$BENCH_RESULTS"
import json, sys
backend, r = sys.argv[1], json.loads(sys.argv[2])
got = f"{r['events_received']}/{r['events_expected']} events"
print(f"{backend:<9} {'commit-to-event, ' + str(r['streams']) + ' streams':<40} {'':>10} {r['p50_ms']:9.2f} {r['p99_ms']:9.2f} {got}; max {r['max_ms']:.1f} ms; p99 from send {r['p99_from_send_ms']:.1f} ms")
print(f"{backend:<9} {'  memory per idle stream':<40} {r['kb_per_idle_stream']:.1f} KB (RSS {r['rss_before_kb']} -> {r['rss_idle_kb']} KB)")
PY
stop

echo "== $backend: seeding the large database ($BENCH_FILLER_CLIENTS clients x $BENCH_MEASUREMENTS_PER_CLIENT measurements)"
large=$(url_for bench_large)
ids=$("$BIN/headway-bench" seed "$large" "$BENCH_FILLER_CLIENTS" "$BENCH_MEASUREMENTS_PER_CLIENT")
echo "$ids"
client=$(echo "$ids" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
episode=$(echo "$ids" | python3 -c 'import json,sys; print(json.load(sys.stdin)["episode_id"])')
start "$large"
tok=$(token olivia.ot@riverside.example)
progress="$base/api/v1/clients/$client/episodes/$episode/progress"
progress_script "$tok"
wrk -t2 -c"$BENCH_CONNECTIONS" -d2s -s "$work/get.lua" "$progress" >/dev/null
run healthz_large "GET /healthz (large db)" "$base/healthz"
run progress_large "GET progress view (large db)" -s "$work/get.lua" "$progress"
ratio=$(python3 -c "print(f'{$progress_small/$progress_large:.2f}')")
echo "$(printf '%-9s %-40s' "$backend" "  large / small")  small db is ${ratio}x the large db's progress throughput" | tee -a "$BENCH_RESULTS"
stop

echo "== $backend: sign-in flood"
bench/signin.sh "$backend"
