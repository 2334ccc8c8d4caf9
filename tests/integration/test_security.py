"""Security properties of the real collector and CLI (docs/SECURITY.md): where socket
files may be created, who may send events and queries (credentials checked by the
kernel), the switch to an unprivileged user, every input bound crossed over the real
sockets, and that nothing a request or a sender chose can put a control character on
the reader's terminal.

Most tests need no Apache: they start modsec-observed with their own arguments and
send raw datagrams. The credential tests need root (to send as another user).
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from sandbox import VirtualHost, _stop_process, free_port, ring_for_tests, short_temp_dir

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")


class Daemon:
    """modsec-observed with exactly the given extra arguments, sockets in its own dir."""

    def __init__(self, binaries, *args: str, directory: Path | None = None,
                 event_socket: Path | None = None, query_socket: Path | None = None,
                 metrics_port: int | None = None) -> None:
        self.dir = directory or short_temp_dir("msosec")
        self.event_socket = event_socket or self.dir / "ev.sock"
        self.query_socket = query_socket or self.dir / "q.sock"
        self.cli = binaries.cli
        self.metrics_port = metrics_port
        self.log = self.dir / "collector.log"
        self.args = [str(binaries.daemon), "--event-socket", str(self.event_socket),
                     "--query-socket", str(self.query_socket), *ring_for_tests(list(args))]
        if metrics_port:
            self.args += ["--metrics-listen", f"127.0.0.1:{metrics_port}"]
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Daemon":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"modsec-observed exited {self.proc.returncode}:\n"
                                   + self.log_text())
            if self.event_socket.exists() and self.query_socket.exists() and \
                    "accepting events from" in self.log_text():
                return self
            time.sleep(0.05)
        raise RuntimeError("modsec-observed did not start:\n" + self.log_text())

    def run_to_exit(self, timeout: float = 10) -> tuple[int, str]:
        """For start-up refusals: the exit status and stderr."""
        done = subprocess.run(self.args, capture_output=True, text=True, timeout=timeout,
                              check=False)
        return done.returncode, done.stderr

    def stop(self) -> None:
        if self.proc is not None:
            _stop_process(self.proc, 10)
            self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def cli_run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.cli), "--socket", str(self.query_socket), *args],
                              capture_output=True, timeout=10, check=False, **kwargs)

    def health(self) -> dict:
        done = self.cli_run("health", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def send(self, *datagrams: bytes) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            for d in datagrams:
                s.sendto(d, str(self.event_socket))

    def wait_health(self, predicate, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            h = self.health()
            if predicate(h) or time.monotonic() > deadline:
                return h
            time.sleep(0.05)


@pytest.fixture
def daemons(binaries):
    """Start Daemons; all are stopped and their dirs removed at the end of the test."""
    made: list[Daemon] = []

    def make(*args: str, start: bool = True, **kwargs) -> Daemon:
        d = Daemon(binaries, *args, **kwargs)
        made.append(d)
        return d.start() if start else d

    yield make
    for d in made:
        d.stop()
        shutil.rmtree(d.dir, ignore_errors=True)


def event(vhost: str = "sec.test", **fields) -> dict:
    e = {"v": 1, "type": "request", "time_us": int(time.time() * 1e6), "vhost": vhost,
         "port": 80, "unique_id": "u1", "client": "192.0.2.1", "method": "GET", "path": "/",
         "status": 403, "protocol": "HTTP/1.1", "user_agent": "ua", "intercepted": True,
         "phase": 2, "scores": None,
         "findings": [{"id": "942100", "msg": "m", "severity": "CRITICAL", "pl": 1,
                       "phase": 2, "tags": ["attack-sqli"], "target": "ARGS:id",
                       "data": "d", "intercepted": True, "truncated": False}]}
    e.update(fields)
    return e


def encode(doc: dict) -> bytes:
    return json.dumps(doc).encode()


def run_as(uid: int, gid: int, action) -> int:
    """Runs `action()` in a forked child as uid/gid without supplementary groups;
    returns the child's pid once it has finished."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return pid


def metric(port: int, name: str) -> float:
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


# ------------------------------------------------------------- socket placement

@pytest.mark.parametrize("which", ["event", "query"])
def test_refuses_symlinked_socket_path(daemons, which):
    d = daemons(start=False)
    victim = d.dir / "victim"
    victim.write_text("keep")
    link = d.event_socket if which == "event" else d.query_socket
    link.symlink_to(victim)
    status, stderr = d.run_to_exit()
    assert status == 1, stderr
    assert f"{link} is a symbolic link; refusing" in stderr
    assert victim.read_text() == "keep" and link.is_symlink()
    assert not (d.query_socket if which == "event" else d.event_socket).exists()


def test_refuses_existing_non_socket_file(daemons):
    d = daemons(start=False)
    d.event_socket.write_text("keep")
    status, stderr = d.run_to_exit()
    assert status == 1, stderr
    assert f"{d.event_socket} exists and is not a socket; refusing to replace it" in stderr
    assert d.event_socket.read_text() == "keep"


@pytest.mark.parametrize("mode, refused", [(0o777, True), (0o1777, False)])
def test_world_writable_directory_needs_the_sticky_bit(daemons, mode, refused):
    base = short_temp_dir("msosec")
    shared = base / "shared"
    shared.mkdir()
    shared.chmod(mode)
    d = daemons(start=False, directory=base, event_socket=shared / "ev.sock")
    if refused:
        status, stderr = d.run_to_exit()
        assert status == 1, stderr
        assert (f"{shared} is writable by every user and not sticky, so another user could "
                f"replace {shared}/ev.sock") in stderr
        assert not (shared / "ev.sock").exists() and not d.query_socket.exists()
    else:
        d.start()
        assert d.health()["datagrams"] == 0


def test_stale_socket_is_replaced(daemons):
    d = daemons(start=False)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(d.event_socket))
    stale.close()
    d.start()
    d.send(encode(event()))
    assert d.wait_health(lambda h: h["request_events"] == 1)["request_events"] == 1


# ------------------------------------------------------------- sender credentials

@needs_root
def test_event_senders_are_checked_by_credentials(daemons):
    port = free_port()
    d = daemons("--event-socket-mode", "0666", metrics_port=port)
    # The kernel lets anyone send (mode 0666); the collector decides by credentials.
    forged = encode(event("forged.test"))
    child = run_as(NOBODY, NOBODY, lambda: d.send(forged))
    d.send(encode(event("allowed.test")))
    h = d.wait_health(lambda h: h["request_events"] == 1 and h["rejected_senders"] == 1)
    assert (h["rejected_senders"], h["request_events"], h["malformed"]) == (1, 1, 0)
    vhosts = {v["vhost"] for v in json.loads(d.cli_run("stats", "--json").stdout)["vhosts"]}
    assert vhosts == {"allowed.test"}
    assert f"rejected a datagram from pid {child} uid {NOBODY} gid {NOBODY}" in d.log_text()
    assert metric(port, "modsec_observe_collector_rejected_senders_total") == 1

    # The default allows group www-data (Apache's), whatever the uid.
    try:
        import grp
        www_gid = grp.getgrnam("www-data").gr_gid
    except KeyError:
        return
    run_as(NOBODY, www_gid, lambda: d.send(encode(event("group.test"))))
    h = d.wait_health(lambda h: h["request_events"] == 2)
    assert (h["rejected_senders"], h["request_events"]) == (1, 2)


@needs_root
def test_allow_uid_and_gid_replace_the_default(daemons):
    d = daemons("--event-socket-mode", "0666", "--allow-uid", str(NOBODY),
                "--allow-gid", "4242")
    assert "accepting events from uids 0,65534 gids 4242" in d.log_text()
    run_as(NOBODY, NOBODY, lambda: d.send(encode(event("nobody.test"))))
    run_as(4343, 4242, lambda: d.send(encode(event("group.test"))))
    run_as(33, 33, lambda: d.send(encode(event("www.test"))))  # www-data no longer allowed
    h = d.wait_health(lambda h: h["request_events"] + h["rejected_senders"] == 3)
    assert (h["request_events"], h["rejected_senders"]) == (2, 1)


@needs_root
def test_sighup_reloads_the_allowlists(daemons):
    d = daemons(start=False)
    config = d.dir / "observed.conf"
    config.write_text("")
    d.args += ["--config", str(config), "--event-socket-mode", "0666",
               "--query-socket-mode", "0666"]
    d.start()
    as_nobody = dict(user=NOBODY, group=NOBODY, extra_groups=[])
    run_as(NOBODY, NOBODY, lambda: d.send(encode(event("before.test"))))
    assert d.wait_health(lambda h: h["rejected_senders"] == 1)["rejected_senders"] == 1
    assert d.cli_run("health", **as_nobody).returncode == 1

    def reload(text: str, expect: str) -> None:
        start = len(d.log_text())
        config.write_text(text)
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while expect not in d.log_text()[start:]:
            assert time.monotonic() < deadline, d.log_text()[start:]
            time.sleep(0.05)
        assert "kept until a restart" not in d.log_text()[start:]

    reload("allow-uid = nobody\nquery-allow-uid = nobody\n",
           "reload: accepting events from uids 0,65534 gids (none); queries from uids 0,65534 "
           "gids (none)")
    run_as(NOBODY, NOBODY, lambda: d.send(encode(event("after.test"))))
    h = d.wait_health(lambda h: h["request_events"] == 1)
    assert (h["request_events"], h["rejected_senders"]) == (1, 1)
    assert d.cli_run("health", **as_nobody).returncode == 0

    # An unknown user keeps the running lists.
    reload("allow-uid = no-such-user-mso\n",
           "reload: allowlists not applied, keeping the running ones")
    run_as(NOBODY, NOBODY, lambda: d.send(encode(event("kept.test"))))
    h = d.wait_health(lambda h: h["request_events"] == 2)
    assert (h["request_events"], h["rejected_senders"]) == (2, 1)
    assert d.proc.poll() is None


def test_unknown_allowed_user_is_a_usage_error(daemons):
    d = daemons("--allow-uid", "no-such-user-mso", start=False)
    status, stderr = d.run_to_exit()
    assert status == 2
    assert "--allow-uid/--allow-gid: unknown user no-such-user-mso" in stderr


@needs_root
def test_query_clients_are_checked_by_credentials(daemons, binaries):
    d = daemons("--query-socket-mode", "0666")
    as_nobody = dict(user=NOBODY, group=NOBODY, extra_groups=[])
    done = d.cli_run("health", "--json", **as_nobody)
    assert done.returncode == 1
    assert b"not allowed to query this collector (uid 65534 gid 65534)" in done.stderr
    assert d.health()["rejected_query_peers"] == 1

    allowed = daemons("--query-socket-mode", "0666", "--query-allow-uid", "nobody")
    done = allowed.cli_run("health", "--json", **as_nobody)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rejected_query_peers"] == 0


# ------------------------------------------------------------- privilege drop

def proc_ids(pid: int) -> dict[str, list[int]]:
    ids = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Uid", "Gid", "Groups"):
            ids[key] = [int(v) for v in value.split()]
    return ids


@needs_root
def test_user_drops_privileges_and_keeps_working(daemons):
    base = short_temp_dir("msosec")
    state = base / "state"
    state.mkdir(mode=0o700)
    os.chown(state, NOBODY, NOBODY)
    d = daemons("--user", "nobody", "--state-dir", str(state), directory=base)
    assert "running as user nobody (uid 65534, gid 65534)" in d.log_text()
    ids = proc_ids(d.proc.pid)
    assert ids["Uid"] == [NOBODY] * 4 and ids["Gid"] == [NOBODY] * 4
    assert 0 not in ids["Groups"]
    # The sockets were made as root and keep their owner and mode.
    assert d.event_socket.stat().st_uid == 0
    d.send(encode(event("after-drop.test")))
    h = d.wait_health(lambda h: h["request_events"] == 1)
    assert h["request_events"] == 1
    d.stop()
    saved = state / "state.json"
    assert saved.stat().st_uid == NOBODY
    assert "after-drop.test" in saved.read_text()


@needs_root
def test_user_needs_a_writable_state_dir(daemons):
    base = short_temp_dir("msosec")
    state = base / "state"
    state.mkdir(mode=0o700)  # root's
    d = daemons("--user", "nobody", "--state-dir", str(state), directory=base, start=False)
    status, stderr = d.run_to_exit()
    assert status == 1
    assert f"--state-dir {state} is not writable by user nobody" in stderr


def test_unknown_user_is_a_usage_error(daemons):
    d = daemons("--user", "no-such-user-mso", start=False)
    status, stderr = d.run_to_exit()
    assert (status, "--user: unknown user no-such-user-mso" in stderr) == (2, True)


# ------------------------------------------------------------- input bounds

MAX_DATAGRAM = 65536
MAX_FINDINGS = 256
MAX_FIELD = 4096
MAX_DEPTH = 16
MAX_QUERY_LINE = 65536
MAX_QUERY_CLIENTS = 64


def test_short_datagram_queue_is_warned_shown_and_read_without_rests(daemons):
    """The kernel queues at most net.unix.max_dgram_qlen + 1 datagrams on the event socket
    (read when the socket is created). With the packaged 8,192 the loop rests 1-20 ms after
    a drain that emptied the socket, aiming at about 16 datagrams per wake-up; below 512
    (the kernel's default is 10) a rest would overflow the queue, so the collector warns
    and reads on every datagram. `health` shows which. The short queue is a new network
    namespace's own default (`unshare --net`): nothing on the host changes."""
    session_qlen = int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text())
    packaged = daemons()
    assert packaged.health()["event_socket"] == {"max_dgram_qlen": session_qlen,
                                                  "rests": session_qlen >= 512}
    assert ("net.unix.max_dgram_qlen is" in packaged.log_text()) == (session_qlen < 512)
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("a network namespace of its own needs unshare (util-linux) and root")
    short = daemons(start=False)
    short.args = ["unshare", "--net", "--", *short.args]  # execs the daemon: same pid
    short.start()  # returns once its sockets exist and it accepts events
    h = short.health()
    assert h["event_socket"] == {"max_dgram_qlen": 10, "rests": False}
    assert "net.unix.max_dgram_qlen is 10" in short.log_text()
    assert "reads it on every datagram" in short.log_text()
    # Still a collector: what a blocking sender sends is all counted.
    short.send(*[json.dumps(event(unique_id=f"q{i}")).encode() for i in range(50)])
    h = short.wait_health(lambda h: h["request_events"] >= 50)
    assert (h["request_events"], h["malformed"]) == (50, 0)


def test_datagram_bounds_are_counted_not_parsed(daemons):
    d = daemons()
    finding = event()["findings"][0]
    fits = [
        encode(event("findings.test", findings=[finding] * MAX_FINDINGS)),
        encode(event("string.test", path="/" + "p" * (MAX_FIELD - 1))),
        encode(event("depth.test", extra=json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)))),
    ]
    too_big = encode(event("big.test", user_agent="u" * 40000, path="/" + "p" * 30000))
    assert len(too_big) > MAX_DATAGRAM
    over = [
        too_big,
        encode(event("findings.test", findings=[finding] * (MAX_FINDINGS + 1))),
        encode(event("string.test", path="/" + "p" * MAX_FIELD)),
        encode(event("depth.test", extra=json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH))),
        b"[" * 32000 + b"]" * 32000,  # a recursive parser would overflow its stack
    ]
    d.send(*fits, *over)
    h = d.wait_health(lambda h: h["datagrams"] == len(fits) + len(over))
    assert h["request_events"] == len(fits)
    assert h["malformed_by_reason"] == {"too_large": 1, "out_of_bounds": 4}
    log = d.log_text()
    assert f"malformed datagram (too_large): {len(too_big)} bytes" in log
    assert f"nesting deeper than {MAX_DEPTH} levels" in log
    assert f"malformed datagram (out_of_bounds): more than {MAX_FINDINGS} findings" in log
    assert 'malformed datagram (out_of_bounds): field "path" is too large' in log
    vhosts = {v["vhost"] for v in json.loads(d.cli_run("stats", "--json").stdout)["vhosts"]}
    assert vhosts == {"findings.test", "string.test", "depth.test"}


def query_connection(d: Daemon) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(d.query_socket))
    return s


def read_until_closed(s: socket.socket) -> bytes:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


def test_query_line_too_long_is_answered_and_closed(daemons):
    d = daemons()
    with query_connection(d) as s:
        s.sendall(b'{"cmd":"health"}\n')  # a line within the limit is answered
        s.sendall(b"x" * (MAX_QUERY_LINE + 1))
        answers = read_until_closed(s).decode().splitlines()
    assert json.loads(answers[0])["ok"] is True
    assert json.loads(answers[1]) == {
        "ok": False, "error": f"request line too long (more than {MAX_QUERY_LINE} bytes)"}
    assert len(answers) == 2
    assert d.health()["bad_queries"] == 1


def test_query_clients_beyond_the_limit_are_refused(daemons):
    d = daemons()
    clients = [query_connection(d) for _ in range(MAX_QUERY_CLIENTS)]
    try:
        for c in clients:  # each one is served
            c.sendall(b'{"cmd":"health"}\n')
            assert json.loads(c.makefile().readline())["ok"] is True
        with query_connection(d) as extra:
            refused = read_until_closed(extra).decode()
        assert json.loads(refused) == {
            "ok": False, "error": f"too many query clients (at most {MAX_QUERY_CLIENTS})"}
        clients[0].sendall(b'{"cmd":"health"}\n')
        assert json.loads(clients[0].makefile().readline())["refused_clients"] == 1
    finally:
        for c in clients:
            c.close()
    assert "refused a query client: 64 clients already connected" in d.log_text()


def test_bad_input_log_lines_are_rate_limited(daemons):
    d = daemons()
    d.send(*[b"not json %d" % i for i in range(1000)])
    h = d.wait_health(lambda h: h["malformed"] == 1000)
    assert h["malformed_by_reason"] == {"not_json": 1000}
    lines = [l for l in d.log_text().splitlines() if "malformed datagram" in l]
    assert len(lines) == 5, lines  # RateLimiter: 5 lines per 10 s window
    time.sleep(10.5)  # the next window
    d.send(b"not json again")
    d.wait_health(lambda h: h["malformed"] == 1001)
    deadline = time.monotonic() + 60
    while "995 similar messages suppressed" not in d.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "modsec-observed: 995 similar messages suppressed" in d.log_text()


# ------------------------------------------------------------- terminal escaping

# ESC sequences (CSI colour, OSC title), 8-bit CSI as U+009B, NEL, other C0 controls,
# DEL, a bidi override, and a newline that could forge a table row.
HOSTILE = "\x1b[31mred\x1b]0;title\x07\u009b2J\u0085x\x00\x08\r\n\x7f\u202eevil"
FORBIDDEN = ({chr(c) for c in range(0x20)} | {"\x7f"} | {chr(c) for c in range(0x80, 0xa0)}
             | {chr(c) for c in range(0x202a, 0x202f)} | {chr(c) for c in range(0x2066, 0x206a)}
             | {"\u2028", "\u2029"})


def hostile_event() -> dict:
    e = event("vh" + HOSTILE, client="192.0.2.9" + HOSTILE, method="GET" + HOSTILE,
              path="/p" + HOSTILE, user_agent="ua" + HOSTILE, unique_id="id" + HOSTILE,
              protocol="HTTP/1.1" + HOSTILE)
    e["findings"] = [{"id": "9421" + HOSTILE, "msg": "msg" + HOSTILE,
                      "severity": "CRITICAL" + HOSTILE, "pl": 1, "phase": 2,
                      "tags": ["tag" + HOSTILE], "target": "ARGS:" + HOSTILE,
                      "data": "Matched Data: " + HOSTILE, "intercepted": True,
                      "truncated": False}]
    return e


def assert_terminal_safe(output: bytes, what: str, allowed: str = "\n") -> None:
    text = output.decode("utf-8")  # also: valid UTF-8
    bad = sorted({c for c in text if c in FORBIDDEN and c not in allowed})
    assert not bad, f"{what}: raw control characters {[hex(ord(c)) for c in bad]} in {text!r}"


def run_on_pty(args: list[str], timeout: float = 10) -> bytes:
    """stdout of `args` on a pseudo-terminal (the CLI escapes more for a terminal)."""
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    assert proc.returncode == 0, (args, out)
    return out


QUERIES = [("vhosts",), ("stats",), ("rules",), ("top", "clients"), ("top", "paths"),
           ("top", "agents"), ("top", "targets"), ("timeseries",), ("events",), ("health",)]


def test_cli_never_prints_control_characters_from_events(daemons):
    d = daemons()
    d.send(encode(hostile_event()))
    d.wait_health(lambda h: h["request_events"] == 1)
    cli = [str(d.cli), "--socket", str(d.query_socket)]
    for query in QUERIES:
        table = d.cli_run(*query)
        assert table.returncode == 0, (query, table.stderr)
        assert_terminal_safe(table.stdout, " ".join(query))
        assert_terminal_safe(run_on_pty(cli + list(query)), "tty " + " ".join(query),
                             allowed="\r\n")
        # --json to a pipe is for programs: JSON-escaped C0 controls, exact values.
        piped = d.cli_run(*query, "--json")
        assert piped.returncode == 0, (query, piped.stderr)
        assert not any(b < 0x20 and b != 0x0A for b in piped.stdout), (query, piped.stdout)
        json.loads(piped.stdout)
        # --json on a terminal: non-ASCII escaped too (C1 controls, bidi overrides).
        on_tty = run_on_pty(cli + list(query) + ["--json"])
        assert all(b < 0x80 for b in on_tty), (query, on_tty)
        assert_terminal_safe(on_tty, "tty --json " + " ".join(query), allowed="\r\n")
        assert json.loads(on_tty) == json.loads(piped.stdout) or query == ("health",)

    events = json.loads(d.cli_run("events", "--json").stdout)["events"]
    assert events[0]["path"] == "/p" + HOSTILE and events[0]["user_agent"] == "ua" + HOSTILE
    assert events[0]["rules"][0]["data"] == "Matched Data: " + HOSTILE
    assert "\\u001b" in d.cli_run("events", "--json").stdout.decode()

    # The live view: its own screen-clearing sequence on a terminal, nothing else.
    live = run_on_pty(cli + ["top", "--iterations", "1"])
    assert live.startswith(b"\x1b[H\x1b[2J")
    assert_terminal_safe(live[len(b"\x1b[H\x1b[2J"):], "tty top (live)", allowed="\r\n")
    piped_live = d.cli_run("top", "--iterations", "1")
    assert_terminal_safe(piped_live.stdout, "top (live)")


@pytest.mark.parametrize("as_json", [False, True])
def test_tail_never_prints_control_characters(daemons, as_json):
    d = daemons()
    args = [str(d.cli), "--socket", str(d.query_socket), "tail"] + (["--json"] if as_json else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Events sent before the tail client is registered are not streamed: send until
        # one arrives (the table starts with a header line).
        lines: list[bytes] = []
        deadline = time.monotonic() + 60
        while len(lines) < (1 if as_json else 2):
            assert time.monotonic() < deadline, lines
            d.send(encode(hostile_event()))
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                lines.append(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    out = b"".join(lines)
    if as_json:
        assert not any(b < 0x20 and b != 0x0A for b in out), out
        assert json.loads(lines[0])["path"] == "/p" + HOSTILE
    else:
        assert_terminal_safe(out, "tail")
        assert b"\\u001b" in out or b"\\x1b" in out or b"\\e" in out, out


def test_percent_encoded_escapes_through_apache(stack_factory):
    """Apache answers raw ESC bytes in the request line with 400; percent-encoded ones
    pass, and the module reports the path as sent: the CLI shows them as text."""
    vhost = VirtualHost("esc.test", "DetectionOnly",
                        extra="    ModSecObserveEvents all\n    ModSecObserveQueryString On")
    stack = stack_factory(vhosts=[vhost])
    try:
        # http.client refuses to send control characters; a raw socket does not.
        with socket.create_connection(("127.0.0.1", stack.apache.port), timeout=20) as s:
            s.sendall(b"GET /\x1b[31mraw HTTP/1.1\r\nHost: esc.test\r\n"
                      b"Connection: close\r\n\r\n")
            status_line = s.makefile("rb").readline()
        assert status_line.split()[1] == b"400", status_line
        path = "/a%1b[31mred%1b]0;title%07%c2%9b2J%7f"
        query = "q=%1b[2J%0d%0ax"
        resp = stack.apache.request("esc.test", f"{path}?{query}")
        assert resp.status == 404
        deadline = time.monotonic() + 10
        while True:
            events = [e for e in stack.events() if e["path"] == path]
            if events or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert events and events[0]["query"] == query
        for args in (("events",), ("top", "paths"), ("events", "--json")):
            done = subprocess.run([str(stack.collector.cli), "--socket",
                                   str(stack.collector.query_socket), *args],
                                  capture_output=True, timeout=10, check=False)
            assert done.returncode == 0, done.stderr
            assert_terminal_safe(done.stdout, " ".join(args))
            assert b"%1b[31mred" in done.stdout
    finally:
        from sandbox import stop_stack
        stop_stack(stack, keep=False)
