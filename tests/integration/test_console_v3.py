"""Real nginx + libmodsecurity 3.0.9 + CRS posting to the collector's ModSecurity v3
endpoint (`modsec-observed --console-listen --console-tls-cert/-key --v3-sensors`,
`POST /v3/<token>`) over HTTPS with a test CA that only nginx trusts (a private mount
namespace, see nginx_sandbox.py):

- every flagged request arrives once, stored under `sensor:<name>` with the rule ids
  nginx's error log shows for its unique id (CRS 3.3.4 and 4.28);
- the collector stopped and started in the middle of a stream: v3 has no queue and no
  retry, so exactly the entries posted while it was down are lost, nothing is doubled,
  and nginx goes on serving (its error log keeps the alerts, and says nothing of the
  lost uploads);
- a wrong token is refused (401) and counted under sensor "-"; a client address outside
  the sensor's allowlist is refused (403) and counted under that sensor; neither stores
  anything.

Events are read from history.db with python's sqlite3 (read-only, beside the running
collector).
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import time

import pytest

from conftest import crs_params
from nginx_sandbox import NginxSandbox, nginx_available
from sandbox import Collector, free_port, short_temp_dir, stored_rules
from tls_ca import make_test_ca
from v3_corpus import SQLI, error_log_truth, send_corpus

pytestmark = pytest.mark.skipif(nginx_available() is not None,
                                reason=str(nginx_available()))

TOKEN = "0123456789abcdef0123456789abcdef"   # 32 to 128 hex digits
SENSOR = "web1"
TIMEOUT = 60.0


class ConsoleCollector:
    """modsec-observed with a history store and the console on 127.0.0.1 (HTTPS)."""

    def __init__(self, binaries, tls, sensors: str) -> None:
        self.state = short_temp_dir("msoit-s")
        self.port = free_port()
        self.sensors = self.state / "v3-sensors"
        self.sensors.write_text(sensors)
        self.c = Collector(binaries.daemon, binaries.cli, extra_args=[
            "--state-dir", str(self.state), "--console-listen", f"127.0.0.1:{self.port}",
            "--console-tls-cert", str(tls.server_cert),
            "--console-tls-key", str(tls.server_key), "--v3-sensors", str(self.sensors)])

    def url(self, token: str = TOKEN) -> str:
        return f"https://127.0.0.1:{self.port}/v3/{token}"

    def start(self) -> "ConsoleCollector":
        self.c.start()
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.c.stop()
                    raise RuntimeError("the console does not listen:\n" + self.c.log_text())
                time.sleep(0.05)

    def stop(self) -> None:
        self.c.stop()

    def cleanup(self) -> None:
        self.c.stop()
        shutil.rmtree(self.c.dir, ignore_errors=True)
        shutil.rmtree(self.state, ignore_errors=True)

    def events(self) -> dict[str, dict]:
        """unique id -> {source, vhost, rules, count}; count > 1 means stored twice."""
        db_path = self.state / "history.db"
        if not db_path.exists():
            return {}
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
        try:
            rows = db.execute(
                "SELECT e.id, e.unique_id, src.text, coalesce(vh.text, '') FROM events e "
                "JOIN strings src ON src.id = e.source_id "
                "LEFT JOIN strings vh ON vh.id = e.vhost_id").fetchall()
            rules = stored_rules(db)
        except sqlite3.OperationalError:   # not created yet
            return {}
        finally:
            db.close()
        out: dict[str, dict] = {}
        for row, uid, source, vhost in rows:
            if uid in out:
                out[uid]["count"] += 1
                continue
            out[uid] = {"source": source, "vhost": vhost, "rules": rules.get(row, set()),
                        "count": 1}
        return out

    def wait_events(self, n: int) -> dict[str, dict]:
        deadline = time.monotonic() + TIMEOUT
        got = self.events()
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.1)
            got = self.events()
        time.sleep(0.5)   # a surplus or a duplicate would show now
        return self.events()

    def refused(self) -> dict[str, dict[str, int]]:
        """sensor -> {reason: count} from `health --json`."""
        res = self.c.cli_run("health", "--json")
        assert res.returncode == 0, res.stderr
        sensors = json.loads(res.stdout).get("console", {}).get("sensors", {})
        return {name: dict(s.get("refused", {})) for name, s in sensors.items()}


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def console(binaries, tls):
    made: list[ConsoleCollector] = []

    def make(sensors: str = f"{SENSOR} {TOKEN}\n") -> ConsoleCollector:
        c = ConsoleCollector(binaries, tls, sensors)
        made.append(c)   # cleaned up also when it fails to start
        return c.start()

    yield make
    for c in made:
        c.cleanup()


def nginx_to(console: ConsoleCollector, tls, token: str = TOKEN, **kw) -> NginxSandbox:
    return NginxSandbox(audit_log=console.url(token), ca_bundle=tls.ca_cert, **kw).start()


@pytest.mark.parametrize("crs", crs_params("3", "4"))
def test_every_flagged_request_arrives_with_its_rule_ids(console, tls, crs):
    col = console()
    nginx = nginx_to(col, tls, crs=crs)
    try:
        sent = send_corpus(nginx)
        truth = error_log_truth(nginx)
        assert len(truth) == sum(1 for s in sent if not s.clean)
        got = col.wait_events(len(truth))
        assert nginx.unexpected_log_lines() == []
    finally:
        nginx.stop()
    assert set(got) == set(truth)
    for uid, t in truth.items():
        e = got[uid]
        assert e["count"] == 1, f"{uid} stored {e['count']} times"
        assert e["source"] == f"sensor:{SENSOR}"
        assert e["rules"] == t.rules, uid
        if t.host is not None:
            assert e["vhost"] == t.host, uid
    assert col.refused().get(SENSOR, {}) == {}
    shutil.rmtree(nginx.dir, ignore_errors=True)


def flagged_batch(nginx: NginxSandbox, tag: str, n: int) -> list[str]:
    """n flagged (blocked) requests; the unique ids the error log gives them."""
    before = set(nginx.rule_ids_by_unique_id())
    for i in range(n):
        assert nginx.request("block.test", f"/index.html?{SQLI}&batch={tag}&i={i}").status \
            == 403
    # nginx's one worker uploads an entry in the log phase, after the answer: the answer
    # to a clean request after the batch means the last upload attempt has ended.
    assert nginx.workers == 1
    assert nginx.request("block.test", f"/index.html?batch={tag}&clean=1").status == 200
    deadline = time.monotonic() + TIMEOUT
    while True:
        new = set(nginx.rule_ids_by_unique_id()) - before
        if len(new) == n or time.monotonic() > deadline:
            return sorted(new)
        time.sleep(0.05)


def test_a_collector_restart_loses_exactly_what_was_posted_while_it_was_down(console, tls):
    col = console()
    nginx = nginx_to(col, tls)
    try:
        before = flagged_batch(nginx, "before", 10)
        assert set(col.wait_events(10)) == set(before)
        col.stop()
        down = flagged_batch(nginx, "down", 10)      # served normally, uploads refused
        col.start()                                  # same state dir, port and sensors
        after = flagged_batch(nginx, "after", 10)
        got = col.wait_events(20)
        assert nginx.unexpected_log_lines() == []    # nginx says nothing of the losses
    finally:
        nginx.stop()
    assert len(before) == len(down) == len(after) == 10
    assert set(got) == set(before) | set(after), "only the entries posted while down are lost"
    assert not set(got) & set(down)
    assert all(e["count"] == 1 for e in got.values())
    shutil.rmtree(nginx.dir, ignore_errors=True)


def test_a_wrong_token_is_refused_and_counted(console, tls):
    col = console()
    nginx = nginx_to(col, tls, token="fedcba9876543210fedcba9876543210")
    try:
        flagged_batch(nginx, "wrong", 3)
        deadline = time.monotonic() + TIMEOUT
        while col.refused().get("-", {}).get("unauthorized", 0) < 3:
            assert time.monotonic() < deadline, col.refused()
            time.sleep(0.1)
    finally:
        nginx.stop()
    assert col.refused()["-"] == {"unauthorized": 3}
    assert col.events() == {}
    assert nginx.unexpected_log_lines() == []   # the 401 goes unnoticed by nginx
    shutil.rmtree(nginx.dir, ignore_errors=True)


def test_a_client_outside_the_allowlist_is_refused_and_counted(console, tls):
    # nginx posts from 127.0.0.1; the sensor may only post from 192.0.2.0/24.
    col = console(f"{SENSOR} {TOKEN} 192.0.2.0/24\n")
    nginx = nginx_to(col, tls)
    try:
        flagged_batch(nginx, "outside", 3)
        deadline = time.monotonic() + TIMEOUT
        while col.refused().get(SENSOR, {}).get("forbidden", 0) < 3:
            assert time.monotonic() < deadline, col.refused()
            time.sleep(0.1)
    finally:
        nginx.stop()
    assert col.refused()[SENSOR] == {"forbidden": 3}
    assert col.events() == {}
    assert nginx.unexpected_log_lines() == []   # the 403 goes unnoticed by nginx
    shutil.rmtree(nginx.dir, ignore_errors=True)
