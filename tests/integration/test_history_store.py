"""The history store of the real collector (docs/STORE.md): every request event the
module sends is kept in --state-dir/history.db (source "module"), through a stop, a
`kill -9` (at most the last batch lost, never a corrupt file), a corrupt database (moved
aside, reported) and a full disk (a small tmpfs: counted, reported, the live views keep
working). `health` and /metrics show the writer's counters.

The first test runs real Apache + mod_security2 + CRS; the others send datagrams
straight to the collector's socket (as root, always an allowed sender), which is what
the module would send.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import VirtualHost, free_port, short_temp_dir
from test_security import Daemon, event

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")


@pytest.fixture
def base() -> Iterator[Path]:
    """The test's own directory (the daemon's sockets and log, its state dir), removed
    at the end; the daemon is stopped first, in the test's `finally`."""
    d = short_temp_dir("msoit-h")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def stored(db: Path) -> list[tuple[str, str]]:
    """(unique_id, source) of every stored event, read-only."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(
            "SELECT e.unique_id, s.text FROM events e JOIN strings s ON s.id = e.source_id "
            "ORDER BY e.unique_id").fetchall()


def integrity(db: Path) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def datagrams(prefix: str, n: int) -> list[bytes]:
    return [json.dumps(event(unique_id=f"{prefix}-{i:06d}")).encode() for i in range(n)]


def start(d: Daemon) -> None:
    """Starts `d` and waits for this start's own "listening" line (the log keeps the
    earlier starts' lines, which Daemon.start() would take for this one's)."""
    before = len(d.log_text())
    d.start()
    assert wait_for(lambda: "listening on" in d.log_text()[before:]), d.log_text()[before:]


def written(d: Daemon) -> int:
    return d.health()["history"].get("written", 0)


def test_module_events_are_stored_with_their_findings(base, stack_factory):
    vhosts = [VirtualHost("shop.test", "On"), VirtualHost("blog.test", "DetectionOnly")]
    s = stack_factory(crs="3", vhosts=vhosts, metrics_port=free_port(),
                      collector_args=["--state-dir", str(base / "st")])
    for v in vhosts:
        assert s.apache.request(v.name, "/").status == 200  # clean: no event
        s.apache.request(v.name, "/?id=1%27%20OR%201%3D1--")
        s.apache.request(v.name, "/?q=%3Cscript%3Ealert(1)%3C/script%3E")
    s.wait_requests({v.name: 3 for v in vhosts})
    ring = json.loads(s.cli("events", "--json", "--limit", "0").stdout)["events"]
    assert len(ring) == 4
    health = wait_for(lambda: (h := json.loads(s.cli("health", "--json").stdout))
                      ["history"]["written"] == 4 and h)
    assert health["history"]["enabled"] is True
    assert health["history"]["queue_full"] == 0
    db = base / "st" / "history.db"
    assert health["history"]["path"] == str(db)
    assert stored(db) == sorted((e["unique_id"], "module") for e in ring)
    # The engine mode the events show: intercepted on shop (On); 949110 fired without
    # intercepting on blog (DetectionOnly). Stored as EngineMode (1 on, 2 detection_only).
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        modes = dict(conn.execute(
            "SELECT s.text, group_concat(DISTINCT e.engine_mode) FROM events e "
            "JOIN strings s ON s.id = e.vhost_id GROUP BY s.text").fetchall())
    assert modes == {"shop.test": "1", "blog.test": "2"}
    # /metrics exports the same counters.
    text = urllib.request.urlopen(
        f"http://127.0.0.1:{s.collector.metrics_port}/metrics", timeout=10).read().decode()
    assert "modsec_observe_history_written_total 4" in text
    assert 'modsec_observe_history_lost_total{reason="queue_full"} 0' in text


def test_stop_and_kill_9_keep_what_was_committed(base, binaries):
    d = Daemon(binaries, "--state-dir", str(base / "st"), directory=base)
    start(d)
    try:
        db = Path(d.args[d.args.index("--state-dir") + 1]) / "history.db"
        d.send(*datagrams("a", 300))
        assert wait_for(lambda: written(d) == 300), d.health()["history"]
        d.stop()  # SIGTERM: commits what is queued
        start(d)
        assert [u for u, _ in stored(db)] == [f"a-{i:06d}" for i in range(300)]
        # Events committed before a kill -9 survive it; the file is consistent after it,
        # whatever the writer was doing (a batch is being written while we kill).
        d.send(*datagrams("b", 200))
        assert wait_for(lambda: written(d) == 200)
        d.send(*datagrams("c", 2000))
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(timeout=10)
        d.proc = None
        assert integrity(db) == "ok"
        ids = [u for u, _ in stored(db)]
        assert set(ids) >= {f"a-{i:06d}" for i in range(300)} | {f"b-{i:06d}" for i in range(200)}
        assert len(ids) == len(set(ids))
        start(d)  # and the collector opens it again without setting it aside
        assert d.health()["history"]["set_aside"] == ""
        assert len(stored(db)) == len(ids)
    finally:
        d.stop()


def test_a_corrupt_database_is_moved_aside_and_reported(base, binaries):
    state = base / "st"
    state.mkdir(mode=0o700)
    (state / "history.db").write_bytes(b"SQLite format 3\0" + os.urandom(8192))
    d = Daemon(binaries, "--state-dir", str(state), directory=base)
    d.start()
    try:
        history = d.health()["history"]
        assert history["set_aside"].startswith(str(state / "history.db"))
        assert Path(history["set_aside"]).exists()
        assert "moved aside" in d.log_text()
        d.send(*datagrams("n", 10))
        assert wait_for(lambda: written(d) == 10)  # the new database works
    finally:
        d.stop()


def test_with_the_store_the_ring_keeps_1000_and_history_answers_the_rest(base, binaries):
    """The daemon's default ring with the history store (docs/protocol.md, "Ring or
    history"): 1,000 events in memory, every one in history, and `events` answers them
    all from history; without the store, 10,000."""
    d = Daemon(binaries, "--state-dir", str(base / "st"), "--events-ring", "default",
               directory=base)
    try:
        start(d)
        d.send(*datagrams("r", 1500))
        assert wait_for(lambda: written(d) == 1500), d.health()["history"]
        h = d.health()
        assert (h["ring_capacity"], h["ring_events"], h["request_events"]) == (1000, 1000, 1500)
        answer = json.loads(d.cli_run("events", "--json", "--limit", "2000").stdout)
        assert answer["from"] == "history"
        assert sorted(e["unique_id"] for e in answer["events"]) == \
            [f"r-{i:06d}" for i in range(1500)]
    finally:
        d.stop()
    plain = Daemon(binaries, directory=base / "plain")
    try:
        (base / "plain").mkdir()
        start(plain)
        assert plain.health()["ring_capacity"] == 10000
    finally:
        plain.stop()


@needs_root
def test_a_full_disk_is_counted_and_the_live_views_go_on(base, binaries):
    mount = base / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)],
                   check=True)
    port = free_port()
    d = Daemon(binaries, "--state-dir", str(mount), "--snapshot-interval", "0",
               metrics_port=port, directory=base)
    try:
        d.start()
        # ~1 KiB per event: 4,000 events cannot fit in 1 MiB.
        payload = "x" * 600
        for chunk in range(8):
            d.send(*[json.dumps(event(unique_id=f"f-{chunk}-{i:04d}", path="/" + payload))
                     .encode() for i in range(500)])
            time.sleep(0.2)  # lets the socket drain; no assertion depends on it
        h = wait_for(lambda: (h := d.health())["history"]["disk_full"] > 0 and h)
        assert h, d.health()["history"]
        history = h["history"]
        assert history["written"] + history["disk_full"] + history["queue_full"] + \
            history["queued"] <= 4000
        assert "full" in history["last_error"].lower() or "disk" in history["last_error"].lower()
        assert "history:" in d.log_text()
        # The live collector did not lose a datagram: the ring and the counters have them.
        assert h["request_events"] == 4000
        answer = json.loads(d.cli_run("events", "--json", "--limit", "0").stdout)
        assert answer["from"] == "ring"
        assert len(answer["events"]) == 4000
        # History lost events the ring holds (with 600-byte paths not one batch fits the
        # 1 MiB disk): a page of `events` is the ring's newest, not history's stale ones.
        answer = json.loads(d.cli_run("events", "--json", "--limit", "5").stdout)
        assert answer["from"] == "ring"
        assert [e["unique_id"] for e in answer["events"]] == \
            [f"f-7-{i:04d}" for i in range(499, 494, -1)]
        # A source filter the ring cannot apply, and a range that ends before the ring's
        # oldest event, still go to history.
        assert json.loads(d.cli_run("events", "--json", "--limit", "5", "--source",
                                    "module").stdout)["from"] == "history"
        assert json.loads(d.cli_run("events", "--json", "--limit", "5", "--until",
                                    "2020-01-01T00:00:00Z").stdout)["from"] == "history"
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        assert b'modsec_observe_history_lost_total{reason="disk_full"} 0' not in text
    finally:
        d.stop()
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_retention_by_size_deletes_the_oldest_first(base, binaries):
    state = base / "st"
    d = Daemon(binaries, "--state-dir", str(state), "--history-max-bytes", "256K",
               directory=base)
    start(d)
    try:
        db = state / "history.db"
        sent = [f"r-{i:06d}" for i in range(3000)]
        payload = "/" + "p" * 300  # ~0.5 KiB per event: 3,000 do not fit in 256 KiB
        for first in range(0, len(sent), 500):
            d.send(*[json.dumps(event(unique_id=u, path=payload)).encode()
                     for u in sent[first:first + 500]])
            time.sleep(0.2)  # lets the socket drain; no assertion depends on it
        history = wait_for(lambda: (h := d.health()["history"])["written"] == 3000 and
                           h["pruned"] > 0 and h)
        assert history, d.health()["history"]
        kept = wait_for(lambda: (k := [u for u, _ in stored(db)]) and
                        len(k) + d.health()["history"]["pruned"] == 3000 and k)
        assert kept, (len(stored(db)), d.health()["history"])
        # The newest are kept, the oldest deleted, nothing in between missing.
        assert kept == sent[len(sent) - len(kept):]
        assert integrity(db) == "ok"
    finally:
        d.stop()


def test_retention_by_age_deletes_what_is_older_than_history_days(base, binaries):
    """--history-days 1: the module's events of three days ago (a sender's clock, or a
    spool replayed late) are stored, then deleted by retention's steps; today's stay."""
    state = base / "st"
    d = Daemon(binaries, "--state-dir", str(state), "--history-days", "1", directory=base)
    start(d)
    try:
        db = state / "history.db"
        old_us = int((time.time() - 3 * 86400) * 1e6)
        d.send(*[json.dumps(event(unique_id=f"old-{i}", time_us=old_us + i)).encode()
                 for i in range(5)])
        d.send(*[json.dumps(event(unique_id=f"new-{i}")).encode() for i in range(5)])
        history = wait_for(lambda: (h := d.health()["history"])["written"] == 10 and
                           h["pruned"] == 5 and h)
        assert history, d.health()["history"]
        assert [u for u, _ in stored(db)] == [f"new-{i}" for i in range(5)]
        assert integrity(db) == "ok"
    finally:
        d.stop()
