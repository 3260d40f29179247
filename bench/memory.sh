#!/usr/bin/env bash
# Where the memory of idle connections goes, by allocation site (valgrind massif):
#   bench/memory.sh DIR [N]
# DIR holds a release `headway` and `headway-bench`. The server runs under massif on a
# seeded SQLite database; a heap snapshot is taken, then N idle event streams are
# opened (and, in a second server, N keep-alive connections that asked for /healthz
# once), and after they settle a second snapshot. Prints the heap each connection
# adds, by site: actix's own buffers and task, and what a Headway stream holds.
set -euo pipefail
bin=$1 n=${2:-1000}
SECRET=benchmark-signing-secret-0123456789abcdef
one() { # mode
  local mode=$1 work port server tok
  work=$(mktemp -d /tmp/headway-memory.XXXXXX)
  "$bin/headway-bench" seed "sqlite://$work/s.db" 0 0 >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  DATABASE_URL=sqlite://$work/s.db HEADWAY_LISTEN=127.0.0.1:$port HEADWAY_JWT_SECRET=$SECRET \
    HEADWAY_ACCESS_TOKEN_TTL=7200 HEADWAY_KEEP_ALIVE=600 RUST_LOG=warn HEADWAY_HASH_THREADS=1 \
    valgrind --tool=massif --vgdb=yes --massif-out-file="$work/massif.out" "$bin/headway" serve \
    >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
  tok=$(curl -sf "http://127.0.0.1:$port/api/v1/auth/token" -d grant_type=password \
    -d username=admin@riverside.example -d password=headway-demo-2026 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  python3 - "$port" "$mode" "$n" "$tok" "$server" "$work" <<'PY'
import collections, re, socket, subprocess, sys, time
port, mode, n, tok, pid, work = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
def connect():
    s = socket.create_connection(("127.0.0.1", port))
    if mode == "stream":
        s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n\r\n".encode())
    else:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    return s
def snapshot(name):
    path = f"{work}/{name}"
    subprocess.run(["vgdb", f"--pid={pid}", "detailed_snapshot", path], capture_output=True)
    return path
# Site of a leaf: its first three frames that are not allocator or collection plumbing.
PLUMBING = ("alloc", "raw_vec", "Unknown", "boxed.rs", "vec/mod.rs", "bytes_mut", "slice.rs",
            "with_capacity", "clone", "btree", "hashbrown", "raw/mod", "map.rs", "string.rs",
            "fmt", "to_vec", "to_owned", "to_string", "spec_", "iter", "extend", "collect",
            "in ", "unix.rs", "push", "insert", "rc.rs", "sync.rs", "arc")
def sites(path):
    lines = open(path).read().split("\n")
    stack, out = [], collections.Counter()
    for l in lines[lines.index("heap_tree=detailed") + 1:]:
        m = re.match(r"^( *)n(\d+): (\d+) (.*)$", l)
        if not m:
            continue
        depth, kids, size = len(m.group(1)), int(m.group(2)), int(m.group(3))
        stack = stack[:depth] + [re.sub(r"^0x[0-9A-F]+: ", "", m.group(4))]
        if kids == 0:
            frames = [f for f in stack[1:] if not any(f.startswith(p) for p in PLUMBING)]
            out[" <- ".join(f.split(" (")[0][:60] for f in frames[:2])] += size
    return out
time.sleep(3)
warm = [connect() for _ in range(20)]
time.sleep(3)
before = sites(snapshot("before"))
held = [connect() for _ in range(n)]
time.sleep(20)
after = sites(snapshot("after"))
grown = collections.Counter({k: after[k] - before.get(k, 0) for k in set(before) | set(after)})
print(f"{mode}: {n} idle connections, heap {sum(grown.values()) / n:,.0f} B each; by site, bytes each:")
for site, size in grown.most_common(8):
    if size / n >= 100:
        print(f"  {size / n:8,.0f}  {site[:150]}")
PY
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
one healthz
one stream
