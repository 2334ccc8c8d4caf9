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
EVENTS = 2 * SQLI_N + XSS_N  # requests with findings, all from CLIENT
CLIENT = "127.0.0.1"
OTHER_CLIENT = "192.0.2.1"


def wait_tail_clients(s, n: int, timeout: float = 60.0) -> None:
    """Waits until `health` counts `n` open tail streams."""
    deadline = time.monotonic() + timeout
    while (have := s.health()["tail_clients"]) != n:
        assert time.monotonic() < deadline, f"tail_clients stayed {have}, expected {n}"
        time.sleep(0.05)


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
        # By client: every request came from 127.0.0.1; none from 192.0.2.1 (TEST-NET-1).
        s.tail_clients = {client: subprocess.Popen(
            [str(s.collector.cli), "--socket", str(s.collector.query_socket), "tail", "--json",
             "--client", client], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for client in (CLIENT, OTHER_CLIENT)}
        # The traffic starts once the collector has all four streams in place.
        wait_tail_clients(s, 4)
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
        for p in (getattr(s, "tail", None), getattr(s, "tail_table", None),
                  *getattr(s, "tail_clients", {}).values()):
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
    # SecRuleEngine as each vhost's configuration sets it, said by the module.
    assert {v["vhost"]: v.get("engine") for v in cli_json(stack, "vhosts")["vhosts"]} == \
        {"detect.test": "detection_only", "block.test": "on"}
    table = cli_table(stack, "vhosts")
    assert "WOULD-BLOCK" in table and "detect.test" in table
    rows = {l.split()[0]: l.split() for l in table.splitlines() if l.split()}
    assert rows["VHOST"][1] == "ENGINE" and rows["detect.test"][1] == "detection_only"


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


def _iso_minutes_ago(minutes: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60 * minutes))


@pytest.mark.parametrize("args", [
    ("--window", "1h"),
    ("--window", "15m"),
    ("--since", "10m"),
    ("--since", "ISO"),
    ("--resolution", "hour", "--window", "2h"),
])
def test_timeseries_window(stack, args):
    args = tuple(_iso_minutes_ago(10) if a == "ISO" else a for a in args)
    answer = cli_json(stack, "timeseries", "--rule", "942100", *args)
    totals = {}
    for s in answer["series"]:
        points = s["points"]
        totals[s["vhost"]] = tuple(sum(p[k] for p in points) for k in
                                   ("requests", "flagged", "intercepted", "would_block",
                                    "rule_hits"))
    assert totals == {
        "detect.test": (BENIGN + SQLI_N, SQLI_N, 0, SQLI_N, SQLI_N),
        "block.test": (BENIGN + SQLI_N + XSS_N, SQLI_N + XSS_N, SQLI_N + XSS_N, 0, SQLI_N),
    }
    assert "block.test" in cli_table(stack, "timeseries", *args)


def test_timeseries_rejects_bad_since(stack):
    res = stack.cli("timeseries", "--since", "2999-01-01T00:00:00Z")
    assert res.returncode == 2 and "--since" in res.stderr


def test_events_filters(stack):
    events = cli_json(stack, "events", "--limit", "0")["events"]
    assert len(events) == 2 * SQLI_N + XSS_N
    blocked = cli_json(stack, "events", "--vhost", "block.test", "--intercepted")["events"]
    assert len(blocked) == SQLI_N + XSS_N
    xss = cli_json(stack, "events", "--rule", "941100")["events"]
    assert len(xss) == XSS_N and all(e["path"] == "/search" for e in xss)
    assert all(e["user_agent"] == AGENT for e in events)
    assert "blocked" in cli_table(stack, "events")


@pytest.mark.parametrize("client,expected", [(CLIENT, EVENTS), (OTHER_CLIENT, 0)])
def test_events_by_client(stack, client, expected):
    events = cli_json(stack, "events", "--client", client)["events"]
    assert len(events) == expected and all(e["client"] == client for e in events)
    table = cli_table(stack, "events", "--client", client)
    assert (CLIENT in table) if expected else table == "no events\n"


def test_events_limit_below_total(stack):
    every = cli_json(stack, "events", "--limit", "0")["events"]
    newest = cli_json(stack, "events", "--limit", "3")["events"]
    assert len(every) == EVENTS
    # The newest first, in the order the events arrived: not necessarily the order the
    # requests were sent, since Apache answers before it logs (and sends the event).
    assert [e["unique_id"] for e in newest] == [e["unique_id"] for e in every[:3]]
    xss = cli_json(stack, "events", "--rule", "941100", "--limit", "1")["events"]
    assert len(xss) == 1 and xss[0]["path"] == "/search"
    assert len(cli_table(stack, "events", "--limit", "3").splitlines()) == 1 + 3


def test_events_window_and_since(stack):
    every = cli_json(stack, "events", "--limit", "0")["events"]
    assert len(every) == EVENTS
    assert len(cli_json(stack, "events", "--limit", "0", "--window", "1h")["events"]) == EVENTS
    times = sorted(e["time_us"] for e in every)
    iso = lambda us: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us // 1_000_000))
    # Whole seconds on both sides of the socket: keep 2 s away from the events.
    while time.time() < times[-1] / 1e6 + 3:
        time.sleep(0.2)
    older = cli_json(stack, "events", "--limit", "0", "--since", iso(times[0] - 2_000_000))
    assert len(older["events"]) == EVENTS
    newer = cli_json(stack, "events", "--limit", "0", "--since", iso(times[-1] + 2_000_000))
    assert newer["events"] == []
    res = stack.cli("events", "--window", "soon")
    assert res.returncode == 2 and "--window" in res.stderr


def test_tail_by_client(stack):
    for client, expected in ((CLIENT, EVENTS), (OTHER_CLIENT, 0)):
        proc = stack.tail_clients[client]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        events = [json.loads(l) for l in out.splitlines() if l.strip()]
        assert len(events) == expected and all(e["client"] == client for e in events)
        assert len({e["unique_id"] for e in events}) == expected


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
            # Each line says where it came from and its verdict, as a history row does:
            # the SQL injections to detect.test would have been blocked.
            got = {(e["vhost"], e["source"], e["engine"], e["verdict"]) for e in events}
            assert got == {("block.test", "module", "on", "intercepted"),
                           ("detect.test", "module", "detection_only", "would_block")}, got
        else:
            assert lines[0].startswith("TIME")
            assert len(lines) - 1 == expected and all("blocked" in l for l in lines[1:])
    # A stream that ended is no longer counted.
    running = [p for p in (stack.tail, stack.tail_table, *stack.tail_clients.values())
               if p.poll() is None]
    wait_tail_clients(stack, len(running))


def test_health(stack):
    h = cli_json(stack, "health")
    assert h["request_events"] == EVENTS and h["malformed"] == 0
    assert h["malformed_by_reason"] == {}
    # The requests without findings arrive in the children's counter reports.
    assert h["counter_reports"] > 0
    assert h["datagrams"] == h["request_events"] + h["counter_reports"]
    assert (h["ring_events"], h["ring_capacity"], h["vhosts"]) == (EVENTS, 10000, 2)
    assert isinstance(h["uptime_s"], int) and h["uptime_s"] >= 0
    assert isinstance(h["rss_bytes"], int) and h["rss_bytes"] > 0
    assert h["rss_peak_bytes"] > 0
    for key in ("events_lost", "dropped_at_bounds", "bad_queries", "refused_clients",
                "tail_dropped", "rejected_senders", "rejected_query_peers"):
        assert h[key] == 0, key
    # No --state-dir: the snapshot fields are present and empty; no --spool-dir.
    assert (h["snapshot_loaded"], h["snapshot_last_saved"], h["snapshot_last_error"],
            h["snapshot_set_aside"]) == (False, "", "", "")
    assert "spool" not in h
    table = cli_table(stack, "health")
    assert "datagrams" in table and "MiB" in table
    assert any(line.split()[0] == "rss_bytes" for line in table.splitlines())


def _live_sections(screen: str) -> dict[str, str]:
    """The per-vhost sections of one live screen: "vhost:" header line to the next."""
    sections: dict[str, str] = {}
    name = None
    for line in screen.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            name = line[:-1]
            sections[name] = ""
        elif name is not None:
            sections[name] += line + "\n"
    return sections


def test_live_top_view(stack):
    res = stack.cli("top", "--iterations", "2", "--interval", "0.3")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("modsec-observe top") == 2
    assert "\x1b" not in res.stdout  # not a terminal: no clear-screen sequence
    last = res.stdout[res.stdout.rindex("modsec-observe top"):]
    sections = _live_sections(last)
    assert set(sections) == {"detect.test", "block.test"}
    # Per vhost: its three hottest rules (as `stats` ranks them) with their hits, and its
    # clients with their own counts.
    stats = {v["vhost"]: v for v in cli_json(stack, "stats")["vhosts"]}
    for vhost, flagged in (("detect.test", SQLI_N), ("block.test", SQLI_N + XSS_N)):
        rules = stats[vhost]["rules"][:3]
        rows = [l.split() for l in sections[vhost].splitlines()[1:] if l.strip()]
        assert [r[0] for r in rows] == [r["id"] for r in rules], sections[vhost]
        assert [r[-3] if CLIENT in r else r[-1] for r in rows] == \
            [str(r["hits"]) for r in rules], sections[vhost]
        client_rows = [r for r in rows if CLIENT in r]
        assert len(client_rows) == 1 and client_rows[0][-1] == str(flagged), sections[vhost]
    assert "941100" not in sections["detect.test"]  # block.test's cross-site scripting
    summary = {l.split()[0]: l.split() for l in last.splitlines()
               if l.split() and l.split()[0] in ("detect.test", "block.test")}
    # REQUESTS FLAGGED BLOCKED WOULD-BLOCK are the last four columns.
    assert summary["block.test"][-4:] == [str(BENIGN + SQLI_N + XSS_N), str(SQLI_N + XSS_N),
                                         str(SQLI_N + XSS_N), "0"]
    assert summary["detect.test"][-4:] == [str(BENIGN + SQLI_N), str(SQLI_N), "0", str(SQLI_N)]


def test_live_top_view_one_vhost(stack):
    res = stack.cli("top", "--vhost", "detect.test", "--iterations", "1")
    assert res.returncode == 0, res.stderr
    assert "detect.test" in res.stdout and "block.test" not in res.stdout
    assert set(_live_sections(res.stdout)) == {"detect.test"}
    assert CLIENT in res.stdout
    res = stack.cli("top", "--vhost", "nowhere.test", "--iterations", "1")
    assert res.returncode == 0, res.stderr
    assert "nowhere.test" in res.stdout and "not seen" in res.stdout


def test_live_top_view_rejects_json(stack):
    res = stack.cli("top", "--json", "--iterations", "1")
    assert res.returncode == 2 and res.stdout == ""
    assert "--json" in res.stderr and "stats --json" in res.stderr
