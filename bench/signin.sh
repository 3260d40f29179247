#!/usr/bin/env bash
# Sign-in flood: 500 parallel sign-ins (unknown logins and known ones) for
# BENCH_SIGNIN_DURATION seconds, while /healthz is probed and the server's memory is
# sampled. Reports the peak RSS (VmHWM), the RSS after the flood, the answers by
# status, and how /healthz answered meanwhile. Appends rows to $BENCH_RESULTS when set.
#
# usage: bench/signin.sh sqlite|postgres   (postgres: under scripts/with-postgres.sh)
# Knobs: BENCH_SIGNIN_CONNECTIONS (500), BENCH_SIGNIN_DURATION (s, 10),
#        HEADWAY_BIN (target/release/headway), BENCH_SEED_BIN (target/release/headway-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
BIN=${HEADWAY_BIN:-target/release/headway}
SEED=${BENCH_SEED_BIN:-target/release/headway-bench}
CONNECTIONS=${BENCH_SIGNIN_CONNECTIONS:-500}
DURATION=${BENCH_SIGNIN_DURATION:-10}
SECRET=benchmark-signing-secret-0123456789abcdef
work=$(mktemp -d /tmp/headway-signin.XXXXXX)
chmod 755 "$work"
server=""
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT

if [ "$backend" = sqlite ]; then
  url="sqlite://$work/signin.db"
else
  psql -q "$HEADWAY_TEST_PG" -c "CREATE DATABASE bench_signin" >/dev/null
  url="${HEADWAY_TEST_PG%/*}/bench_signin"
fi
"$SEED" seed "$url" 0 0 >/dev/null

# The flood comes from one address: lift the per-login and per-address limits so that
# every attempt really costs an Argon2 hash (the worst case for memory).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATABASE_URL=$url HEADWAY_LISTEN=127.0.0.1:$port HEADWAY_JWT_SECRET=$SECRET \
  HEADWAY_LOGIN_MAX_FAILURES=1000000000 HEADWAY_ADDRESS_MAX_FAILURES=1000000000 \
  HEADWAY_DB_POOL_SIZE=16 RUST_LOG=error "$BIN" serve >"$work/server.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$server/status"; }
rss_idle=$(kib VmRSS)

cat >"$work/signin.lua" <<'LUA'
-- Half the attempts name people who exist (right password), half unknown logins.
local known = {"olivia.ot@riverside.example", "admin@riverside.example",
  "maria@client.example", "jun@client.example", "sam@client.example"}
local n = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function request()
  n = n + 1
  local user, password
  if n % 2 == 0 then
    user = known[(n / 2) % #known + 1]; password = "headway-demo-2026"
  else
    user = "nobody" .. n .. "@unknown.example"; password = "not-the-password-" .. n
  end
  return wrk.format("POST", "/api/v1/auth/token",
    {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=password&username=" .. user .. "&password=" .. password)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + count end
  end
  local parts = {}
  for code, count in pairs(total) do table.insert(parts, code .. "=" .. count) end
  table.sort(parts)
  io.write("statuses " .. table.concat(parts, " ") .. "\n")
end
LUA

# /healthz probe: a fresh connection per probe, every 50 ms, until told to stop.
cat >"$work/probe.py" <<'PY'
import http.client, os, sys, time
host, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ok, failed, lat = 0, 0, []
while not os.path.exists(stop):
    t = time.monotonic()
    try:
        c = http.client.HTTPConnection(host, port, timeout=30)
        c.request("GET", "/healthz")
        r = c.getresponse(); r.read(); c.close()
        if r.status == 200: ok += 1
        else: failed += 1
    except Exception:
        failed += 1
    lat.append((time.monotonic() - t) * 1000)
    time.sleep(0.05)
lat.sort()
p50 = lat[len(lat) // 2] if lat else 0
print(f"{ok} {failed} {p50:.1f} {max(lat) if lat else 0:.1f}")
PY

# RSS sampler (VmHWM is the kernel's own peak; the samples show the shape).
( while kill -0 "$server" 2>/dev/null && [ ! -e "$work/stop" ]; do
    echo "$(date +%s.%N) $(kib VmRSS)" >>"$work/rss.txt"; sleep 0.2; done ) &
sampler=$!
python3 "$work/probe.py" 127.0.0.1 "$port" "$work/stop" >"$work/probe.txt" &
probe=$!
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s --latency -s "$work/signin.lua" \
  "$base/api/v1/auth/token" >"$work/wrk.txt" || true
touch "$work/stop"
wait "$probe" "$sampler" || true

alive=yes
kill -0 "$server" 2>/dev/null || alive="NO (server died)"
sleep 3
peak=$(kib VmHWM || echo 0)
after=$(kib VmRSS || echo 0)
rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
statuses=$(awk '/^statuses/ {$1=""; print}' "$work/wrk.txt")
errors=$(awk '/Socket errors/ {print}' "$work/wrk.txt")
read -r hz_ok hz_failed hz_p50 hz_max <"$work/probe.txt"
mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k/1024}'; }
# A normal sign-in right after the flood.
after_login=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/auth/token" -d grant_type=password \
  -d username=olivia.ot@riverside.example -d password=headway-demo-2026)

report=$(cat <<EOF
$backend sign-in flood: $CONNECTIONS connections, ${DURATION}s, $(nproc) cores
  sign-ins/s        $rps   answers:$statuses ${errors:+  ($errors)}
  RSS idle          $(mib "$rss_idle") MiB
  RSS peak (VmHWM)  $(mib "$peak") MiB
  RSS 3 s after     $(mib "$after") MiB
  /healthz          $hz_ok answered 200, $hz_failed failed, p50 $hz_p50 ms, max $hz_max ms
  sign-in after     HTTP $after_login; server alive: $alive
EOF
)
echo "$report"
if [ -n "${BENCH_RESULTS:-}" ]; then
  printf '%-9s %-40s %10.0f %9s %9s %s\n' "$backend" "sign-in flood ($CONNECTIONS parallel)" "$rps" "-" "-" \
    "peak RSS $(mib "$peak") MiB, after $(mib "$after") MiB; healthz $hz_ok ok/$hz_failed failed, max ${hz_max} ms;$statuses" \
    >>"$BENCH_RESULTS"
fi
