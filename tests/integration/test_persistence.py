"""Persistence and reload end to end: real Apache + mod_security2 + CRS 3.3.4 +
mod_modsec_observe -> real modsec-observed --state-dir DIR --config FILE.

Known traffic goes to two vhosts; then Apache stops, the collector is stopped with
SIGTERM and started again on the same state dir: every query answer (stats, vhosts,
rules, top lists, timeseries, events) must be identical, as JSON. SIGHUP with a changed
config file resizes the events ring (keeping the newest events) and starts periodic
snapshots; a bad config file is reported and the running configuration kept. A truncated
state.json is moved aside, reported on stderr and in `health`, and the collector starts
empty.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import time
import urllib.parse

import pytest

from sandbox import VirtualHost, short_temp_dir, stop_stack

VHOSTS = [VirtualHost("shop.test", "On"), VirtualHost("blog.test", "DetectionOnly")]
ATTACKS = ["/?id=" + urllib.parse.quote("1' OR 1=1--"),
           "/?file=" + urllib.parse.quote("../../../../etc/passwd"),
           "/?q=" + urllib.parse.quote("<script>alert(1)</script>")]
K = 5   # benign requests per vhost
R = 2   # rounds of attacks per vhost
# The answers a restart must keep, as CLI arguments (each printed as JSON).
QUERIES = [["stats", "--json"], ["vhosts", "--json"], ["rules", "--json"],
           ["top", "clients", "--json"], ["top", "paths", "--json", "--limit", "0"],
           ["top", "targets", "--json", "--limit", "0"], ["top", "agents", "--json"],
           ["events", "--json", "--limit", "0"], ["timeseries", "--json"],
           ["timeseries", "--json", "--resolution", "hour", "--rule", "942100"]]


def write_config(path, **options) -> None:
    path.write_text("".join(f"{k.replace('_', '-')} = {v}\n" for k, v in options.items()))


def answers(stack) -> dict[str, dict]:
    out = {}
    for q in QUERIES:
        res = stack.cli(*q)
        assert res.returncode == 0, f"{q}: {res.stderr}{res.stdout}"
        out[" ".join(q)] = json.loads(res.stdout)
    return out


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


@pytest.fixture(scope="module")
def setup(stack_factory):
    base = short_temp_dir("msoit-p")
    state_dir = base / "state"            # created by the collector, 0700
    config = base / "observed.conf"
    write_config(config, events_ring=1000, snapshot_interval=3600)
    s = stack_factory(crs="3", vhosts=VHOSTS,
                      collector_args=["--state-dir", str(state_dir), "--config", str(config)])
    ok = False
    try:
        for v in VHOSTS:
            for _ in range(K):
                assert s.apache.request(v.name, "/").status == 200
            for _ in range(R):
                for path in ATTACKS:
                    s.apache.request(v.name, path)
        s.wait_requests({v.name: K + R * len(ATTACKS) for v in VHOSTS})
        # No more data may arrive: the children's counters are flushed and Apache is gone.
        s.apache.stop()
        time.sleep(0.5)
        yield s, state_dir, config
        ok = True
    finally:
        stop_stack(s, keep=not ok)
        if ok and os.environ.get("MSO_KEEP_TMP") != "1":
            shutil.rmtree(base, ignore_errors=True)


def test_restart_keeps_every_answer(setup):
    stack, state_dir, _ = setup
    before = answers(stack)
    vhosts = {v["vhost"]: v for v in before["stats --json"]["vhosts"]}
    assert vhosts["shop.test"]["intercepted"] == R * len(ATTACKS)
    assert vhosts["blog.test"]["flagged"] == R * len(ATTACKS)
    assert len(before["events --json --limit 0"]["events"]) == 2 * R * len(ATTACKS)
    assert stack.health()["snapshot_loaded"] is False
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700

    log_start = stack.collector.log.stat().st_size
    stack.collector.send_signal(signal.SIGTERM)
    assert stack.collector.proc.wait(timeout=10) == 0
    stack.collector.stop()
    snapshot = state_dir / "state.json"
    assert snapshot.is_file()
    assert not (state_dir / "state.json.tmp").exists()
    size = snapshot.stat().st_size
    print(f"\nsnapshot: {size} bytes for {len(before['events --json --limit 0']['events'])} "
          "events and 2 vhosts")
    assert f"saved state to {snapshot} ({size} bytes)" in stack.collector.log_text(log_start)

    stack.collector.start()
    health = stack.health()
    assert health["snapshot_loaded"] is True
    assert health["snapshot_last_error"] == ""
    assert health["snapshot_set_aside"] == ""
    after = answers(stack)
    for q in before:
        assert after[q] == before[q], f"{q} changed across the restart"
    assert "restored state from" in stack.collector.log_text(log_start)


def test_sighup_resizes_the_ring_and_starts_snapshots(setup):
    stack, state_dir, config = setup
    events = stack.events()
    assert stack.health()["ring_capacity"] == 1000
    pid = stack.collector.proc.pid
    log_start = stack.collector.log.stat().st_size
    snapshot_mtime = (state_dir / "state.json").stat().st_mtime_ns

    write_config(config, events_ring=3, snapshot_interval=1)
    stack.collector.send_signal(signal.SIGHUP)
    health = wait_for(lambda: (h := stack.health())["ring_capacity"] == 3 and h)
    assert health, f"ring_capacity did not change: {stack.health()}"
    assert health["ring_events"] == 3
    assert stack.events() == events[:3]         # the newest ones are kept
    assert stack.collector.proc.poll() is None and stack.collector.proc.pid == pid
    log = stack.collector.log_text(log_start)
    assert "reload: events-ring 1000 -> 3" in log
    assert "reload: snapshot-interval 3600 -> 1" in log
    assert "restart" not in log

    # Periodic snapshots now run every second.
    saved = wait_for(lambda: stack.health()["snapshot_last_saved"], timeout=60)
    assert saved.endswith("Z")
    assert (state_dir / "state.json").stat().st_mtime_ns != snapshot_mtime


def test_bad_config_on_sighup_keeps_the_running_one(setup):
    stack, _, config = setup
    log_start = stack.collector.log.stat().st_size
    config.write_text("events-ring = many\n")
    stack.collector.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "reload: configuration not applied"
                    in stack.collector.log_text(log_start))
    assert stack.collector.proc.poll() is None
    assert stack.health()["ring_capacity"] == 3

    # Settings that need a restart are named, not applied; the command line still wins
    # over the file (--state-dir was given there).
    write_config(config, events_ring=3, snapshot_interval=1, state_dir="/nonexistent",
                 query_socket_mode="0600", metrics_listen="127.0.0.1:1")
    stack.collector.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "reload: changed but kept until a restart: query-socket-mode, "
                    "metrics-listen\n" in stack.collector.log_text(log_start))
    assert stack.collector.proc.poll() is None
    write_config(config, events_ring=3, snapshot_interval=3600)
    stack.collector.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "reload: snapshot-interval 1 -> 3600"
                    in stack.collector.log_text(log_start))


def test_truncated_snapshot_is_set_aside(setup):
    stack, state_dir, _ = setup
    stack.collector.stop()
    snapshot = state_dir / "state.json"
    data = snapshot.read_bytes()
    snapshot.write_bytes(data[: len(data) // 2])
    log_start = stack.collector.log.stat().st_size

    stack.collector.start()
    health = stack.health()
    aside = health["snapshot_set_aside"]
    assert aside.startswith(f"{snapshot}.corrupt-"), health
    assert os.path.getsize(aside) == len(data) // 2
    assert health["snapshot_loaded"] is False
    assert health["snapshot_last_error"] == "not valid JSON (truncated?)"
    assert health["vhosts"] == 0 and health["ring_events"] == 0
    assert stack.stats()["vhosts"] == []
    log = stack.collector.log_text(log_start)
    assert (f"snapshot {snapshot} not loaded (not valid JSON (truncated?)); moved aside to "
            f"{aside}; starting empty") in log
    assert stack.collector.proc.poll() is None
