"""Every `modsec-observe` subcommand against a running collector fed by a real Apache +
mod_security2 + CRS + mod_modsec_observe: vhosts, stats (all time and --window/--since),
rules, top clients|paths|agents|targets, timeseries, events, tail, health and the live
`top` view. Counts are checked exactly against the traffic sent.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.parse
from collections import Counter

import pytest

from sandbox import VirtualHost, stop_stack

q = urllib.parse.quote

SQLI = "/?id=" + q("1' OR 1=1--")
XSS = "/search?q=" + q("<script>alert(1)</script>")
AGENT = "Mozilla/5.0 (modsec-observe test agent)"
VHOSTS = [VirtualHost("detect.test", "DetectionOnly"), VirtualHost("block.test", "On")]
BENIGN = 6    # per vhost
SQLI_N = 4    # per vhost
XSS_N = 2     # to block.test only


@pytest.fixture(scope="module")
def stack(stack_factory):
    s = stack_factory(crs="3", mpm="event", vhosts=VHOSTS)
    failed = True
    try:
        # A tail started before the traffic sees every event exactly once.
        s.tail = subprocess.Popen([str(s.collector.cli), "--socket", str(s.collector.query_socket),
                                   "tail", "--json"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        s.tail_table = subprocess.Popen([str(s.collector.cli), "--socket",
                                         str(s.collector.query_socket), "tail", "--vhost",
                                         "block.test", "--intercepted"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        headers = {"User-Agent": AGENT}
        for vhost in ("detect.test", "block.test"):
            for _ in range(BENIGN):
                assert s.apache.request(vhost, "/", headers=headers).status == 200
            for _ in range(SQLI_N):
                want = 403 if vhost == "block.test" else 200
                assert s.apache.request(vhost, SQLI, headers=headers).status == want
        for _ in range(XSS_N):
            assert s.apache.request("block.test", XSS, headers=headers).status == 403
        s.wait_requests({"detect.test": BENIGN + SQLI_N, "block.test": BENIGN + SQLI_N + XSS_N})
        yield s
        failed = False
    finally:
        for p in (getattr(s, "tail", None), getattr(s, "tail_table", None)):
            if p and p.poll() is None:
                p.kill()
                p.communicate()
        stop_stack(s, keep=failed)


def cli_json(stack, *args) -> dict:
    res = stack.cli(*args, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def cli_table(stack, *args) -> str:
    res = stack.cli(*args)
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout
    return res.stdout


def test_vhosts(stack):
    got = {v["vhost"]: (v["requests"], v["flagged"], v["intercepted"], v["would_block"])
           for v in cli_json(stack, "vhosts")["vhosts"]}
    assert got == {"detect.test": (BENIGN + SQLI_N, SQLI_N, 0, SQLI_N),
                   "block.test": (BENIGN + SQLI_N + XSS_N, SQLI_N + XSS_N, SQLI_N + XSS_N, 0)}
    table = cli_table(stack, "vhosts")
    assert "WOULD-BLOCK" in table and "detect.test" in table


def test_stats_would_block_and_scores(stack):
    detect = cli_json(stack, "stats", "--vhost", "detect.test")["vhosts"][0]
    # DetectionOnly: the SQL injections reached the threshold but were not blocked.
    assert (detect["intercepted"], detect["would_block"]) == (0, SQLI_N)
    inbound = detect["scores"]["inbound"]
    assert inbound["count"] == BENIGN + SQLI_N
    assert inbound["counts"][0] == BENIGN            # score 0
    assert sum(inbound["counts"]) == inbound["count"]


@pytest.mark.parametrize("args", [("--window", "1h"), ("--since", "10m")])
def test_stats_window(stack, args):
    windowed = {v["vhost"]: v for v in cli_json(stack, "stats", *args)["vhosts"]}
    block = windowed["block.test"]
    assert (block["requests"], block["flagged"], block["intercepted"]) == \
        (BENIGN + SQLI_N + XSS_N, SQLI_N + XSS_N, SQLI_N + XSS_N)
    hits = {r["id"]: r["hits"] for r in block["rules"]}
    assert hits["942100"] == SQLI_N and hits["941100"] == XSS_N
    assert "block.test" in cli_table(stack, "stats", *args)


def test_stats_rejects_bad_window(stack):
    res = stack.cli("stats", "--window", "soon")
    assert res.returncode == 2 and "--window" in res.stderr


def test_rules(stack):
    rules = cli_json(stack, "rules", "--vhost", "block.test", "--rule", "942100")["rules"]
    assert len(rules) == 1
    r = rules[0]
    assert (r["hits"], r["severity"], r["pl"]) == (SQLI_N, "CRITICAL", 1)
    assert r["top_paths"] == [{"value": "/", "count": SQLI_N, "error": 0}]
    assert r["top_targets"] == [{"value": "ARGS:id", "count": SQLI_N, "error": 0}]
    assert r["first_seen"] and r["last_seen"] >= r["first_seen"]
    table = cli_table(stack, "rules", "--vhost", "block.test")
    assert "942100" in table and "941100" in table and "top targets" in table


@pytest.mark.parametrize("list_name,value,count", [
    ("clients", "127.0.0.1", 2 * SQLI_N + XSS_N),
    ("agents", AGENT, 2 * SQLI_N + XSS_N),
    ("paths", "/", 2 * SQLI_N),
    ("paths", "/search", XSS_N),
])
def test_top_lists(stack, list_name, value, count):
    entries = {e["value"]: e for e in cli_json(stack, "top", list_name)["top"]}
    assert entries[value]["count"] == count and entries[value]["error"] == 0
    assert value in cli_table(stack, "top", list_name)


def test_top_targets_per_vhost(stack):
    entries = {e["value"]: e["count"]
               for e in cli_json(stack, "top", "targets", "--vhost", "block.test")["top"]}
    assert entries["ARGS:id"] >= SQLI_N and entries["ARGS:q"] >= XSS_N


def test_top_targets_all_vhosts(stack):
    # Targets are counted over findings: derive the expected lists from the events.
    per_vhost = {v: Counter() for v in ("detect.test", "block.test")}
    for e in stack.events():
        per_vhost[e["vhost"]].update(f["target"] for f in e["rules"] if f.get("target"))
    expected = sum(per_vhost.values(), Counter())
    assert expected["ARGS:id"] >= 2 * SQLI_N and expected["ARGS:q"] >= XSS_N
    answer = cli_json(stack, "top", "targets", "--limit", "0")
    # Neither vhost's list is full: the merged counts are exact.
    assert {e["value"]: (e["count"], e["error"]) for e in answer["top"]} == \
        {t: (n, 0) for t, n in expected.items()}
    assert all("vhost" not in e for e in answer["top"])
    assert answer["capacity"] == 64
    assert answer["error_bound"] == sum(sum(c.values()) // 64 for c in per_vhost.values())
    table = cli_table(stack, "top", "targets")
    assert "ARGS:id" in table and "ARGS:q" in table


def test_timeseries(stack):
    series = {s["vhost"]: s for s in cli_json(stack, "timeseries", "--rule", "942100")["series"]}
    points = series["block.test"]["points"]
    assert sum(p["requests"] for p in points) == BENIGN + SQLI_N + XSS_N
    assert sum(p["rule_hits"] for p in points) == SQLI_N
    hourly = cli_json(stack, "timeseries", "--resolution", "hour", "--vhost", "detect.test")
    assert sum(p["would_block"] for p in hourly["series"][0]["points"]) == SQLI_N
    assert "REQUESTS" in cli_table(stack, "timeseries")


def test_events_filters(stack):
    events = cli_json(stack, "events", "--limit", "0")["events"]
    assert len(events) == 2 * SQLI_N + XSS_N
    blocked = cli_json(stack, "events", "--vhost", "block.test", "--intercepted")["events"]
    assert len(blocked) == SQLI_N + XSS_N
    xss = cli_json(stack, "events", "--rule", "941100")["events"]
    assert len(xss) == XSS_N and all(e["path"] == "/search" for e in xss)
    assert all(e["user_agent"] == AGENT for e in events)
    assert "blocked" in cli_table(stack, "events")


def test_tail_streams_every_event_once(stack):
    for proc, expected in ((stack.tail, 2 * SQLI_N + XSS_N), (stack.tail_table, SQLI_N + XSS_N)):
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        lines = [l for l in out.splitlines() if l.strip()]
        if proc is stack.tail:
            events = [json.loads(l) for l in lines]
            assert len(events) == expected
            assert len({e["unique_id"] for e in events}) == expected
        else:
            assert lines[0].startswith("TIME")
            assert len(lines) - 1 == expected and all("blocked" in l for l in lines[1:])


def test_health(stack):
    h = cli_json(stack, "health")
    assert h["request_events"] == 2 * SQLI_N + XSS_N and h["malformed"] == 0
    assert h["ring_events"] == 2 * SQLI_N + XSS_N
    assert "datagrams" in cli_table(stack, "health")


def test_live_top_view(stack):
    res = stack.cli("top", "--iterations", "2", "--interval", "0.3")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("modsec-observe top") == 2
    assert "block.test" in res.stdout and "TOP CLIENTS" in res.stdout
    assert "127.0.0.1" in res.stdout
