"""Sources in every view, through the real stack: Apache + mod_security2 + CRS + the module
send events to a collector with a history store (source `module`), and a real audit log
(tests/data/audit, captured from Apache) is imported beside them (source `import:old`).
`sources` lists both (the module live, with its last seen; both in history with their
counts); `stats`, `events` and `rules` with `--source` keep them apart, live for the module
and from history for the import; the text views name the sources.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse

import pytest

from sandbox import VirtualHost, repo_root, short_temp_dir, stop_stack

AUDIT = repo_root() / "tests" / "data" / "audit"
EXPECTED = json.loads((AUDIT / "expected.json").read_text())
CAPTURE = "v2_native_serial.log"
IMPORTED = EXPECTED[CAPTURE]  # unique id -> host, rules, ...
SQLI = "?id=" + urllib.parse.quote("1' OR 1=1--")
N = 4  # attacks sent to the module's vhost


def cli_json(stack, *args) -> dict:
    res = stack.cli(*args, "--json")
    assert res.returncode == 0, (args, res.stderr)
    return json.loads(res.stdout)


def poll(what, check, timeout: float = 60.0):
    """`what()` once `check` holds of it (or the last value after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stack(stack_factory):
    state = short_temp_dir("msoit-src")
    s = stack_factory(crs="3", mpm="event", vhosts=[VirtualHost("mod.test", "On")],
                      collector_args=["--state-dir", str(state)])
    failed = True
    try:
        for i in range(N):
            assert s.apache.request("mod.test", f"/attack/{i}" + SQLI).status == 403
        stored = poll(lambda: cli_json(s, "events", "--source", "module", "--limit", "100"),
                      lambda d: d.get("from") == "history" and len(d["events"]) >= N)
        assert len(stored["events"]) == N, s.diagnostics()
        p = subprocess.run([str(s.collector.cli), "--socket", str(s.collector.query_socket),
                            "import", "--json", "--source", "old", str(AUDIT / CAPTURE)],
                           capture_output=True, text=True, timeout=120, check=False)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["imported"] == len(IMPORTED), p.stdout
        yield s
        failed = False
    finally:
        stop_stack(s, keep=failed)
        if not failed:
            shutil.rmtree(state, ignore_errors=True)


def test_sources_lists_the_module_live_and_both_in_history(stack):
    doc = poll(lambda: cli_json(stack, "sources"),
               lambda d: {h["source"]: h["events"] for h in d.get("history", [])}
               == {"module": N, "import:old": len(IMPORTED)})
    assert doc["from"] == "memory+history", doc
    live = {s["source"]: s for s in doc["sources"]}
    assert set(live) == {"module"}, doc  # an import is history only
    module = live["module"]
    assert module["events"] == N and module["bytes"] > 0
    assert 0 <= module["last_seen_ago_s"] < 600
    assert module["clock_skew_s"] is not None and abs(module["clock_skew_s"]["max"]) < 600
    assert module["refusals"] == {}
    history = {h["source"]: h["events"] for h in doc["history"]}
    assert history == {"module": N, "import:old": len(IMPORTED)}, doc
    text = stack.cli("sources")
    assert text.returncode == 0, text.stderr
    assert "module" in text.stdout and "import:old" in text.stdout and "ago" in text.stdout


def test_stats_by_source(stack):
    module = cli_json(stack, "stats", "--source", "module")
    assert [v["vhost"] for v in module["vhosts"]] == ["mod.test"], module
    assert module["vhosts"][0]["source"] == "module"
    assert module["vhosts"][0]["intercepted"] == N
    imported = cli_json(stack, "stats", "--source", "import:old")
    assert imported["from"] == "history", imported
    hosts = {v["vhost"]: v for v in imported["vhosts"]}
    want_hosts = {e["host"] for e in IMPORTED.values()}
    assert set(hosts) == want_hosts, imported
    assert sum(v["events"] for v in hosts.values()) == len(IMPORTED)
    assert all(v["source"] == "import:old" for v in hosts.values())
    assert cli_json(stack, "stats", "--source", "sensor:none")["vhosts"] == []


def test_events_by_source(stack):
    module = cli_json(stack, "events", "--source", "module", "--limit", "1000")
    assert len(module["events"]) == N
    assert {e["vhost"] for e in module["events"]} == {"mod.test"}
    assert {e["source"] for e in module["events"]} == {"module"}
    imported = cli_json(stack, "events", "--source", "import:old", "--limit", "1000")
    assert sorted(e["unique_id"] for e in imported["events"]) == sorted(IMPORTED)
    assert {e["source"] for e in imported["events"]} == {"import:old"}
    # Both at once (history): the text view shows a SOURCE column.
    both = stack.cli("events", "--limit", "1000")
    assert both.returncode == 0, both.stderr
    assert "SOURCE" in both.stdout and "import:old" in both.stdout, both.stdout


def test_rules_by_source(stack):
    module = cli_json(stack, "rules", "--source", "module")
    module_rules = {r["id"] for r in module["rules"]}
    assert "942100" in module_rules, module
    assert {r["vhost"] for r in module["rules"]} == {"mod.test"}
    imported = cli_json(stack, "rules", "--source", "import:old")
    assert imported["from"] == "history", imported
    want = set().union(*(set(e["rules"]) for e in IMPORTED.values()))
    assert {r["id"] for r in imported["rules"]} == want, imported
    assert {r["vhost"] for r in imported["rules"]} <= {e["host"] for e in IMPORTED.values()}


def test_top_by_source(stack):
    # An import: from history, over every stored event of it, each row naming it.
    imported = cli_json(stack, "top", "paths", "--source", "import:old")
    assert imported["from"] == "history", imported
    assert sum(r["count"] for r in imported["top"]) == len(IMPORTED), imported
    assert {r["source"] for r in imported["top"]} == {"import:old"}, imported
    clients = cli_json(stack, "top", "clients", "--source", "import:old")
    assert sum(r["count"] for r in clients["top"]) == len(IMPORTED), clients
    # The module's, live: from memory, its four attack paths.
    module = cli_json(stack, "top", "paths", "--source", "module")
    assert module.get("from", "memory") == "memory", module
    paths = {r["value"] for r in module["top"]}
    assert paths == {f"/attack/{i}" for i in range(N)}, module
