"""The console receiver (`--console-listen`) with the real client: Apache + mod_security2 +
CRS writing a Concurrent audit log piped to Debian's `/usr/bin/mlogc`, which uploads every
entry to the collector. Checked from the storage directory (mlogc keeps the files:
`KeepEntries`) and the collector's `history.db` (python's sqlite3, read-only, WAL):

- every entry arrives exactly once, with the rule ids of its H part, over HTTP and HTTPS;
- the collector stopped and started mid-stream: nothing lost or doubled;
- a wrong password: 401, mlogc keeps the entries; all arrive once the sensors file is
  fixed and the collector reloads it on SIGHUP;
- an entry that can never be accepted (409): mlogc drops only that one;
- two Apaches with two sensors stay apart (each event's source is its sensor).

mlogc is set up with a short TransactionDelay and ServerErrorTimeout so that retries come
quickly; conditions are polled for up to two minutes, never timed.
"""
from __future__ import annotations

import json
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from sandbox import (ApacheSandbox, Collector, VirtualHost, free_port, short_temp_dir,
                     stored_rules)

MLOGC = Path("/usr/bin/mlogc")
WAIT = 120.0

pytestmark = pytest.mark.skipif(not MLOGC.exists(), reason="mlogc not installed "
                                "(libapache2-mod-security2)")


def htpasswd(path: Path, users: dict[str, str]) -> None:
    """Writes an htpasswd file with bcrypt hashes, as an admin would (htpasswd -B)."""
    lines = []
    for user, password in users.items():
        p = subprocess.run(["htpasswd", "-nbB", user, password], capture_output=True,
                           check=True, text=True)
        lines.append(p.stdout.strip())
    path.write_text("\n".join(lines) + "\n")


def make_tls(dir: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    ca_key, ca, key, csr, cert = (dir / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr",
                                                    "srv.pem"))
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
        "-out", str(ca), "-days", "2", "-subj", "/CN=mso test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
        str(csr), "-subj", "/CN=127.0.0.1")
    ext = dir / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


class Console:
    """A collector with history and the console receiver, sensors from an htpasswd file."""

    def __init__(self, binaries, users: dict[str, str], tls: bool = False) -> None:
        self.state = short_temp_dir("msoit-cst")
        self.files = short_temp_dir("msoit-csf")
        self.port = free_port()
        self.sensors = self.files / "sensors"
        htpasswd(self.sensors, users)
        args = ["--state-dir", str(self.state), "--console-listen", f"127.0.0.1:{self.port}",
                "--sensors", str(self.sensors)]
        self.scheme = "http"
        self.ca = None
        if tls:
            self.ca, cert, key = make_tls(self.files)
            args += ["--console-tls-cert", str(cert), "--console-tls-key", str(key)]
            self.scheme = "https"
        self.collector = Collector(binaries.daemon, binaries.cli, extra_args=args)

    @property
    def uri(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/rpc/auditLogReceiver"

    def start(self) -> "Console":
        self.collector.start()
        wait_for(lambda: accepts(self.port), "the console port to accept")
        return self

    def stop(self) -> None:
        self.collector.stop()

    def cleanup(self) -> None:
        self.collector.stop()
        for d in (self.state, self.files, self.collector.dir):
            shutil.rmtree(d, ignore_errors=True)

    def events(self) -> dict[str, dict]:
        return events_by_uid(self.state / "history.db")

    def health(self) -> dict:
        p = self.collector.cli_run("health", "--json")
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)


def accepts(port: int) -> bool:
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(condition, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def events_by_uid(db_path: Path) -> dict[str, dict]:
    """Every stored event: unique id -> source, vhost, rules. Fails on a uid stored twice."""
    if not db_path.exists():
        return {}
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute(
            "SELECT e.id, e.unique_id, src.text, coalesce(vh.text, '') FROM events e "
            "JOIN strings src ON src.id = e.source_id "
            "LEFT JOIN strings vh ON vh.id = e.vhost_id").fetchall()
        rules = stored_rules(db)
    except sqlite3.OperationalError:
        return {}  # not created yet
    finally:
        db.close()
    out: dict[str, dict] = {}
    for row_id, uid, source, vhost in rows:
        assert uid not in out, f"{uid} stored twice"
        out[uid] = {"source": source, "vhost": vhost, "rules": rules.get(row_id, set())}
    return out


class MlogcApache:
    """Apache + mod_security2 + CRS 3, SecAuditLogType Concurrent piped to mlogc."""

    def __init__(self, uri: str, user: str, password: str, tls: bool = False) -> None:
        self.dir = short_temp_dir("msoit-ml")
        self.storage = self.dir / "audit"
        self.storage.mkdir()
        shutil.chown(self.storage, "www-data", "www-data")
        self.conf = self.dir / "mlogc.conf"
        self.error_log = self.dir / "mlogc-error.log"
        self.write_mlogc_conf(uri, user, password, tls)
        modsec = (f"SecAuditEngine RelevantOnly\n"
                  f'SecAuditLogRelevantStatus "^(?:5|4(?!04))"\n'
                  f"SecAuditLogParts ABIFHZ\n"
                  f"SecAuditLogType Concurrent\n"
                  f"SecAuditLogStorageDir {self.storage}\n"
                  f'SecAuditLog "|{MLOGC} {self.conf}"\n')
        self.apache = ApacheSandbox(crs="3", vhosts=[VirtualHost("block.test", "On")],
                                    modsec_conf=modsec)

    def write_mlogc_conf(self, uri: str, user: str, password: str, tls: bool) -> None:
        d = self.dir
        self.conf.write_text(f"""CollectorRoot "{d}"
ConsoleURI "{uri}"
SensorUsername "{user}"
SensorPassword "{password}"
LogStorageDir "{self.storage}"
TransactionLog "{d}/mlogc-transaction.log"
QueuePath "{d}/mlogc-queue.log"
LockFile "{d}/mlogc.lck"
ErrorLog "{self.error_log}"
ErrorLogLevel 5
MaxConnections 4
TransactionDelay 10
ServerErrorTimeout 2
CheckpointInterval 2
KeepEntries 1
{"InsecureNoCheckCert 1" if tls else ""}
""")

    def start(self) -> "MlogcApache":
        self.apache.start()
        return self

    def stop(self) -> None:
        self.apache.stop()

    def cleanup(self) -> None:
        self.apache.stop()
        self.apache.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def attack(self, n: int, tag: str) -> None:
        """n requests that CRS blocks (SQL injection), each a distinct path."""
        q = urllib.parse.quote
        for i in range(n):
            r = self.apache.request("block.test", f"/{tag}/{i}?id=" + q("1' OR 1=1--"))
            assert r.status == 403, r.status

    def entries(self) -> dict[str, set[str]]:
        """The storage directory's entries: unique id -> rule ids of its H part."""
        out = {}
        for f in self.storage.rglob("*"):
            if not f.is_file():
                continue
            text = f.read_text(errors="replace")
            if not re.search(r"^--[0-9a-f]{8}-Z--$", text, re.M):
                continue  # still being written
            uid = f.name.rsplit("-", 1)[-1] if f.name.count("-") >= 2 else f.name
            uid = re.search(r"^\[[^\]]+\] (\S+) ", text, re.M).group(1)
            h = re.search(r"^--[0-9a-f]{8}-H--\n(.*?)^--[0-9a-f]{8}-", text, re.M | re.S)
            rules = set(re.findall(r'^Message: .*?\[id "(\d+)"\]', h.group(1) if h else "",
                                   re.M))
            out[uid] = rules
        return out

    def mlogc_errors(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""


def sensor_events(console: Console, sensor: str) -> dict[str, dict]:
    return {u: e for u, e in console.events().items() if e["source"] == f"sensor:{sensor}"}


def assert_all_arrived(console: Console, site: MlogcApache, sensor: str, expected: int) -> None:
    """Every entry in the storage directory is stored once, under `sensor`, with its rules."""
    entries = wait_for(lambda: (lambda e: e if len(e) >= expected else None)(site.entries()),
                       f"{expected} audit entries in {site.storage}")
    assert len(entries) == expected, len(entries)

    def arrived():
        got = sensor_events(console, sensor)
        return got if set(got) >= set(entries) else None
    try:
        got = wait_for(arrived, f"{expected} entries stored from sensor {sensor}")
    except AssertionError:
        raise AssertionError("not all entries arrived; mlogc's error log:\n" +
                             site.mlogc_errors()[-4000:] + "\ncollector log:\n" +
                             console.collector.log_text()[-4000:])
    assert set(got) == set(entries)
    for uid, rules in entries.items():
        assert rules, f"entry {uid} has no rule ids in its H part"
        assert got[uid]["rules"] == rules, (uid, got[uid]["rules"], rules)
        assert got[uid]["vhost"] == "block.test"


def console_and_site(binaries, parts, *collector_args: str) -> tuple[Console, MlogcApache]:
    """A started console (extra collector options) and one mlogc site, sensor web1."""
    console = Console(binaries, {"web1": "pw"})
    console.collector.extra_args += list(collector_args)
    parts.append(console)
    console.start()
    site = MlogcApache(console.uri, "web1", "pw")
    parts.append(site)
    site.start()
    return console, site


@pytest.fixture
def parts():
    made: list = []
    yield made
    for p in reversed(made):
        p.cleanup()


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_every_entry_arrives_once_with_its_rules(binaries, parts, tls):
    console = Console(binaries, {"web1": "s3cret:with colon"}, tls=tls)
    parts.append(console)
    console.start()
    site = MlogcApache(console.uri, "web1", "s3cret:with colon", tls=tls)
    parts.append(site)
    site.start()
    site.attack(12, "a")
    assert_all_arrived(console, site, "web1", 12)
    h = console.health()["console"]
    assert h["sensors"]["web1"]["stored"] == 12, h
    # The stored events also reached the live views (posted to the loop).
    p = console.collector.cli_run("stats", "--json")
    assert p.returncode == 0, p.stderr
    live = {v["vhost"]: v for v in json.loads(p.stdout)["vhosts"]}
    assert live["block.test"]["events"] == 12, live
    if tls:
        # The certificate chain verifies against the test CA (mlogc itself is told
        # InsecureNoCheckCert: it has no option for a CA file).
        import ssl
        import socket
        ctx = ssl.create_default_context(cafile=str(console.ca))
        with socket.create_connection(("127.0.0.1", console.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                assert s.version() is not None


def test_collector_restart_mid_stream_loses_and_doubles_nothing(binaries, parts):
    console = Console(binaries, {"web1": "pw1"})
    parts.append(console)
    console.start()
    site = MlogcApache(console.uri, "web1", "pw1")
    parts.append(site)
    site.start()
    site.attack(10, "before")
    wait_for(lambda: len(sensor_events(console, "web1")) >= 3, "the first entries to arrive")
    console.stop()
    site.attack(10, "during")
    console.start()
    site.attack(10, "after")
    assert_all_arrived(console, site, "web1", 30)


def test_wrong_password_is_401_and_entries_arrive_after_the_fix(binaries, parts):
    console = Console(binaries, {"web1": "right"})
    parts.append(console)
    console.start()
    site = MlogcApache(console.uri, "web1", "wrong")
    parts.append(site)
    site.start()
    site.attack(5, "w")
    wait_for(lambda: console.health()["console"]["sensors"].get("-", {})
             .get("refused", {}).get("unauthorized", 0) >= 1, "a 401 to be counted")
    assert sensor_events(console, "web1") == {}
    wait_for(lambda: "with HTTP response code 401" in site.mlogc_errors(),
             "mlogc to log the 401")
    # Fix the sensors file (the admin sets the password mlogc has) and reload.
    htpasswd(console.sensors, {"web1": "wrong"})
    console.collector.send_signal(signal.SIGHUP)
    assert_all_arrived(console, site, "web1", 5)


def test_an_entry_that_can_never_be_accepted_is_dropped_alone(binaries, parts):
    """--console-max-body below one entry's size: 409 for it, mlogc drops it and goes on."""
    console, site = console_and_site(binaries, parts, "--console-max-body", "8K")
    site.attack(3, "s")
    # One request whose entry is large: two long headers land in its B part.
    r = site.apache.request("block.test", "/big?id=" + urllib.parse.quote("1' OR 1=1--"),
                            headers={"X-Big1": "a" * 6000, "X-Big2": "b" * 6000})
    assert r.status == 403
    site.attack(3, "t")
    entries = wait_for(lambda: (lambda e: e if len(e) >= 7 else None)(site.entries()),
                       "7 audit entries")
    assert len(entries) == 7

    def settled():
        h = console.health()["console"]["sensors"].get("web1", {})
        return h if h.get("stored", 0) >= 6 and h.get("refused", {}).get("too_large", 0) >= 1 \
            else None
    wait_for(settled, "6 entries stored and 1 refused as too large")
    got = sensor_events(console, "web1")
    assert len(got) == 6, sorted(got)
    assert len(set(entries) - set(got)) == 1
    wait_for(lambda: 'Failed to submit entry with "409' in site.mlogc_errors(),
             "mlogc to log the 409")
    # mlogc took the 409 as final: it does not send that entry again.
    time.sleep(6)
    assert console.health()["console"]["sensors"]["web1"]["refused"]["too_large"] == 1
    assert len(sensor_events(console, "web1")) == 6


def test_matched_data_keeps_what_it_is_told(binaries, parts):
    """--console-matched-data, as the module's directive and the import's option: a
    sensor's matched data can hold passwords; the store keeps only what it allows."""
    console, site = console_and_site(binaries, parts, "--console-matched-data", "truncate:8")
    site.attack(3, "m")
    assert_all_arrived(console, site, "web1", 3)
    cut = 0
    for uid in sensor_events(console, "web1"):
        p = console.collector.cli_run("event", uid, "--json")
        assert p.returncode == 0, p.stderr
        rules = json.loads(p.stdout)["event"]["rules"]
        assert rules, uid
        for f in rules:
            assert len(f["data"].encode()) <= 8, f
            assert "1=1" not in f["data"], f
            cut += f.get("data_truncated", False)
    assert cut > 0
    files = console.files
    bad = subprocess.run([str(binaries.daemon), "--event-socket", str(files / "e.sock"),
                          "--query-socket", str(files / "q.sock"),
                          "--console-matched-data", "hash"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode != 0, bad
    assert "--console-matched-data: 'hash' is not full, truncate:N" in bad.stderr, bad.stderr


def test_two_sensors_stay_apart(binaries, parts):
    console = Console(binaries, {"web1": "pw1", "web2": "pw2"})
    parts.append(console)
    console.start()
    one = MlogcApache(console.uri, "web1", "pw1")
    two = MlogcApache(console.uri, "web2", "pw2")
    parts += [one, two]
    one.start()
    two.start()
    one.attack(6, "one")
    two.attack(4, "two")
    assert_all_arrived(console, one, "web1", 6)
    assert_all_arrived(console, two, "web2", 4)
    assert set(one.entries()).isdisjoint(two.entries())
