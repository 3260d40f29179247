#!/usr/bin/env python3
"""Every 2xx that wrote something left only after the fsync of its commit.

Runs the server on SQLite under strace, sends N recordings and N audited reads one
after another on one connection, and checks in the trace that for each 2xx the order
was: request read from the socket -> database write (pwrite64 of the WAL) -> its
fsync/fdatasync completed -> response written to the socket.

usage: fsync_trace.py BINARY WORKDIR [N]
"""

import os
import re
import sys

from crashlib import CheckFailed, Clinic, Http, Server, expect, main_guard, say

SYSCALLS = "openat,close,read,recvfrom,pwrite64,fsync,fdatasync,write,writev,sendto,sendmsg"

# strace -f -tt lines: "PID HH:MM:SS.uuuuuu name(args) = ret", split by
# "<unfinished ...>" / "<... name resumed>" when threads interleave.
LINE = re.compile(r"^(\d+)\s+\S+\s+(.*)$")
CALL = re.compile(r"^(\w+)\((\d+)?(.*)$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
RESULT = re.compile(r"=\s+(-?\d+)")


def events(trace_path):
    """(kind, pid, name, fd, text, ret) in trace order; a call split across lines is
    reported at its start ("enter", with its arguments) and its end ("exit", with the
    return value), so a sync counts only once it has returned."""
    pending = {}  # pid -> (name, fd, text) of an unfinished call
    with open(trace_path, errors="replace") as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            pid, rest = m.group(1), m.group(2)
            r = RESUMED.match(rest)
            if r:
                name, fd, text = pending.pop(pid, (r.group(1), None, ""))
                ret = RESULT.search(r.group(2))
                yield ("exit", pid, name, fd, text + r.group(2), int(ret.group(1)) if ret else None)
                continue
            c = CALL.match(rest)
            if not c:
                continue
            name, fd, text = c.group(1), c.group(2), c.group(3)
            fd = int(fd) if fd is not None else None
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (name, fd, text)
                yield ("enter", pid, name, fd, text, None)
            else:
                ret = RESULT.search(text.rsplit(")", 1)[-1] if ")" in text else text)
                value = int(ret.group(1)) if ret else None
                yield ("enter", pid, name, fd, text, None)
                yield ("exit", pid, name, fd, text, value)


def analyse(trace_path, db_file):
    db_fds = {}  # fd -> path, for the database and its WAL
    request = {}  # socket fd -> {"line": request line, "wrote": bool, "synced": bool}
    answered = []  # (request line, status, wrote, synced)
    synced_files = set()
    for kind, _pid, name, fd, text, ret in events(trace_path):
        if name == "openat" and kind == "exit" and ret is not None and ret >= 0:
            path = re.search(r'"([^"]*)"', text)
            if path and path.group(1).startswith(db_file):
                db_fds[ret] = path.group(1)
            else:
                db_fds.pop(ret, None)
        elif name == "close" and kind == "exit" and fd is not None:
            db_fds.pop(fd, None)
            request.pop(fd, None)
        elif name in ("read", "recvfrom") and kind == "exit" and fd is not None:
            head = re.search(r'"(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP/1\.1', text)
            if head:
                request[fd] = {"line": f"{head.group(1)} {head.group(2)}", "wrote": set(), "synced": False}
        elif name == "pwrite64" and kind == "enter" and fd in db_fds:
            for r in request.values():
                r["wrote"].add(fd)
        elif name in ("fsync", "fdatasync") and kind == "exit" and fd in db_fds and ret == 0:
            synced_files.add(os.path.basename(db_fds[fd]))
            # A sync counts for a request only if it is of a file the request's
            # commit wrote to after the request arrived.
            for r in request.values():
                if fd in r["wrote"]:
                    r["synced"] = True
        elif name in ("write", "writev", "sendto", "sendmsg") and kind == "enter" and fd in request:
            status = re.search(r'"HTTP/1\.1 (\d{3})', text)
            if status:
                r = request.pop(fd)
                answered.append((r["line"], int(status.group(1)), bool(r["wrote"]), r["synced"]))
    return answered, synced_files


def main():
    binary, workdir = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    db_file = os.path.join(workdir, "headway.db")
    trace = os.path.join(workdir, "strace.txt")
    server = Server(
        binary,
        workdir,
        f"sqlite://{db_file}",
        wrap=["strace", "-f", "-tt", "-s", "256", "-e", f"trace={SYSCALLS}", "-o", trace],
    )
    try:
        server.start()
        clinic = Clinic(server.base)
        api = Http(server.base, clinic.therapist)
        ids = []
        for i in range(n):
            body = expect(
                *api.call("POST", clinic.recording_path,
                          body={"measure_code": "nrs", "values": {"value": i % 11}}),
                201, "record",
            )
            ids.append(body["id"])
        for mid in ids:
            # Reads of client data write their audit event before answering.
            expect(*api.call("GET", f"/api/v1/clients/{clinic.client_id}/measurements/{mid}"),
                   200, "read back")
        api.close()
    finally:
        server.stop()

    answered, synced_files = analyse(trace, db_file)
    recordings = [a for a in answered if a[0].startswith("POST") and a[0].endswith("/measurements")]
    reads = [a for a in answered if a[0].startswith("GET") and "/measurements/" in a[0]]
    writing_2xx = [a for a in answered if 200 <= a[1] < 300 and a[2]]
    say(f"trace: {os.path.getsize(trace)} bytes, {len(answered)} HTTP responses seen on sockets")
    for label, group, want in (("recordings (POST, 201)", recordings, 201),
                               ("audited reads (GET, 200)", reads, 200)):
        ok = [a for a in group if a[1] == want]
        preceded = [a for a in ok if a[2] and a[3]]
        say(f"{label}: {len(ok)} responses, {len(preceded)} preceded by a WAL write and its sync")
        if len(ok) != n or len(preceded) != n:
            raise CheckFailed(f"{label}: expected {n} answers each after a sync")
    unsynced = [a for a in writing_2xx if not a[3]]
    say(f"every 2xx that wrote ({len(writing_2xx)} incl. sign-ins and the episode): "
        f"{len(writing_2xx) - len(unsynced)} preceded by a sync; files synced: {sorted(synced_files)}")
    if unsynced:
        raise CheckFailed(f"{len(unsynced)} 2xx left before the sync of their write: {unsynced[:3]}")


if __name__ == "__main__":
    main_guard(main)
