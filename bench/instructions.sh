#!/usr/bin/env bash
# Instructions per request, counted by callgrind: repeatable where requests/s are not.
#   bench/instructions.sh LABEL DIR [N]
# DIR holds a release `headway` and `headway-bench`. The server runs under callgrind on
# a seeded SQLite database; after a warm-up the counters are zeroed, N progress-view
# reads (then N recordings) are sent one at a time, and the instructions executed by
# the whole server (every thread, the writer's included) are divided by N.
set -euo pipefail
label=$1 bin=$2 n=${3:-200}
SECRET=benchmark-signing-secret-0123456789abcdef
work=$(mktemp -d /tmp/headway-instr.XXXXXX)
ids=$("$bin/headway-bench" seed "sqlite://$work/s.db" 0 0)
j() { echo "$ids" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
client=$(j client_id); episode=$(j episode_id); goal=$(j goal_id)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATABASE_URL=sqlite://$work/s.db HEADWAY_LISTEN=127.0.0.1:$port HEADWAY_JWT_SECRET=$SECRET \
  HEADWAY_ACCESS_TOKEN_TTL=7200 RUST_LOG=warn HEADWAY_HASH_THREADS=1 \
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" "$bin/headway" serve \
  >"$work/server.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 600); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
tok=$(curl -sf "$base/api/v1/auth/token" -d grant_type=password \
  -d username=olivia.ot@riverside.example -d password=headway-demo-2026 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
count() { # url method body -> instructions per request
  python3 - "$1" "$2" "$3" "$tok" "$n" "$server" <<'PY'
import http.client, json, subprocess, sys, urllib.parse, glob, os
url, method, body, tok, n, pid = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
headers = {"Authorization": f"Bearer {tok}", "Content-Type": "application/json"}
def send():
    conn.request(method, u.path, body=body or None, headers=headers)
    r = conn.getresponse(); r.read()
    assert r.status in (200, 201), r.status
for _ in range(20): send()
def total():
    out = subprocess.run(["callgrind_control", "-d", pid], capture_output=True, text=True)
    files = sorted(glob.glob(os.path.join(os.environ["WORK"], f"cg.{pid}*")), key=os.path.getmtime)
    ir = 0
    for f in files:
        for line in open(f):
            if line.startswith("summary:") or line.startswith("totals:"):
                ir += int(line.split()[1]); break
    return ir
subprocess.run(["callgrind_control", "-z", pid], capture_output=True)
for _ in range(n): send()
print(total() // n)
PY
}
export WORK=$work
rm -f "$work"/cg.*
progress=$(count "$base/api/v1/clients/$client/episodes/$episode/progress" GET "")
mkdir -p "$work/progress" && mv "$work"/cg.* "$work/progress/"
recording=$(count "$base/api/v1/clients/$client/episodes/$episode/measurements" POST \
  "{\"goal_id\":\"$goal\",\"measure_code\":\"nrs\",\"values\":{\"value\":6}}")
echo "$label  progress view  $progress instructions/request"
echo "$label  recording      $recording instructions/request"
kill "$server"; wait "$server" 2>/dev/null || true
if [ -n "${KEEP:-}" ]; then echo "profiles kept in $work"; else rm -rf "$work"; fi
