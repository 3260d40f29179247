#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL 15: a fresh cluster in a temporary
# directory, on 127.0.0.1 and a free port, stopped and removed when the command ends.
# The command sees HEADWAY_TEST_PG=postgres://postgres@127.0.0.1:PORT/headway_test.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
dir=$(mktemp -d /tmp/headway-pg.XXXXXX)
chmod 755 "$dir"
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >/dev/null
# fsync off by default: the cluster is thrown away. Benchmarks set HEADWAY_PG_FSYNC=on
# so that PostgreSQL's figures are for durable commits too.
as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-h 127.0.0.1 -p $port -k $dir -c fsync=${HEADWAY_PG_FSYNC:-off} -c max_connections=400 -c shared_buffers=1GB" start >/dev/null
as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -q -c "CREATE DATABASE headway_test" >/dev/null

export HEADWAY_TEST_PG="postgres://postgres@127.0.0.1:$port/headway_test"
echo "PostgreSQL 15 at 127.0.0.1:$port (temporary)"
"$@"
