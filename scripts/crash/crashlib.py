"""Shared pieces of the crash checks: the headway server as a child process, a small
HTTP client, the recording load, and the after-restart verification.

Python standard library only, so `make test-crash` needs nothing from pip.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

# A fixed signing key: tokens minted before the crash stay valid after the restart.
JWT_SECRET = "crash-test-signing-secret-0123456789-abcdefghijklmnop"
PASSWORD = "headway-demo-2026"
THERAPIST = "olivia.ot@riverside.example"
ADMIN = "admin@riverside.example"
CLIENT_NAME = "Maria Lopez"


class CheckFailed(Exception):
    """A durability promise did not hold."""


def say(msg):
    print(f"  {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def install_stop_handlers():
    """SIGTERM/SIGINT become an exception, so every `finally` cleans up."""

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


class Server:
    """The real `headway` binary, started as a child process.

    Its pid goes to `<workdir>/server.pid` as well, so the shell trap of
    `scripts/crash/run.sh` can end it if this script itself dies.
    """

    def __init__(self, binary, workdir, database_url, command="demo", wrap=None):
        self.binary = binary
        self.workdir = workdir
        self.database_url = database_url
        self.command = command
        self.wrap = wrap or []
        self.port = free_port()
        self.base = f"127.0.0.1:{self.port}"
        self.proc = None
        self.pids = []
        self.starts = 0

    def start(self):
        self.starts += 1
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            HEADWAY_LISTEN=self.base,
            HEADWAY_JWT_SECRET=JWT_SECRET,
            HEADWAY_LOG_FORMAT="json",
            RUST_LOG="warn",
        )
        log = open(os.path.join(self.workdir, f"server-{self.starts}.log"), "wb")
        self.proc = subprocess.Popen(
            self.wrap + [self.binary, self.command],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.pids = [self.proc.pid]
        self.record_pids()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CheckFailed(
                    f"server exited at start (code {self.proc.returncode}); "
                    f"see {self.workdir}/server-{self.starts}.log"
                )
            try:
                status, _ = Http(self.base).call("GET", "/readyz")
                if status == 200:
                    if self.wrap:
                        # A tracer that is stopped detaches and leaves its child
                        # running: keep the child's pid too, to end it first.
                        self.pids = self.children(self.proc.pid) + self.pids
                        self.record_pids()
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise CheckFailed("server did not become ready within 60 s")

    def record_pids(self):
        # For the shell trap of run.sh, should this script die without cleaning up.
        with open(os.path.join(self.workdir, "server.pid"), "w") as f:
            f.write(" ".join(map(str, self.pids)))

    @staticmethod
    def children(pid):
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        for pid in self.pids[:-1]:  # a wrapped server: the server itself first
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Http:
    """One keep-alive connection; reconnects after a failure."""

    def __init__(self, base, token=None):
        self.base = base
        self.token = token
        self.conn = None
        self.last_used = 0.0

    def call(self, method, path, body=None, form=None, timeout=30):
        headers = {}
        data = None
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        # The server closes keep-alive connections idle for 5 s; start afresh rather
        # than send into a closed one (a worker may sit idle through an outage).
        if self.conn is not None and time.monotonic() - self.last_used > 4:
            self.close()
        if self.conn is None:
            host, port = self.base.split(":")
            self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
            self.last_used = time.monotonic()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return r.status, parsed

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def sign_in(base, email):
    status, body = Http(base).call(
        "POST",
        "/api/v1/auth/token",
        form={"grant_type": "password", "username": email, "password": PASSWORD},
    )
    if status != 200:
        raise CheckFailed(f"sign-in of {email} answered {status}: {body}")
    return body["access_token"]


def expect(status, body, want, what):
    if status != want:
        raise CheckFailed(f"{what}: expected {want}, got {status}: {body}")
    return body


class Clinic:
    """The demo therapist, the admin, Maria, and a fresh episode to record in."""

    def __init__(self, base):
        self.therapist = sign_in(base, THERAPIST)
        self.admin = sign_in(base, ADMIN)
        api = Http(base, self.admin)
        _, clients = api.call("GET", "/api/v1/clients?limit=100")
        self.client_id = next(
            c["id"] for c in clients["items"] if c["name"] == CLIENT_NAME
        )
        api = Http(base, self.therapist)
        self.episode_id = expect(
            *api.call(
                "POST",
                f"/api/v1/clients/{self.client_id}/episodes",
                body={"reason_for_referral": "Stroke, left hemiparesis"},
            ),
            201,
            "open an episode",
        )["id"]

    @property
    def recording_path(self):
        return f"/api/v1/clients/{self.client_id}/episodes/{self.episode_id}/measurements"


class Load:
    """Fires `total` recording POSTs with `concurrency` workers (each its own
    keep-alive connection). `on_acknowledged(n)` runs in the worker that received
    the n-th 2xx, so a crash can be set off at an exact count while the rest of
    the requests are still in flight."""

    def __init__(self, base, token, path, total, concurrency, on_acknowledged):
        self.base, self.token, self.path = base, token, path
        self.total, self.concurrency = total, concurrency
        self.on_acknowledged = on_acknowledged
        self.lock = threading.Lock()
        self.local = threading.local()
        self.acknowledged = []  # measurement ids that got a 2xx
        self.statuses = {}  # status (or "no answer") -> count
        self.sent = 0
        self.in_flight = 0
        self.in_flight_at_crash = None
        self.no_answer = {}  # exception name -> count
        self.started = time.monotonic()
        self.seconds = None

    def crash_moment(self):
        """Call from on_acknowledged, just before crashing: notes what is in flight."""
        with self.lock:
            self.in_flight_at_crash = self.in_flight

    def one(self, n):
        api = getattr(self.local, "api", None)
        if api is None:
            api = self.local.api = Http(self.base, self.token)
        with self.lock:
            self.sent += 1
            self.in_flight += 1
        try:
            status, body = api.call(
                "POST",
                self.path,
                body={"measure_code": "nrs", "values": {"value": n % 11}},
                timeout=30,
            )
        except (OSError, http.client.HTTPException) as e:
            status, body = "no answer", None
            with self.lock:
                self.no_answer[type(e).__name__] = self.no_answer.get(type(e).__name__, 0) + 1
        count = None
        with self.lock:
            self.in_flight -= 1
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if isinstance(status, int) and 200 <= status < 300:
                self.acknowledged.append(body["id"])
                count = len(self.acknowledged)
        if count is not None:
            self.on_acknowledged(count)

    def run(self):
        with ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(self.one, range(self.total)))
        self.seconds = time.monotonic() - self.started
        return self


def fetch_all(base, token, ids, what, concurrency=16):
    """GETs each id's path; returns the ids that did not answer 200."""
    local = threading.local()

    def get(path):
        api = getattr(local, "api", None)
        if api is None:
            api = local.api = Http(base, token)
        status, body = api.call("GET", path)
        return status == 200, body

    missing = []
    with ThreadPoolExecutor(concurrency) as pool:
        for (key, path), (ok, _) in zip(ids, pool.map(lambda kp: get(kp[1]), ids)):
            if not ok:
                missing.append(key)
    return missing


def audit_events(base, admin_token, client_id, action):
    """Every audit event of `action` on a client, as the admin's audit search gives them."""
    api = Http(base, admin_token)
    events, after = [], ""
    while True:
        status, page = api.call(
            "GET",
            f"/api/v1/audit-events?client_id={client_id}&action={action}&limit=100{after}",
        )
        expect(status, page, 200, "audit search")
        events.extend(page["items"])
        if not page.get("next_cursor"):
            return events
        after = f"&after={page['next_cursor']}"


def verify_acknowledged(base, clinic, acknowledged):
    """Every recording that got a 2xx is readable by id and has its success audit
    event. Returns (recordings found in the episode, audit events of recordings)."""
    api = Http(base, clinic.therapist)
    paths = [
        (mid, f"/api/v1/clients/{clinic.client_id}/measurements/{mid}")
        for mid in acknowledged
    ]
    missing = fetch_all(base, clinic.therapist, paths, "recording")
    if missing:
        raise CheckFailed(
            f"{len(missing)} acknowledged recording(s) lost after restart, e.g. {missing[:3]}"
        )
    events = audit_events(base, clinic.admin, clinic.client_id, "measurement.record")
    audited = {
        e["resource_id"] for e in events if e["outcome"] == "success"
    }
    unaudited = [m for m in acknowledged if m not in audited]
    if unaudited:
        raise CheckFailed(
            f"{len(unaudited)} acknowledged recording(s) have no audit event, e.g. {unaudited[:3]}"
        )
    # Everything stored in the episode (including writes committed just before the
    # crash whose answer never arrived): each must have its audit event too.
    stored, after = [], ""
    while True:
        status, page = api.call(
            "GET", f"{clinic.recording_path}?history=true&limit=100{after}"
        )
        expect(status, page, 200, "list recordings")
        stored.extend(m["id"] for m in page["items"])
        if not page.get("next_cursor"):
            break
        after = f"&after={page['next_cursor']}"
    orphans = [m for m in stored if m not in audited]
    if orphans:
        raise CheckFailed(
            f"{len(orphans)} stored recording(s) without an audit event, e.g. {orphans[:3]}"
        )
    return len(stored), len(audited)


def report_load(load):
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(load.statuses.items(), key=str))
    say(f"sent {load.sent} of {load.total} in {load.seconds:.1f} s; answers {statuses}")
    if load.no_answer:
        say(f"no answer, by error: {load.no_answer}")
    say(f"2xx: {len(load.acknowledged)}; in flight when the crash was set off: {load.in_flight_at_crash}")


def main_guard(fn):
    install_stop_handlers()
    try:
        fn()
    except CheckFailed as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    except subprocess.CalledProcessError as e:
        print(f"FAIL: {' '.join(map(str, e.cmd))} exited {e.returncode}", file=sys.stderr, flush=True)
        sys.exit(1)
