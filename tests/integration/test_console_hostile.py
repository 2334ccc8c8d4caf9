"""The console receiver against hostile and odd clients (python raw sockets and
http.client): bad Basic headers, unknown sensors, malformed, oversized and mismatched
bodies, slow clients that trickle bytes, many connections, the v3 route's tokens and
networks, repeated uploads. After each, the collector still stores a good entry, and each
refusal is counted by reason and sensor in `health` and in /metrics (checked by promtool).
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sandbox import Collector, free_port, repo_root, short_temp_dir

AUDIT = repo_root() / "tests" / "data" / "audit"
PROMTOOL = Path("/opt/mso-tools/prometheus/usr/bin/promtool")
WAIT = 60.0


def native_entries() -> list[bytes]:
    files = sorted(p for p in (AUDIT / "v2_native_concurrent" / "storage").rglob("*")
                   if p.is_file())
    return [p.read_bytes() for p in files]


def v3_json_entries() -> list[bytes]:
    return [line.encode() for line in (AUDIT / "v3_json.log").read_text().splitlines()
            if line.strip()]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Receiver:
    # The deadline cuts the slow clients of test_slow_clients_are_cut_and_others_served;
    # 10 s also leaves every honest upload of this file time on a busy machine.
    def __init__(self, binaries, extra: list[str] | None = None, deadline: int = 10) -> None:
        self.state = short_temp_dir("msoit-hst")
        self.files = short_temp_dir("msoit-hsf")
        self.port = free_port()
        self.metrics_port = free_port()
        sensors = self.files / "sensors"
        p = subprocess.run(["htpasswd", "-nbB", "web1", "pw1"], capture_output=True,
                           text=True, check=True)
        sensors.write_text(p.stdout)
        self.token = subprocess.run([str(binaries.daemon), "--new-token"], capture_output=True,
                                    text=True, check=True).stdout.strip()
        self.far_token = subprocess.run([str(binaries.daemon), "--new-token"],
                                        capture_output=True, text=True, check=True).stdout.strip()
        (self.files / "v3").write_text(f"# nginx sensors\nnginx1 {self.token} 127.0.0.0/8\n"
                                       f"faraway {self.far_token} 192.0.2.0/24\n")
        args = ["--state-dir", str(self.state), "--console-listen", f"127.0.0.1:{self.port}",
                "--sensors", str(sensors), "--v3-sensors", str(self.files / "v3"),
                "--console-max-body", "64K", "--console-deadline", str(deadline),
                "--console-workers", "4"] + (extra or [])
        self.collector = Collector(binaries.daemon, binaries.cli, extra_args=args,
                                   metrics_port=self.metrics_port)

    def start(self) -> "Receiver":
        self.collector.start()  # returns once its Unix sockets exist; the console comes next
        def accepts() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(accepts, "the console port to accept")
        return self

    def cleanup(self) -> None:
        self.collector.stop()
        for d in (self.state, self.files, self.collector.dir):
            shutil.rmtree(d, ignore_errors=True)

    def request(self, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def put(self, body: bytes, user: str = "web1", password: str = "pw1",
            extra: dict[str, str] | None = None) -> int:
        headers = {"Authorization": basic(user, password)}
        headers.update(extra or {})
        return self.request("PUT", "/rpc/auditLogReceiver", body, headers)[0]

    def upload(self, conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
        """A PUT of `body` as web1 on `conn`: (status, answer body)."""
        conn.request("PUT", "/rpc/auditLogReceiver", body=body,
                     headers={"Authorization": basic("web1", "pw1")})
        r = conn.getresponse()
        return r.status, r.read()

    def health(self) -> dict:
        p = self.collector.cli_run("health", "--json")
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)["console"]

    def refused(self, sensor: str, reason: str) -> int:
        return self.health()["sensors"].get(sensor, {}).get("refused", {}).get(reason, 0)

    def stored(self, sensor: str) -> int:
        return self.health()["sensors"].get(sensor, {}).get("stored", 0)


@pytest.fixture
def rx(binaries):
    r = Receiver(binaries).start()
    yield r
    r.cleanup()


def wait_for(condition, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def still_serves(rx: Receiver, entry: bytes) -> None:
    before = rx.stored("web1")
    assert rx.put(entry) == 200
    wait_for(lambda: rx.stored("web1") >= before + 1 or rx.health()["sensors"]["web1"]
             .get("duplicates", 0) > 0, "a good entry to be stored")


def test_bad_credentials_are_401_and_counted(rx):
    entry = native_entries()[0]
    cases = [
        {},                                              # none
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
        {"Authorization": basic("web1", "wrong")},
        {"Authorization": basic("nobody", "pw1")},
        {"Authorization": "Basic " + "A" * 6000},
    ]
    for headers in cases:
        status, body = rx.request("PUT", "/rpc/auditLogReceiver", entry, headers)
        assert status == 401, (headers, status)
        assert b"unauthorized" in body
    wait_for(lambda: rx.refused("-", "unauthorized") >= len(cases), "401s counted")
    assert rx.stored("web1") == 0
    still_serves(rx, entry)


def test_bodies_that_can_never_be_accepted_are_409(rx):
    entry = native_entries()[0]
    good_md5 = "md5:" + hashlib.md5(entry).hexdigest()
    assert rx.put(b"not an audit entry") == 409
    assert rx.put(b"") == 409
    assert rx.put(b"{\"transaction\": [}") == 409
    assert rx.put(entry[: len(entry) // 2]) == 409
    assert rx.put(entry, extra={"X-Content-Hash": "md5:" + "0" * 32}) == 409
    assert rx.put(entry, extra={"X-Content-Hash": "sha1:abc"}) == 409
    assert rx.put(b"--a1b2c3d4-A--\n" + b"x" * (70 * 1024)) == 409  # over --console-max-body
    wait_for(lambda: rx.refused("web1", "malformed") >= 4
             and rx.refused("web1", "hash_mismatch") >= 2
             and rx.refused("web1", "too_large") >= 1, "409s counted by reason")
    # mlogc's hash with its trailing junk is accepted.
    assert rx.put(entry, extra={"X-Content-Hash": good_md5 + " L"}) == 200


def test_same_entry_twice_is_stored_once(rx):
    entries = native_entries()
    for e in entries:
        assert rx.put(e) == 200
    for e in entries:
        assert rx.put(e) == 200
    wait_for(lambda: rx.health()["sensors"]["web1"]["duplicates"] >= len(entries),
             "duplicates counted")
    h = rx.health()["sensors"]["web1"]
    assert h["stored"] == len(entries) and h["duplicates"] == len(entries), h


def test_an_entry_older_than_the_store_keeps_is_409_and_counted(binaries):
    """The captured entries are from 2 Dec 2026: with --history-days 1 retention would
    delete them at its next step, so they are refused for good (409, which mlogc drops
    and logs) and counted, not stored and lost in silence."""
    r = Receiver(binaries, extra=["--history-days", "1"]).start()
    try:
        status, body = r.request("PUT", "/rpc/auditLogReceiver", native_entries()[0],
                                 {"Authorization": basic("web1", "pw1")})
        assert status == 409, (status, body)
        assert body == b"too_old: --history-days 1\n", body
        wait_for(lambda: r.refused("web1", "too_old") == 1, "the refusal counted")
        assert r.stored("web1") == 0
    finally:
        r.cleanup()


def test_other_paths_and_methods_are_404(rx):
    for method, path in [("GET", "/"), ("GET", "/rpc/auditLogReceiver"),
                         ("POST", "/rpc/auditLogReceiver"), ("PUT", "/v3/x"),
                         ("DELETE", "/rpc/auditLogReceiver")]:
        status, _ = rx.request(method, path, b"", {"Authorization": basic("web1", "pw1")})
        assert status == 404, (method, path, status)
    wait_for(lambda: rx.refused("-", "not_found") >= 5, "404s counted")


def test_v3_tokens_and_networks(rx):
    entry = v3_json_entries()[0]
    ctype = {"Content-Type": "application/json"}
    assert rx.request("POST", f"/v3/{rx.token}", entry, ctype)[0] == 200
    assert rx.request("POST", f"/v3/{rx.token[:-1]}", entry, ctype)[0] == 401
    assert rx.request("POST", f"/v3/{'0' * 64}", entry, ctype)[0] == 401
    assert rx.request("POST", "/v3/", entry, ctype)[0] in (401, 404)
    # A token whose sensor may only send from 192.0.2.0/24.
    assert rx.request("POST", f"/v3/{rx.far_token}", entry, ctype)[0] == 403
    assert rx.request("POST", f"/v3/{rx.token}", b"{", ctype)[0] == 409
    wait_for(lambda: rx.health()["sensors"].get("nginx1", {}).get("stored", 0) == 1,
             "the v3 entry stored")
    h = rx.health()["sensors"]
    assert h["faraway"]["refused"]["forbidden"] == 1, h
    assert h["nginx1"]["refused"]["malformed"] == 1, h
    # Sent again: stored once.
    assert rx.request("POST", f"/v3/{rx.token}", entry, ctype)[0] == 200
    wait_for(lambda: rx.health()["sensors"]["nginx1"].get("duplicates", 0) == 1,
             "the second send counted as duplicate")


def test_slow_clients_are_cut_and_others_served(rx):
    entry = native_entries()[0]
    slow = []
    # More tricklers than workers: each sends a byte of its headers every second.
    for _ in range(6):
        s = socket.create_connection(("127.0.0.1", rx.port), timeout=30)
        s.sendall(b"PUT /rpc/auditLogReceiver HTTP/1.1\r\n")
        slow.append(s)
    closed = set()
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and len(closed) < len(slow):
        for i, s in enumerate(slow):
            if i in closed:
                continue
            try:
                s.sendall(b"X")
            except OSError:
                closed.add(i)
        time.sleep(1)
    assert len(closed) == len(slow), f"only {len(closed)} of {len(slow)} slow clients cut"
    for s in slow:
        s.close()
    wait_for(lambda: rx.refused("-", "slow_client") >= 4, "slow clients counted")
    still_serves(rx, entry)


def test_many_connections_and_garbage(rx):
    entry = native_entries()[0]
    socks = []
    for _ in range(200):
        try:
            socks.append(socket.create_connection(("127.0.0.1", rx.port), timeout=5))
        except OSError:
            break
    for s in socks[:50]:
        try:
            s.sendall(b"\x00\xff garbage \r\n\r\n")
        except OSError:
            pass
    for s in socks:
        s.close()
    # Beyond the workers and the waiting room the receiver answers 503 at once (counted):
    # let it drop the closed connections before the next check, or it could be one more.
    wait_for(lambda: (lambda h: h["connections"] == 0 and h["waiting"] == 0)(rx.health()),
             "the closed connections to be let go")
    # A huge declared length with Expect: 100-continue is refused from its headers.
    s = socket.create_connection(("127.0.0.1", rx.port), timeout=30)
    s.sendall(b"PUT /rpc/auditLogReceiver HTTP/1.1\r\nAuthorization: " +
              basic("web1", "pw1").encode() +
              b"\r\nExpect: 100-continue\r\nContent-Length: 99999999999\r\n\r\n")
    s.settimeout(30)
    assert s.recv(100).startswith(b"HTTP/1.1 409")
    s.close()
    wait_for(lambda: rx.refused("web1", "too_large") >= 1, "too large counted")
    still_serves(rx, entry)


def test_connections_beyond_the_bound_are_refused_and_counted(binaries):
    """4 workers and 32 waiting: the connections beyond them are answered 503 (mlogc
    keeps the entry) and counted as too_many_connections, under the sensor when the
    request has its credentials and under "-" when the connection sent nothing; the
    waiting ones show in the `waiting` gauge. Then everything is served again."""
    r = Receiver(binaries, deadline=60).start()
    holders: list[socket.socket] = []
    stop = threading.Event()

    def trickle() -> None:
        # Keeps the workers' requests unfinished (a byte of a header every 2 s: within
        # the 10 s read timeout, far from the 60 s deadline).
        while not stop.wait(2):
            for s in list(holders):
                try:
                    s.sendall(b"X")
                except OSError:
                    pass

    def hold(n: int) -> None:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", r.port), timeout=30)
            s.sendall(b"PUT /rpc/auditLogReceiver HTTP/1.1\r\nX-Hold: ")
            holders.append(s)

    keeper = threading.Thread(target=trickle, daemon=True)
    keeper.start()
    try:
        entry = native_entries()[0]
        hold(4)  # the workers take these ...
        wait_for(lambda: r.health()["connections"] == 4 and r.health()["waiting"] == 0,
                 "four connections served")
        hold(32)  # ... and these wait for them
        wait_for(lambda: r.health()["waiting"] == 32, "32 connections waiting")
        status, _, text = r.collector.fetch_metrics()
        assert status == 200
        assert "modsec_observe_console_connections_waiting 32" in text
        # Beyond the bound: answered at once, counted under the sensor.
        answers = []
        for _ in range(3):
            conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=30)
            answers.append(r.upload(conn, entry))
            conn.close()
        assert [a[0] for a in answers] == [503] * 3, answers
        assert all(a[1].startswith(b"too_many_connections") for a in answers), answers
        # Connections beyond the bound that send nothing: counted under "-".
        for _ in range(2):
            socket.create_connection(("127.0.0.1", r.port), timeout=30).close()
        wait_for(lambda: r.refused("-", "too_many_connections") == 2,
                 "the silent connections counted")
        assert r.refused("web1", "too_many_connections") == 3
        assert r.stored("web1") == 0
        status, _, text = r.collector.fetch_metrics()
        assert ('modsec_observe_console_refused_total{sensor="web1",'
                'reason="too_many_connections"} 3') in text
        assert ('modsec_observe_console_refused_total{sensor="-",'
                'reason="too_many_connections"} 2') in text
        stop.set()
        keeper.join()
        for s in holders:
            s.close()
        wait_for(lambda: r.health()["waiting"] == 0, "nothing waiting")
        still_serves(r, entry)
        assert r.refused("web1", "too_many_connections") == 3
    finally:
        stop.set()
        for s in holders:
            s.close()
        r.cleanup()


def test_a_password_guessing_address_is_refused_and_counted(rx):
    """10 failed logins from one address within a minute: from then on it gets 429
    without a password check, even with the right password, each counted as
    login_blocked; a reload of the sensors (SIGHUP) forgets the failures."""
    entry = native_entries()[0]
    for i in range(10):
        assert rx.put(entry, password=f"guess{i}") == 401
    assert rx.put(entry, password="guess10") == 429
    assert rx.put(entry) == 429
    wait_for(lambda: rx.refused("-", "login_blocked") == 2, "the 429s counted")
    assert rx.refused("-", "unauthorized") == 10
    assert rx.stored("web1") == 0
    status, _, text = rx.collector.fetch_metrics()
    assert 'modsec_observe_console_refused_total{sensor="-",reason="login_blocked"} 2' in text
    rx.collector.send_signal(signal.SIGHUP)
    wait_for(lambda: rx.put(entry) == 200, "the address served again after the reload")
    wait_for(lambda: rx.stored("web1") == 1, "the entry stored")


def test_metrics_expose_console_counters(rx):
    entry = native_entries()[0]
    assert rx.put(entry) == 200
    assert rx.put(entry, password="nope") == 401
    wait_for(lambda: rx.refused("-", "unauthorized") >= 1, "401 counted")
    status, ctype, text = rx.collector.fetch_metrics()
    assert status == 200
    assert 'modsec_observe_console_uploads_total{sensor="web1",result="stored"} 1' in text
    assert 'modsec_observe_console_refused_total{sensor="-",reason="unauthorized"} 1' in text
    if PROMTOOL.exists():
        p = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text.encode(),
                           capture_output=True, check=False)
        assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()


def test_live_tail_filters_received_events_by_source(binaries):
    """The dashboard's Live view (`/api/tail`) filtered by source streams that source's
    events: a sensor's uploads reach `?source=sensor:web1` and not `?source=module`, a
    module datagram the other way round. (The web tail once matched every event as the
    module's, so a sensor filter showed nothing and the module filter everything.)"""
    http_port = free_port()
    r = Receiver(binaries, extra=["--http-listen", f"127.0.0.1:{http_port}"]).start()
    streams: dict[str, list[str]] = {"sensor:web1": [], "module": []}
    conns = []
    try:
        def open_stream(source: str) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=WAIT)
            conn.request("GET", f"/api/tail?source={source}")
            resp = conn.getresponse()
            assert resp.status == 200
            conns.append(conn)

            def read() -> None:
                try:
                    for raw in resp:
                        line = raw.decode().strip()
                        if line.startswith("data: "):
                            streams[source].append(json.loads(line[6:])["unique_id"])
                except (OSError, ValueError):
                    pass  # closed at the end of the test
            threading.Thread(target=read, daemon=True).start()

        def tail_clients() -> int:
            p = r.collector.cli_run("health", "--json")
            assert p.returncode == 0, p.stderr
            return json.loads(p.stdout)["tail_clients"]

        for source in streams:
            open_stream(source)
        wait_for(lambda: tail_clients() >= 2, "both tail streams to be registered")
        uploaded = []
        for entry in native_entries():
            assert r.put(entry) == 200
            header = entry.split(b"\n", 2)[1].decode()  # "[time] unique_id client ..."
            uploaded.append(header.split("] ", 1)[1].split(" ", 1)[0])
        # A module event after them: each stream gets events in publish order, so once
        # the module stream has it, it would have had any sensor event before it.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(json.dumps({
            "v": 1, "type": "request", "time_us": int(time.time() * 1e6), "vhost": "m.test",
            "port": 80, "unique_id": "module-marker", "client": "192.0.2.1", "method": "GET",
            "path": "/", "status": 403, "protocol": "HTTP/1.1", "intercepted": True,
            "findings": [{"id": "942100"}]}).encode(), str(r.collector.event_socket))
        s.close()
        wait_for(lambda: "module-marker" in streams["module"], "the module event on its stream")
        wait_for(lambda: len(streams["sensor:web1"]) >= len(uploaded),
                 "the sensor's events on its stream")
        assert sorted(streams["sensor:web1"]) == sorted(uploaded)
        assert streams["module"] == ["module-marker"]
    finally:
        for conn in conns:
            conn.close()
        r.cleanup()
