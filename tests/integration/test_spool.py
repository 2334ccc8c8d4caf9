"""The module's spool (issue 5, "no silent loss"): with `ModSecObserveSpool`, events a
child cannot send go to its spool file, and `modsec-observed --spool-dir` replays them.

A real sandboxed Apache (mpm_event, mod_security2, CRS 3.3.4, `ModSecObserveEvents all`)
takes at least 20,000 requests from `ab` on two vhosts (one DetectionOnly, one On with
SQL injections answered 403) while the collector is first not running, then started,
then stopped gracefully (SIGTERM) and started again, all mid-load. At the end every
unique_id in Apache's access log is in the collector's events exactly once, the per-vhost
request counts equal the access log, nothing is counted as lost, and the spool directory
is empty. The collector keeps its events across the restart with --state-dir.

Also: the directive's argument checks, and a spool that is full (its max-size reached)
counting the rest as lost instead of dropping them silently.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from sandbox import (APACHE_BIN, ApacheSandbox, VirtualHost, free_port, short_temp_dir,
                     spool_temp_dir, stop_stack)

VHOSTS = [VirtualHost("spool.test", "DetectionOnly"), VirtualHost("block.test", "On")]
SQLI_QUERY = "id=1%27%20OR%201%3D1--"
_ACCESS = re.compile(r"^(\S+) \d+ (\S+) ")


def access_ids(apache: ApacheSandbox) -> dict[str, list[str]]:
    """unique_ids per vhost, from the access log (LogFormat "%v %p %{UNIQUE_ID}e ...")."""
    out: dict[str, list[str]] = {}
    for line in apache.access_log_lines():
        m = _ACCESS.match(line)
        assert m, f"unexpected access log line: {line!r}"
        out.setdefault(m.group(1), []).append(m.group(2))
    return out


def spool_files(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.name.endswith((".spool", ".spool.new")))


def ab(port: int, host: str, path: str, n: int, concurrency: int) -> subprocess.Popen:
    return subprocess.Popen(["ab", "-q", "-r", "-n", str(n), "-c", str(concurrency),
                             "-H", f"Host: {host}", f"http://127.0.0.1:{port}{path}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_log_lines(apache: ApacheSandbox, n: int, load: list[subprocess.Popen],
                       timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(apache.access_log_lines()) >= n:
            return
        if all(p.poll() is not None for p in load):
            raise AssertionError(f"the load ended before {n} requests were logged")
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} requests logged after {timeout} s")


def ab_failures(output: str) -> int:
    m = re.search(r"Failed requests:\s+(\d+)", output)
    assert m, f"unexpected ab output:\n{output}"
    return int(m.group(1))


def test_every_unique_id_exactly_once_across_outage_and_restart(stack_factory):
    spool = spool_temp_dir()
    state = short_temp_dir("msoit-st")
    stack = stack_factory(vhosts=VHOSTS, events="all", start_collector=False,
                          observe_extra=f"ModSecObserveSpool {spool} 64M\n",
                          collector_args=["--spool-dir", str(spool), "--state-dir", str(state),
                                          "--events-ring", "100000",
                                          "--snapshot-interval", "0"])
    apache, collector = stack.apache, stack.collector
    failed = True
    load: list[subprocess.Popen] = []
    try:
        load = [ab(apache.port, "spool.test", "/?q=benign", 16000, 6),
                ab(apache.port, "block.test", "/?" + SQLI_QUERY, 4000, 2)]
        wait_for_log_lines(apache, 5000, load)
        spooled_while_down = len(spool_files(spool))
        collector.start()                      # replays what was spooled so far
        wait_for_log_lines(apache, 11000, load)
        first = stack.health()["spool"]
        collector.stop()                       # SIGTERM mid-load, as systemd does
        wait_for_log_lines(apache, 14000, load)
        collector.start()
        outputs = [p.communicate(timeout=300)[0] for p in load]
        for out in outputs:
            assert ab_failures(out) == 0, out

        logged = access_ids(apache)
        total = sum(len(v) for v in logged.values())
        assert total >= 20000, f"only {total} requests logged"
        for vhost, ids in logged.items():
            dup = [i for i, n in Counter(ids).items() if n > 1]
            assert not dup and "-" not in ids, f"{vhost}: unique_ids not unique: {dup[:5]}"
        expected = {v: len(ids) for v, ids in logged.items()}
        stats = stack.wait_requests(expected, timeout=60)
        assert {v: s["requests"] for v, s in stats.items()} == expected, stack.diagnostics()
        assert all(s["events_lost"] == 0 for s in stats.values()), stats

        events = stack.events()
        seen = Counter((e["vhost"], e["unique_id"]) for e in events)
        twice = [k for k, n in seen.items() if n > 1]
        assert not twice, f"{len(twice)} unique_ids counted more than once: {twice[:5]}"
        want = Counter((v, i) for v, ids in logged.items() for i in ids)
        missing = want - seen
        extra = seen - want
        assert not missing and not extra, (f"{len(missing)} missing (e.g. {list(missing)[:3]}), "
                                           f"{len(extra)} unexpected")

        health = stack.health()
        assert health["malformed"] == 0, health
        sp = health["spool"]
        assert sp["errors"] == 0 and sp["lines_too_long"] == 0, sp
        # The spool carried a real share of the traffic: at least the 5,000 requests
        # made before the collector first started.
        assert spooled_while_down >= 1, "nothing spooled while the collector was down"
        assert first["errors"] == 0 and first["lines_too_long"] == 0, first
        replayed = first["lines_replayed"] + sp["lines_replayed"]
        assert replayed >= 5000 and sp["files_replayed"] >= 1, (first, sp)
        assert spool_files(spool) == [], "spool files left behind"
        failed = False
    finally:
        for p in load:
            if p.poll() is None:
                p.kill()
        stop_stack(stack, keep=failed)
        if not failed:
            shutil.rmtree(spool, ignore_errors=True)
            shutil.rmtree(state, ignore_errors=True)


def test_full_spool_counts_the_rest_as_lost(stack_factory):
    """A 64 KiB spool (the minimum) takes only some events of 300 flagged requests made
    while the collector is down; the others are counted in events_lost, none vanishes:
    replayed events + lost = requests."""
    spool = spool_temp_dir()
    stack = stack_factory(vhosts=VHOSTS, events="all", start_collector=False,
                          observe_extra=f"ModSecObserveSpool {spool} 64K\n",
                          collector_args=["--spool-dir", str(spool)],
                          extra_conf="StartServers 1\nMinSpareThreads 1\nMaxSpareThreads 64\n"
                                     "ServerLimit 1\nThreadsPerChild 25\n"
                                     "MaxRequestWorkers 25\n")
    failed = True
    try:
        p = ab(stack.apache.port, "spool.test",
               "/?" + SQLI_QUERY + "&pad=" + "x" * 1500, 300, 4)
        out = p.communicate(timeout=120)[0]
        assert ab_failures(out) == 0, out
        files = spool_files(spool)
        assert files, "nothing was spooled"
        assert sum(f.stat().st_size for f in files) <= 64 * 1024
        stack.collector.start()
        stats = stack.wait_requests({"spool.test": 300}, timeout=30)
        s = stats["spool.test"]
        assert s["requests"] == 300, s
        replayed = len(stack.events("--vhost", "spool.test"))
        assert 0 < replayed < 300, replayed
        assert s["events_lost"] == 300 - replayed, s
        failed = False
    finally:
        stop_stack(stack, keep=failed)
        if not failed:
            shutil.rmtree(spool, ignore_errors=True)


def test_last_counts_of_children_exiting_while_down_are_spooled(stack_factory):
    """Clean requests are only counted (ModSecObserveEvents flagged), and a child keeps
    its counts until it can send them. A child that exits while the collector is down
    (here: two graceful restarts) spools its last counter report instead of losing it."""
    from test_failure_isolation import graceful_restart

    spool = spool_temp_dir()
    stack = stack_factory(vhosts=VHOSTS, start_collector=False,
                          observe_extra=f"ModSecObserveSpool {spool}\n",
                          collector_args=["--spool-dir", str(spool)])
    failed = True
    try:
        sent = 0
        for _round in range(2):
            out = ab(stack.apache.port, "spool.test", "/?q=clean", 300, 4).communicate(
                timeout=120)[0]
            assert ab_failures(out) == 0, out
            sent += 300
            graceful_restart(stack.apache)   # every child of this generation exits
        assert spool_files(spool), "the exiting children spooled nothing"
        stack.collector.start()
        stats = stack.wait_requests({"spool.test": sent}, timeout=30)
        assert stats["spool.test"]["requests"] == sent, stack.diagnostics()
        assert stats["spool.test"]["events_lost"] == 0
        assert stack.health()["request_events"] == 0   # only counter reports were sent
        failed = False
    finally:
        stop_stack(stack, keep=failed)
        if not failed:
            shutil.rmtree(spool, ignore_errors=True)


@pytest.mark.parametrize("args,message", [
    ("relative/dir", "must be absolute"),
    ("/tmp/x 10", "max-size must be from 64K to 64G"),
    ("/tmp/x 65G", "max-size must be from 64K to 64G"),
    ("/tmp/x 12Q", "max-size must be from 64K to 64G"),
    ("/tmp/x -1M", "max-size must be from 64K to 64G"),
])
def test_spool_directive_rejects_bad_values(binaries, args, message):
    apache = ApacheSandbox(module=binaries.module,
                           observe_conf=f"ModSecObserveSpool {args}\n")
    try:
        apache.port = free_port()
        apache.write_config()
        res = subprocess.run([str(APACHE_BIN), "-t", "-f", str(apache.conf_path)],
                             capture_output=True, text=True, check=False)
        assert res.returncode != 0
        assert "ModSecObserveSpool" in res.stderr and message in res.stderr, res.stderr
    finally:
        apache.cleanup()
