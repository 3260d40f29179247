#!/usr/bin/env bash
# `make test-crash`: the durability promises, checked against the release binary.
#   1. SQLite: kill -9 of the server mid-load loses no acknowledged recording.
#   2. PostgreSQL: `pg_ctl stop -m immediate` mid-load loses none either.
#   3. SQLite under strace: every 2xx that wrote was preceded by its commit's sync.
# Each step exits non-zero on a broken promise; processes and temp dirs go on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

TOTAL=${CRASH_RECORDINGS:-1000}
CRASH_AFTER=${CRASH_AFTER:-300}
TRACED=${CRASH_TRACED:-50}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PYTHONDONTWRITEBYTECODE=1

need=()
command -v strace >/dev/null 2>&1 || need+=(strace)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release -q -p headway-api --bin headway
bin=$PWD/target/release/headway

dirs=()
cleanup() {
  set +e # clean up all there is, whatever fails
  for d in "${dirs[@]}"; do
    # The step's server (by its recorded pid) and PostgreSQL cluster, if still up.
    if [ -f "$d/server.pid" ]; then
      read -ra pids <"$d/server.pid" || true # no trailing newline
      kill -9 "${pids[@]}" 2>/dev/null || true
    fi
    if [ -d "$d/pg/data" ]; then
      if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d/pg/data" -m immediate stop >/dev/null 2>&1 || true
      else
        "$PGBIN/pg_ctl" -D "$d/pg/data" -m immediate stop >/dev/null 2>&1 || true
      fi
    fi
    rm -rf "$d"
  done
}
trap cleanup EXIT

step() {
  local title=$1 script=$2
  shift 2
  local d
  d=$(mktemp -d /tmp/headway-crash.XXXXXX)
  dirs+=("$d")
  echo "== $title"
  local start=$SECONDS
  if ! python3 "scripts/crash/$script" "$bin" "$d" "$@"; then
    echo "== FAILED: $title (server logs follow)" >&2
    tail -n 20 "$d"/server-*.log "$d/pg/server.log" 2>/dev/null >&2 || true
    exit 1
  fi
  echo "== ok ($((SECONDS - start)) s)"
}

step "SQLite: kill -9 during $TOTAL recordings" sqlite_kill9.py "$TOTAL" "$CRASH_AFTER"
step "PostgreSQL 15: pg_ctl stop -m immediate during $TOTAL recordings" postgres_immediate.py "$TOTAL" "$CRASH_AFTER"
step "SQLite under strace: sync before every answer that wrote ($TRACED recordings, $TRACED reads)" fsync_trace.py "$TRACED"
echo "all durability checks passed"
