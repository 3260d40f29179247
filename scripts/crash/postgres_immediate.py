#!/usr/bin/env python3
"""PostgreSQL, `pg_ctl stop -m immediate` mid-load (fsync=on): every recording that
got a 2xx survives crash recovery with its audit event, and pg_amcheck finds the
tables and indexes sound.

usage: postgres_immediate.py BINARY WORKDIR [TOTAL] [STOP_AFTER]

WORKDIR/pg holds the throwaway cluster; `scripts/crash/run.sh` stops it on exit.
"""

import os
import subprocess
import sys
import threading
import time

from crashlib import (
    CheckFailed,
    Clinic,
    Http,
    Load,
    Server,
    free_port,
    main_guard,
    report_load,
    say,
    verify_acknowledged,
)

PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")


def as_postgres(*cmd, **kw):
    """PostgreSQL refuses to run as root: run its tools as the postgres user."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + list(cmd), check=True, **kw)


class Cluster:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "pg")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        # The postgres user must be able to reach its directory inside WORKDIR.
        os.chmod(workdir, 0o755)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            subprocess.run(["chown", "postgres", self.dir], check=True)
        as_postgres(
            f"{PGBIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
            "-E", "UTF8", stdout=subprocess.DEVNULL,
        )

    def start(self):
        # fsync and synchronous_commit are on (the defaults), spelled out: that is
        # what makes a commit durable, and what this check relies on.
        as_postgres(
            f"{PGBIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
            "-w", "-o",
            f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=on "
            f"-c synchronous_commit=on -c full_page_writes=on -c max_connections=200",
            "start", stdout=subprocess.DEVNULL,
        )

    def stop_immediate(self):
        as_postgres(f"{PGBIN}/pg_ctl", "-D", self.data, "-m", "immediate", "stop",
                    stdout=subprocess.DEVNULL)

    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/headway"

    def log(self):
        with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
            return f.read()


def wait_for_writes(base, token, client_id, seconds=30):
    """After PostgreSQL comes back, the running server recovers on its own: its
    pool checks connections on checkout and its writer reconnects after a failed
    commit. Probes with an audited read (which goes through the writer) until one
    succeeds; returns how many probes failed first."""
    api = Http(base, token)
    failed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status, _ = api.call("GET", f"/api/v1/clients/{client_id}")
            if status == 200:
                return failed
        except OSError:
            pass
        failed += 1
        time.sleep(0.2)
    return None


def main():
    binary, workdir = sys.argv[1], sys.argv[2]
    total = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    stop_after = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    cluster = Cluster(workdir)
    cluster.start()
    as_postgres(f"{PGBIN}/createdb", "-h", "127.0.0.1", "-p", str(cluster.port),
                "-U", "postgres", "headway")
    server = Server(binary, workdir, cluster.url())
    try:
        server.start()
        clinic = Clinic(server.base)
        stopped = threading.Event()

        outage = {}

        def crash(count):
            if count == stop_after and not stopped.is_set():
                load.crash_moment()
                down = time.monotonic()
                cluster.stop_immediate()
                outage["stop"] = time.monotonic() - down
                stopped.set()
                # Back after a second, while the rest of the load is still coming:
                # recovery under load, and no waiting out connection timeouts.
                time.sleep(1)
                cluster.start()
                outage["seconds"] = time.monotonic() - down

        load = Load(
            server.base, clinic.therapist, clinic.recording_path, total, 64, crash
        )
        load.run()
        if not stopped.is_set():
            raise CheckFailed(f"only {len(load.acknowledged)} 2xx: the stop never fired")
        report_load(load)
        # Not a durability promise, but worth seeing: a request caught mid-query by the
        # outage should hear 503 (try again), not 500.
        internal = load.statuses.get(500, 0)
        if internal:
            say(f"WARNING: {internal} request(s) caught by the outage answered 500, not 503")

        if "database system was not properly shut down" not in cluster.log():
            raise CheckFailed("PostgreSQL did not run crash recovery after the restart")
        say(f"PostgreSQL stopped in {outage['stop']:.1f} s, was down {outage['seconds']:.1f} s in all, and ran crash recovery (WAL redo) on restart")
        failed = wait_for_writes(server.base, clinic.therapist, clinic.client_id)
        if failed is None:
            # Not a durability failure, but worth knowing: say so and restart it.
            say("WARNING: the server did not recover on its own within 30 s; restarting it")
            server.stop()
            server.start()
        else:
            say(f"the running server recovered by itself ({failed} probe(s) answered 503 first)")
        stored, audited = verify_acknowledged(server.base, clinic, load.acknowledged)
        say(
            f"after recovery: {len(load.acknowledged)} of {len(load.acknowledged)} "
            f"acknowledged recordings read back by id, each with its audit event"
        )
        say(
            f"stored in the episode: {stored} ({stored - len(load.acknowledged)} committed "
            f"without a 2xx reaching the caller); recording audit events: {audited}"
        )
        # PostgreSQL's counterpart of PRAGMA integrity_check: heap and B-tree checks,
        # including that every heap tuple is in its indexes.
        as_postgres(
            f"{PGBIN}/pg_amcheck", "-h", "127.0.0.1", "-p", str(cluster.port),
            "-U", "postgres", "--install-missing", "--heapallindexed", "headway",
        )
        say("pg_amcheck --heapallindexed: no corruption")
    finally:
        server.stop()


if __name__ == "__main__":
    main_guard(main)
