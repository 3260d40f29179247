#!/usr/bin/env bash
# A/B comparison of two builds on SQLite (the small database of `make bench`):
#   bench/compare.sh LABEL_A DIR_A LABEL_B DIR_B
# where each DIR holds a release `headway` and `headway-bench`. Rounds alternate A and B
# (ROUNDS, default 3; BENCH_DURATION seconds per run, default 5). The server is pinned to
# CPU 1 and wrk to CPU 0, so the figures that matter on a shared machine are the server's
# CPU per request (utime+stime over the run / requests) and the busy share of the writer
# thread, which every audited request passes through; requests/s is printed beside them.
set -euo pipefail
SECRET=benchmark-signing-secret-0123456789abcdef
D=${BENCH_DURATION:-5}
C=${BENCH_CONNECTIONS:-64}
TICK=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
writer_ticks() {
  for t in /proc/"$1"/task/*; do
    if [ "$(cat "$t/comm")" = headway-writer ]; then awk '{print $14 + $15}' "$t/stat"; return; fi
  done
  echo 0
}

# measure PID URL [wrk args...]: prints "req/s cpu-us-per-request writer-busy-%"
measure() {
  local pid=$1 url=$2; shift 2
  local c0 w0 c1 w1 out rps reqs
  c0=$(cpu_ticks "$pid"); w0=$(writer_ticks "$pid")
  out=$(taskset -c 0 wrk -t1 -c"$C" -d"${D}s" "$@" "$url")
  c1=$(cpu_ticks "$pid"); w1=$(writer_ticks "$pid")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  if echo "$out" | grep -q Non-2xx; then echo "NON-2XX: $(echo "$out" | grep Non-2xx)" >&2; fi
  python3 -c "print(f'{$rps:9.0f} req/s {($c1-$c0)/$TICK/$reqs*1e6:8.1f} us CPU/req  writer busy {($w1-$w0)/$TICK/$D*100:5.1f} %')"
}

one() { # label dir
  local label=$1 bin=$2 work ids client episode goal port server base tok
  work=$(mktemp -d /tmp/headway-compare.XXXXXX)
  ids=$("$bin/headway-bench" seed "sqlite://$work/s.db" 0 0)
  j() { echo "$ids" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
  client=$(j client_id); episode=$(j episode_id); goal=$(j goal_id)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  DATABASE_URL=sqlite://$work/s.db HEADWAY_LISTEN=127.0.0.1:$port HEADWAY_JWT_SECRET=$SECRET \
    HEADWAY_ACCESS_TOKEN_TTL=7200 HEADWAY_DB_POOL_SIZE=16 RUST_LOG=warn \
    taskset -c 1 "$bin/headway" serve >"$work/server.log" 2>&1 &
  server=$!
  base="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
  tok=$(curl -sf "$base/api/v1/auth/token" -d grant_type=password \
    -d username=olivia.ot@riverside.example -d password=headway-demo-2026 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$tok" >"$work/get.lua"
  cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"goal_id":"$goal","measure_code":"nrs","values":{"value":6}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $tok"
LUA
  local progress="$base/api/v1/clients/$client/episodes/$episode/progress"
  taskset -c 0 wrk -t1 -c"$C" -d2s -s "$work/get.lua" "$progress" >/dev/null
  echo "$label  progress view   $(measure "$server" "$progress" -s "$work/get.lua")"
  echo "$label  recording       $(measure "$server" "$base/api/v1/clients/$client/episodes/$episode/measurements" -s "$work/post.lua")"
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -rf "$work"
}

[ $# -eq 4 ] || { echo "usage: $0 LABEL_A DIR_A LABEL_B DIR_B"; exit 2; }
for _ in $(seq "${ROUNDS:-3}"); do
  one "$1" "$2"
  one "$3" "$4"
done
