"""Search and show history through the real stack: Apache + mod_security2 + CRS + the
module send events to a collector that keeps them in `history.db`; `events` with every
filter, paging with the cursor, `event UNIQUE_ID`, `export` (JSON lines and CSV) answer
from history, also after a restart of the collector, with hostile strings escaped;
`stats`, `rules` and `top` over 7 days answer from history when memory knows nothing.

The collector runs with a ring of 3 events, so nearly every query reaches before the
ring and must be answered from history ("from": "history"). Expected results are computed
from the traffic sent (paths name the requests) and from one unfiltered listing whose
contents are checked against the traffic first.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import time
import urllib.parse
from collections import Counter
from datetime import datetime, timezone

import pytest

from sandbox import VirtualHost, short_temp_dir, stop_stack

q = urllib.parse.quote

QS = "    ModSecObserveQueryString On"
VHOSTS = [VirtualHost("detect.test", "DetectionOnly", extra=QS),
          VirtualHost("block.test", "On", extra=QS)]
SQLI = "?id=" + q("1' OR 1=1--")
XSS = "?q=" + q("<script>alert(1)</script>")
# Matched data with an ESC sequence, quotes and a spreadsheet formula: ARGS are decoded,
# so the finding's data holds the raw bytes.
HOSTILE_ARG = "?q=" + q('\x1b[31m<script>alert("x")</script>=cmd|\' /C calc\'!A0')
FORMULA_AGENT = "=cmd|' /C calc'!A0"

# Batch 1 (SQL injections), then, at least two seconds later, batch 2.
BATCH1 = [("detect.test", f"/sqli/d{i}" + SQLI) for i in range(3)] + \
         [("block.test", f"/sqli/b{i}" + SQLI) for i in range(3)]
BATCH2 = [("block.test", f"/xss/{i}" + XSS) for i in range(2)] + \
         [("detect.test", "/admin/x" + XSS), ("detect.test", "/hostile" + HOSTILE_ARG)]
N = len(BATCH1) + len(BATCH2)


def cli_json(stack, *args) -> dict:
    res = stack.cli(*args, "--json")
    assert res.returncode == 0, (args, res.stderr)
    return json.loads(res.stdout)


def listing(stack, *filters) -> dict:
    # Not --limit 0: without a time range that means "all the ring holds".
    return cli_json(stack, "events", "--limit", "1000", *filters)


def ids(events) -> list[str]:
    return [e["unique_id"] for e in events]


def wait_history(stack, n: int, timeout: float = 60) -> list[dict]:
    """Every event in history (newest first) once there are `n`."""
    deadline = time.monotonic() + timeout
    while True:
        doc = listing(stack)
        if doc["from"] == "history" and len(doc["events"]) >= n or time.monotonic() > deadline:
            return doc["events"]
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stack(stack_factory):
    state = short_temp_dir("msoit-h")
    s = stack_factory(crs="3", mpm="event", vhosts=VHOSTS,
                      collector_args=["--state-dir", str(state), "--events-ring", "3"])
    s.state_dir = state
    failed = True
    try:
        headers = {"User-Agent": FORMULA_AGENT}
        for vhost, path in BATCH1:
            assert s.apache.request(vhost, path, headers=headers).status in (403, 404)
        time.sleep(2.1)
        for vhost, path in BATCH2:
            assert s.apache.request(vhost, path, headers=headers).status in (403, 404)
        s.all = wait_history(s, N)
        assert len(s.all) == N, (len(s.all), s.diagnostics())
        yield s
        failed = False
    finally:
        stop_stack(s, keep=failed)
        if not failed:
            import shutil
            shutil.rmtree(state, ignore_errors=True)


def by_path(events) -> dict[str, dict]:
    return {e["path"]: e for e in events}


def rule_ids(e) -> set[str]:
    return {r["id"] for r in e["rules"]}


def test_history_holds_the_traffic(stack):
    got = by_path(stack.all)
    sent = {urllib.parse.urlsplit(p).path for _, p in BATCH1 + BATCH2}
    assert set(got) == sent and len(stack.all) == N
    assert len(set(ids(stack.all))) == N and all(ids(stack.all))
    assert all(e["source"] == "module" for e in stack.all)
    for path, e in got.items():
        if path.startswith("/sqli/"):
            assert "942100" in rule_ids(e), e
        elif path == "/hostile":
            assert "941100" in rule_ids(e), e
        else:
            assert "941100" in rule_ids(e) and "942100" not in rule_ids(e), e
        if path.startswith("/sqli/b") or path.startswith("/xss/"):
            assert (e["status"], e["intercepted"], e["verdict"]) == (403, True, "intercepted")
            assert e["engine"] == "on"
        else:
            assert (e["intercepted"], e["verdict"]) == (False, "would_block"), e
            assert e["engine"] == "detection_only"
    # Newest first.
    times = [e["time_us"] for e in stack.all]
    assert times == sorted(times, reverse=True)


def grep(e, text: str) -> bool:
    return any(text in r["msg"] or text in r["data"] for r in e["rules"])


def test_grep_finds_text_where_it_was_sent(stack):
    assert {e["path"] for e in stack.all if grep(e, "alert(1)")} == \
        {"/xss/0", "/xss/1", "/admin/x"}
    assert "/hostile" in {e["path"] for e in stack.all if grep(e, "calc'!A0")}


def expect(stack, keep) -> list[str]:
    return [e["unique_id"] for e in stack.all if keep(e)]


FILTERS = [
    (("--rule", "942100"), lambda e: "942100" in rule_ids(e)),
    (("--rule", "941100"), lambda e: "941100" in rule_ids(e)),
    (("--vhost", "block.test"), lambda e: e["vhost"] == "block.test"),
    (("--client", "127.0.0.1"), lambda e: True),
    (("--client", "192.0.2.1"), lambda e: False),
    (("--path", "/sqli/"), lambda e: e["path"].startswith("/sqli/")),
    (("--path", "/sqli/d"), lambda e: e["path"].startswith("/sqli/d")),
    (("--status", "403"), lambda e: e["status"] == 403),
    (("--intercepted",), lambda e: e["intercepted"]),
    (("--would-block",), lambda e: e["verdict"] == "would_block"),
    (("--source", "module"), lambda e: True),
    (("--source", "import:none"), lambda e: False),
    # Inferred for the module's events: intercepted is On, 949110 without it DetectionOnly.
    (("--engine", "on"), lambda e: e["intercepted"]),
    (("--engine", "detection-only"), lambda e: e["verdict"] == "would_block"),
    (("--grep", "alert(1)"), lambda e: grep(e, "alert(1)")),
    (("--grep", "calc'!A0"), lambda e: grep(e, "calc'!A0")),
    (("--window", "1h"), lambda e: True),
    (("--vhost", "detect.test", "--rule", "941100", "--would-block"),
     lambda e: e["vhost"] == "detect.test" and "941100" in rule_ids(e)),
]


@pytest.mark.parametrize("args,keep", FILTERS, ids=[" ".join(a) for a, _ in FILTERS])
def test_events_filters_from_history(stack, args, keep):
    doc = listing(stack, *args)
    assert doc["from"] == "history"
    assert ids(doc["events"]) == expect(stack, keep)
    assert "next" not in doc


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_since_and_until_split_the_batches(stack):
    batch1 = [e for e in stack.all if e["path"].startswith("/sqli/")]
    boundary = max(e["time_us"] for e in batch1) // 1_000_000 + 1
    assert all(e["time_us"] >= boundary * 1_000_000 for e in stack.all if e not in batch1)
    assert ids(listing(stack, "--until", iso(boundary))["events"]) == ids(batch1)
    assert ids(listing(stack, "--since", iso(boundary))["events"]) == \
        [e["unique_id"] for e in stack.all if e not in batch1]
    assert listing(stack, "--until", iso(time.time() - 3600))["events"] == []


def test_cursor_pages_every_event_once(stack):
    seen: list[str] = []
    cursor = None
    for _ in range(N + 1):
        args = ["events", "--limit", "2"] + (["--cursor", cursor] if cursor else [])
        page = cli_json(stack, *args)
        assert page["from"] == "history" and len(page["events"]) <= 2
        seen += ids(page["events"])
        cursor = page.get("next")
        if cursor is None:
            break
    assert seen == ids(stack.all)
    # The table names the next page.
    table = stack.cli("events", "--limit", "2")
    assert table.returncode == 0, table.stderr
    first = cli_json(stack, "events", "--limit", "2")
    assert f"more: --cursor {first['next']}" in table.stdout


def test_bad_cursor_and_filters_are_refused(stack):
    res = stack.cli("events", "--cursor", "not-a-cursor")
    assert res.returncode == 2 and "--cursor" in res.stderr
    res = stack.cli("events", "--status", "42")
    assert res.returncode == 2
    res = stack.cli("events", "--engine", "off")
    assert res.returncode == 2


def test_event_shows_every_finding_with_its_score(stack):
    e = by_path(stack.all)["/sqli/d0"]
    doc = cli_json(stack, "event", e["unique_id"])
    assert doc["from"] == "history"
    full = doc["event"]
    assert full["unique_id"] == e["unique_id"] and full["source"] == "module"
    assert full["verdict"] == "would_block" and full["engine"] == "detection_only"
    assert [r["id"] for r in full["rules"]] == [r["id"] for r in e["rules"]]
    points = {"CRITICAL": 5, "ERROR": 4, "WARNING": 3, "NOTICE": 2}
    for r in full["rules"]:
        for key in ("target", "data", "tags", "severity", "pl", "phase", "msg"):
            assert key in r, (key, r)
        scoring = not r["id"].startswith(("949", "959", "980"))
        assert r["score"] == (points.get(r["severity"], 0) if scoring else 0), r
    scores = full["scores"]
    assert full["score_sum"] == scores["inbound"] + scores["outbound"] > 0
    assert scores["inbound"] >= scores["inbound_threshold"]

    text = stack.cli("event", e["unique_id"])
    assert text.returncode == 0, text.stderr
    for r in full["rules"]:
        assert r["id"] in text.stdout
    assert "+5" in text.stdout and "would_block" in text.stdout and "module" in text.stdout

    missing = stack.cli("event", "no-such-request")
    assert missing.returncode == 1 and "no request with unique_id \"no-such-request\" in " \
        "history or among the recent events" in missing.stderr, missing.stderr


def test_export_jsonl_and_csv_hold_the_same_events(stack):
    res = stack.cli("export", "--format", "jsonl")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    exported = [json.loads(line) for line in lines]
    assert ids(exported) == ids(stack.all)

    res = stack.cli("export", "--format", "csv")
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout, newline="")))
    assert [r["unique_id"] for r in rows] == ids(stack.all)
    for row, e in zip(rows, stack.all):
        assert row["path"] == e["path"] and row["status"] == str(e["status"])
        assert row["rules"].split(";") == list(dict.fromkeys(r["id"] for r in e["rules"]))
        # A formula in a cell is neutralised for spreadsheets.
        assert e["user_agent"] == FORMULA_AGENT
        assert row["user_agent"] == "'" + FORMULA_AGENT

    # The same filters as events.
    res = stack.cli("export", "--format", "jsonl", "--rule", "941100", "--vhost", "block.test")
    assert res.returncode == 0, res.stderr
    assert [json.loads(x)["unique_id"] for x in res.stdout.splitlines()] == \
        expect(stack, lambda e: e["vhost"] == "block.test" and "941100" in rule_ids(e))


def test_hostile_strings_come_out_escaped(stack):
    e = by_path(stack.all)["/hostile"]
    data = [r["data"] for r in e["rules"] if "\x1b" in r["data"]]
    assert data, e["rules"]  # the raw ESC reached history
    res = stack.cli("event", e["unique_id"])
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout and "\\x1b[31m" in res.stdout, res.stdout
    res = stack.cli("events", "--grep", "calc")
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout and "/hostile" in res.stdout
    for fmt in ("jsonl", "csv"):
        res = stack.cli("export", "--format", fmt, "--path", "/hostile")
        assert res.returncode == 0, res.stderr
        assert not any(c < " " and c not in "\r\n" for c in res.stdout), res.stdout
    res = stack.cli("export", "--format", "jsonl", "--path", "/hostile")
    assert "\\u001b" in res.stdout
    assert json.loads(res.stdout)["rules"] == e["rules"]


def test_history_page_latency(stack):
    """Not a speed assertion: prints a page's round trip over the query socket."""
    line = json.dumps({"cmd": "events", "rule": "942100", "limit": 100}).encode() + b"\n"
    samples = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(stack.collector.query_socket))
        f = s.makefile("rb")
        for _ in range(20):
            start = time.perf_counter()
            s.sendall(line)
            answer = json.loads(f.readline())
            samples.append(time.perf_counter() - start)
            assert answer["from"] == "history" and len(answer["events"]) == 6
    samples.sort()
    print(f"\nhistory page ({N} stored events, rule filter): median "
          f"{samples[len(samples) // 2] * 1000:.2f} ms, max {samples[-1] * 1000:.2f} ms")


def test_history_survives_a_restart(stack):
    stack.collector.restart()
    after = wait_history(stack, N)
    assert ids(after) == ids(stack.all)
    doc = cli_json(stack, "event", stack.all[-1]["unique_id"])
    assert doc["from"] == "history"


def test_answers_keep_their_order_on_one_connection(stack):
    """Lines sent together: a history answer comes from the worker thread later than the
    health answer would, yet every answer comes back in the order asked."""
    uid = stack.all[-1]["unique_id"]
    lines = [{"cmd": "events", "rule": "942100", "limit": 2}, {"cmd": "health"},
             {"cmd": "event", "unique_id": uid}, {"cmd": "vhosts"},
             {"cmd": "events", "cursor": "bad"}, {"cmd": "events", "limit": 1}]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(stack.collector.query_socket))
        s.settimeout(60)
        s.sendall(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
        f = s.makefile("rb")
        answers = [json.loads(f.readline()) for _ in lines]
    assert answers[0]["from"] == "history" and len(answers[0]["events"]) == 2
    assert "uptime_s" in answers[1]
    assert answers[2]["from"] == "history" and answers[2]["event"]["unique_id"] == uid
    assert "vhosts" in answers[3]
    assert answers[4]["ok"] is False and "cursor" in answers[4]["error"]
    assert answers[5]["from"] == "history" and len(answers[5]["events"]) == 1
    # health's history figures are refreshed once a second.
    deadline = time.monotonic() + 60
    while stack.health()["history"]["queries"] < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    history = stack.health()["history"]
    assert history["queries"] >= 3 and history["queries_refused"] == 0, history


def test_timeseries_longer_than_memory_from_history(stack):
    doc = cli_json(stack, "timeseries", "--resolution", "minute", "--window", "2d",
                   "--rule", "941100")
    assert doc["from"] == "history"
    per_vhost = {s["vhost"]: s for s in doc["series"]}
    assert set(per_vhost) == {"detect.test", "block.test"}
    for vhost, series in per_vhost.items():
        mine = [e for e in stack.all if e["vhost"] == vhost]
        points = series["points"]
        assert sum(p["events"] for p in points) == len(mine)
        assert sum(p["intercepted"] for p in points) == sum(e["intercepted"] for e in mine)
        assert sum(p["rule_hits"] for p in points) == \
            sum("941100" in rule_ids(e) for e in mine)
    # Within memory's 24 hours of minutes: answered from memory, as before.
    assert "from" not in cli_json(stack, "timeseries", "--resolution", "minute", "--window", "1h")
    table = stack.cli("timeseries", "--resolution", "minute", "--window", "2d")
    assert table.returncode == 0 and "detect.test" in table.stdout


def ask_timed(stack, request: dict) -> tuple[dict, float]:
    """One request over the query socket: the answer and its round trip in seconds."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(stack.collector.query_socket))
        s.settimeout(60)
        start = time.perf_counter()
        s.sendall(json.dumps(request).encode() + b"\n")
        answer = json.loads(s.makefile("rb").readline())
        return answer, time.perf_counter() - start


def test_long_windows_of_stats_rules_top_from_history(stack):
    """After a restart without the snapshot, memory knows nothing; `stats`, `rules` and
    `top` over 7 days give what the traffic stored, from history."""
    stack.collector.stop()
    (stack.state_dir / "state.json").unlink(missing_ok=True)
    stack.collector.start()
    assert cli_json(stack, "rules")["rules"] == []  # memory counted nothing since
    assert len(wait_history(stack, N)) == N

    def iso_s(time_us: int) -> str:
        return datetime.fromtimestamp(time_us // 1_000_000, timezone.utc) \
            .strftime("%Y-%m-%dT%H:%M:%SZ")

    vhosts = sorted({e["vhost"] for e in stack.all})
    stats = cli_json(stack, "stats", "--window", "7d")
    assert stats["from"] == "history"
    assert [v["vhost"] for v in stats["vhosts"]] == vhosts
    expected_rules = []
    for v in stats["vhosts"]:
        mine = [e for e in stack.all if e["vhost"] == v["vhost"]]
        assert v["window_s"] == 7 * 24 * 3600
        assert (v["events"], v["flagged"], v["intercepted"], v["would_block"]) == (
            len(mine), len(mine), sum(e["intercepted"] for e in mine),
            sum(e["verdict"] == "would_block" for e in mine)), v
        hits: dict[str, list[dict]] = {}
        for e in mine:
            for rule in rule_ids(e):
                hits.setdefault(rule, []).append(e)
        assert {r["id"]: r["hits"] for r in v["rules"]} == \
            {rule: len(es) for rule, es in hits.items()}, v["rules"]
        counts = [r["hits"] for r in v["rules"]]
        assert counts == sorted(counts, reverse=True)
        for r in v["rules"]:
            assert r["last_seen"] == iso_s(max(e["time_us"] for e in hits[r["id"]]))
            expected_rules.append((v["vhost"], r["id"], r["hits"]))

    rules = cli_json(stack, "rules", "--window", "7d")
    assert rules["from"] == "history"
    assert [(r["vhost"], r["id"], r["hits"]) for r in rules["rules"]] == expected_rules
    one = cli_json(stack, "rules", "--window", "7d", "--vhost", "block.test", "--rule", "942100")
    assert [(r["vhost"], r["id"], r["hits"]) for r in one["rules"]] == \
        [("block.test", "942100", sum(p.startswith("/sqli/b") for _, p in BATCH1))]
    # Where it matched in the window, from history alone (memory was reset): its events'
    # paths and its findings' targets, 8 of each by count, then value.
    hit = [e for e in stack.all if e["vhost"] == "block.test" and "942100" in rule_ids(e)]

    def top8(counts: Counter) -> list[dict]:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
        return [{"value": k, "count": n, "error": 0} for k, n in ranked]

    assert one["rules"][0]["top_paths"] == top8(Counter(e["path"] for e in hit))
    assert one["rules"][0]["top_targets"] == top8(Counter(
        r["target"] for e in hit for r in e["rules"] if r["id"] == "942100" and r.get("target")))
    assert one["rules"][0]["top_targets"], one
    assert all("top_paths" not in r for r in rules["rules"])  # only with a rule

    top = cli_json(stack, "top", "clients", "--window", "7d")
    assert top["from"] == "history" and top["error_bound"] == 0
    clients = sorted({e["client"] for e in stack.all})
    assert top["top"] == [{"value": c, "count": sum(e["client"] == c for e in stack.all),
                           "error": 0} for c in clients]
    paths = cli_json(stack, "top", "paths", "--window", "7d", "--vhost", "detect.test")
    assert sorted((e["value"], e["count"], e["vhost"]) for e in paths["top"]) == \
        sorted((e["path"], 1, "detect.test") for e in stack.all if e["vhost"] == "detect.test")
    # Tables too; the live view takes no window.
    table = stack.cli("top", "clients", "--window", "7d")
    assert table.returncode == 0 and "exact counts" in table.stdout, table
    assert stack.cli("top", "--window", "7d").returncode == 2
    # Within memory's 24 hours stats answer from memory (empty since the restart).
    assert "from" not in cli_json(stack, "stats", "--window", "1h")

    # Not a speed assertion: prints the round trips of these answers.
    for request in ({"cmd": "stats", "window": 604800},
                    {"cmd": "rules", "window": 604800},
                    {"cmd": "top", "list": "clients", "window": 604800}):
        samples = []
        for _ in range(10):
            answer, took = ask_timed(stack, request)
            assert answer["ok"] and answer["from"] == "history", answer
            samples.append(took)
        samples.sort()
        print(f"\n{request['cmd']} --window 7d from history ({N} stored events): median "
              f"{samples[len(samples) // 2] * 1000:.2f} ms, max {samples[-1] * 1000:.2f} ms")
