#!/usr/bin/env python3
"""SQLite, kill -9 mid-load: every recording that got a 2xx survives with its audit
event, and the database passes `PRAGMA integrity_check`.

usage: sqlite_kill9.py BINARY WORKDIR [TOTAL] [KILL_AFTER]
"""

import os
import sqlite3
import sys
import threading

from crashlib import (
    CheckFailed,
    Clinic,
    Load,
    Server,
    main_guard,
    report_load,
    say,
    verify_acknowledged,
)


def main():
    binary, workdir = sys.argv[1], sys.argv[2]
    total = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    kill_after = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    db_file = os.path.join(workdir, "headway.db")
    server = Server(binary, workdir, f"sqlite://{db_file}")
    try:
        server.start()
        clinic = Clinic(server.base)
        killed = threading.Event()

        def crash(count):
            if count == kill_after and not killed.is_set():
                load.crash_moment()
                server.kill9()
                killed.set()

        load = Load(
            server.base, clinic.therapist, clinic.recording_path, total, 64, crash
        )
        load.run()
        if not killed.is_set():
            raise CheckFailed(f"only {len(load.acknowledged)} 2xx: the kill never fired")
        report_load(load)
        if load.sent >= total and load.in_flight_at_crash == 0:
            raise CheckFailed("nothing was in flight at the kill")

        # The same database, a new process; tokens from before still verify.
        server.start()
        stored, audited = verify_acknowledged(server.base, clinic, load.acknowledged)
        say(
            f"after restart: {len(load.acknowledged)} of {len(load.acknowledged)} "
            f"acknowledged recordings read back by id, each with its audit event"
        )
        say(
            f"stored in the episode: {stored} (the {stored - len(load.acknowledged)} "
            f"beyond the 2xx committed but their answers died with the process); "
            f"recording audit events: {audited}"
        )
        # A reader alongside the live server, as WAL allows.
        with sqlite3.connect(db_file) as db:
            result = [r[0] for r in db.execute("PRAGMA integrity_check")]
        if result != ["ok"]:
            raise CheckFailed(f"PRAGMA integrity_check: {result[:5]}")
        say("PRAGMA integrity_check: ok")
    finally:
        server.stop()


if __name__ == "__main__":
    main_guard(main)
