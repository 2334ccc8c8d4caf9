"""End to end: real Apache + mod_security2 + CRS + mod_modsec_observe -> real
modsec-observed -> `modsec-observe stats`.

One stack per configuration (CRS 3.3.4 / 4.28, mpm_event / mpm_prefork) receives a fixed,
shuffled mix of benign and attack requests on eight virtual hosts, sent from 8 threads.
The collector's numbers are then compared two ways: with what the test sent (exact
counts per vhost), and with what Apache itself logged (access log for requests and
statuses, ModSecurity's error-log alert lines for rules, flags and interceptions).
"""

from __future__ import annotations

import json
import random
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import crs_params
from sandbox import FLUSH_MS, Stack, VirtualHost, short_temp_dir, stop_stack, stop_stack_checked

q = urllib.parse.quote

K = 10   # benign requests per vhost
N = 7    # SQL injections to block.test (SecRuleEngine On: 403)
M = 4    # SQL injections to detect.test (DetectionOnly: 200)
D = 3    # SQL injections with `Host: 127.0.0.1`: land on the first vhost, default.test
E = 3    # POSTs with `Expect: 100-continue` to expect.test (920450 in CRS 4 only)
T = 2    # 1,100-byte argument names to trunc.test (messages cut before [id])
L = 2    # SQL injections to label.test (ModSecObserveVhostName label-vhost)
O = 2    # SQL injections to off.test (ModSecObserve Off)

SQLI_PATH = "/?id=" + q("1' OR 1=1--")
LONG_NAME = "<script>alert(1)</script>" + "a" * (1100 - len("<script>alert(1)</script>"))
TRUNC_PATH = "/?" + q(LONG_NAME) + "=1"
LABEL = "label-vhost"

VHOSTS = [
    VirtualHost("default.test", "DetectionOnly"),   # first: takes unknown Host headers
    VirtualHost("detect.test", "DetectionOnly"),
    VirtualHost("block.test", "On"),
    VirtualHost("clean.test", "On"),
    VirtualHost("expect.test", "DetectionOnly"),
    VirtualHost("trunc.test", "DetectionOnly"),
    VirtualHost("label.test", "On", extra=f"    ModSecObserveVhostName {LABEL}"),
    VirtualHost("off.test", "On", extra="    ModSecObserve Off"),
]
# Apache's ServerName -> the name the collector must report (None: not observed).
REPORTED = {v.name: v.name for v in VHOSTS} | {"label.test": LABEL, "off.test": None}


@dataclass(frozen=True)
class Req:
    vhost: str            # the ServerName Apache will pick
    kind: str
    path: str
    status: int           # what the client must see
    host: str = ""        # Host header when it is not the vhost name
    method: str = "GET"
    headers: tuple = ()
    body: bytes | None = None


def traffic_plan() -> list[Req]:
    plan = [Req(v.name, "benign", p, 200) for v in VHOSTS
            for p in ["/", "/index.html", "/?page=2&sort=name"] * (K // 3) + ["/"] * (K % 3)]
    plan += [Req("block.test", "sqli", SQLI_PATH, 403)] * N
    plan += [Req("detect.test", "sqli", SQLI_PATH, 200)] * M
    plan += [Req("default.test", "sqli", SQLI_PATH, 200, host="127.0.0.1")] * D
    plan += [Req("expect.test", "expect", "/", 200, method="POST",
                 headers=(("Expect", "100-continue"),
                          ("Content-Type", "application/x-www-form-urlencoded")),
                 body=b"a=1")] * E
    plan += [Req("trunc.test", "long-arg-name", TRUNC_PATH, 200)] * T
    plan += [Req("label.test", "sqli", SQLI_PATH, 403)] * L
    plan += [Req("off.test", "sqli", SQLI_PATH, 403)] * O
    random.Random(42).shuffle(plan)
    return plan


_ID = re.compile(r'\[id "(\d+)"\]')
_UID = re.compile(r'\[unique_id "([^"]+)"\]')


@dataclass
class Expected:
    """What Apache's own logs say, per reported vhost name."""
    requests: Counter = field(default_factory=Counter)
    status: dict = field(default_factory=lambda: defaultdict(Counter))
    flagged: Counter = field(default_factory=Counter)
    intercepted: Counter = field(default_factory=Counter)
    hits: dict = field(default_factory=lambda: defaultdict(Counter))     # vhost -> id -> n
    matches: dict = field(default_factory=lambda: defaultdict(Counter))
    truncated: Counter = field(default_factory=Counter)


def expected_from_logs(stack: Stack) -> Expected:
    exp = Expected()
    uid_vhost: dict[str, str | None] = {}
    for line in stack.apache.access_log_lines():
        # "%v %{local}p %{UNIQUE_ID}e %a \"%r\" %>s %b"
        vhost, _port, uid = line.split(" ", 3)[:3]
        status = line.rsplit(" ", 2)[-2]
        name = REPORTED[vhost]
        uid_vhost[uid] = name
        if name is None:
            continue
        exp.requests[name] += 1
        exp.status[name][status] += 1
    flagged: dict[str, set] = defaultdict(set)
    denied: dict[str, set] = defaultdict(set)
    rule_reqs: dict[tuple, set] = defaultdict(set)
    for line in stack.apache.modsec_lines():
        uid = _UID.search(line)
        assert uid, f"alert line without unique_id: {line}"
        name = uid_vhost.get(uid.group(1))
        if name is None:
            continue
        flagged[name].add(uid.group(1))
        if "ModSecurity: Access denied" in line:
            denied[name].add(uid.group(1))
        rid = _ID.search(line)
        if rid:
            exp.matches[name][rid.group(1)] += 1
            rule_reqs[(name, rid.group(1))].add(uid.group(1))
        else:
            exp.truncated[name] += 1
    for name, uids in flagged.items():
        exp.flagged[name] = len(uids)
    for name, uids in denied.items():
        exp.intercepted[name] = len(uids)
    for (name, rid), uids in rule_reqs.items():
        exp.hits[name][rid] = len(uids)
    return exp


@dataclass
class Run:
    crs: str
    mpm: str
    stack: Stack
    plan: list[Req]
    statuses: list[int]
    stats: dict[str, dict]      # vhost name -> stats entry, after the flush
    exp: Expected

    def rules(self, vhost: str) -> dict[str, dict]:
        return {r["id"]: r for r in self.stats.get(vhost, {}).get("rules", [])}

    def sent(self, vhost: str, kind: str | None = None) -> int:
        return sum(1 for r in self.plan if r.vhost == vhost and kind in (None, r.kind))

    def context(self) -> str:
        return f"CRS {self.crs}, mpm_{self.mpm}\n{self.stack.diagnostics()}"


def send(stack: Stack, r: Req) -> int:
    return stack.apache.request(r.host or r.vhost, r.path, method=r.method,
                                headers=dict(r.headers), body=r.body).status


CONFIGS = [pytest.param(("3", "event"), id="crs3-event"),
           *[pytest.param((p.values[0], "event"), marks=p.marks, id="crs4-event")
             for p in crs_params("4")],
           pytest.param(("3", "prefork"), id="crs3-prefork")]


@pytest.fixture(scope="module", params=CONFIGS)
def run(request, stack_factory) -> Run:
    crs, mpm = request.param
    failed_before = request.session.testsfailed
    stack = stack_factory(crs=crs, mpm=mpm, vhosts=VHOSTS)
    try:
        plan = traffic_plan()
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda r: send(stack, r), plan))
        stack.apache.wait_access_lines(len(plan))
        exp = expected_from_logs(stack)
        stats = stack.wait_requests(dict(exp.requests))
        yield Run(crs, mpm, stack, plan, statuses, stats, exp)
    finally:
        # Lines logged while stopping (e.g. a failed final flush) count too.
        bad = stop_stack_checked(stack, keep=request.session.testsfailed > failed_before)
    assert not bad, ("unexpected error-log lines while stopping Apache "
                     f"(CRS {crs}, mpm_{mpm}):\n" + "\n".join(bad))


# ------------------------------------------------------------------------- tests

def test_sandbox_answers_as_expected(run: Run):
    """Not the module's job, but every later number relies on it."""
    wrong = [(r.vhost, r.kind, r.status, got) for r, got in zip(run.plan, run.statuses)
             if r.status != got]
    assert not wrong, f"client saw unexpected statuses (vhost, kind, want, got): {wrong}"
    assert len(run.stack.apache.access_log_lines()) == len(run.plan)
    assert run.exp.flagged["clean.test"] == 0, "benign requests were flagged by CRS"


def test_requests_per_vhost(run: Run):
    got = {v: s["requests"] for v, s in run.stats.items()}
    want = {REPORTED[v.name]: run.sent(v.name) for v in VHOSTS if REPORTED[v.name]}
    assert got == want, f"requests per vhost: collector {got}, sent {want}\n{run.context()}"
    assert got == dict(run.exp.requests), "collector disagrees with the access log"


def test_sqli_hits_per_vhost(run: Run):
    want = {"block.test": N, "detect.test": M, "default.test": D, LABEL: L}
    for vhost, n in want.items():
        rule = run.rules(vhost).get("942100")
        assert rule is not None, f"942100 missing on {vhost}: {run.stats.get(vhost)}"
        assert rule["hits"] == n, f"942100 hits on {vhost}: {rule}, want {n}"
        assert rule["msg"] == "SQL Injection Attack Detected via libinjection"
        assert rule["severity"] == "CRITICAL"
    for vhost in ("clean.test", "expect.test", "trunc.test"):
        assert "942100" not in run.rules(vhost), f"942100 on {vhost}: {run.stats[vhost]}"


def test_intercepted_per_vhost(run: Run):
    got = {v: s["intercepted"] for v, s in run.stats.items()}
    want = {REPORTED[v.name]: 0 for v in VHOSTS if REPORTED[v.name]}
    want |= {"block.test": N, LABEL: L}
    assert got == want, f"intercepted: collector {got}, want {want}"
    saw_403 = Counter(r.vhost for r, s in zip(run.plan, run.statuses) if s == 403)
    assert got["block.test"] == saw_403["block.test"]
    assert got == {v: run.exp.intercepted[v] for v in got}, "disagrees with the error log"


def test_flagged_per_vhost(run: Run):
    got = {v: s["flagged"] for v, s in run.stats.items()}
    want = {REPORTED[v.name]: 0 for v in VHOSTS if REPORTED[v.name]}
    want |= {"block.test": N, "detect.test": M, "default.test": D, "trunc.test": T,
             LABEL: L, "expect.test": E if run.crs == "4" else 0}
    assert got == want, f"flagged: collector {got}, want {want}"
    assert got == {v: run.exp.flagged[v] for v in got}, "disagrees with the error log"


def test_rule_table_matches_error_log(run: Run):
    """Every rule id ModSecurity logged for a vhost, with hits (requests) and matches
    (messages) -- nothing more, nothing attributed to the wrong vhost."""
    for vhost in run.stats:
        got = {rid: (r["hits"], r.get("matches")) for rid, r in run.rules(vhost).items()}
        want = {rid: (run.exp.hits[vhost][rid], run.exp.matches[vhost][rid])
                for rid in run.exp.hits[vhost]}
        assert got == want, f"rules on {vhost}: collector {got}\nerror log {want}"


def test_correlation_rules_counted(run: Run):
    correlation = "980130" if run.crs == "3" else "980170"
    rules = run.rules("block.test")
    assert rules.get("949110", {}).get("hits") == N
    assert rules.get(correlation, {}).get("hits") == N, f"{correlation}: {rules}"


def test_truncated_messages_counted(run: Run):
    got = {v: s.get("truncated_findings") for v, s in run.stats.items()}
    assert got["trunc.test"] == run.exp.truncated["trunc.test"] > 0, got
    assert all(n == 0 for v, n in got.items() if v != "trunc.test"), got


def test_expect_header(run: Run):
    rule = run.rules("expect.test").get("920450")
    if run.crs == "4":
        assert rule is not None and rule["hits"] == E, f"920450: {run.stats['expect.test']}"
    else:   # CRS 3.3.4 does not restrict Expect
        assert rule is None and run.stats["expect.test"]["flagged"] == 0


def test_vhost_comes_from_server_not_host_header(run: Run):
    assert "127.0.0.1" not in run.stats, f"vhost taken from Host header: {list(run.stats)}"
    assert run.stats["default.test"]["requests"] == K + D


def test_vhost_label_and_off(run: Run):
    assert LABEL in run.stats and "label.test" not in run.stats, list(run.stats)
    assert "off.test" not in run.stats, f"ModSecObserve Off reported: {run.stats.get('off.test')}"


def test_status_per_vhost(run: Run):
    for vhost, s in run.stats.items():
        want = dict(run.exp.status[vhost])
        assert s.get("status") == want, f"status on {vhost}: {s.get('status')}, log {want}"


def test_ports_and_event_counts(run: Run):
    for vhost, s in run.stats.items():
        assert s.get("ports") == [run.stack.apache.port], f"{vhost}: {s}"
        assert s.get("events") == s["flagged"], f"{vhost} events/flagged: {s}"
        assert s.get("events_without_scores") == 0, f"{vhost}: scores missing: {s}"
        assert s.get("events_lost") == 0, f"{vhost}: {s}"


def test_health(run: Run):
    h = run.stack.health()
    assert h.get("malformed") == 0, f"collector rejected datagrams: {h}"
    assert h.get("events_lost") == 0, h
    assert h.get("request_events") == sum(s["flagged"] for s in run.stats.values()), h
    assert h.get("vhosts") == len(run.stats), h


def test_stats_vhost_filter(run: Run):
    res = run.stack.cli("stats", "--vhost", "block.test", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [v["vhost"] for v in doc["vhosts"]] == ["block.test"], doc


def test_table_output(run: Run):
    res = run.stack.cli("stats")
    assert res.returncode == 0, f"stats failed: {res.stderr}"
    for word in ("detect.test", "block.test", LABEL, "942100"):
        assert word in res.stdout, f"{word!r} missing from the table:\n{res.stdout}"


def test_error_log_has_no_unexpected_lines(run: Run):
    bad = run.stack.apache.unexpected_log_lines()
    assert not bad, "unexpected error-log lines:\n" + "\n".join(bad)


# ---------------------------------------------------------------- without collector

@pytest.fixture()
def scratch_dir():
    d = short_temp_dir("msoit-t")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("args", [("stats",), ("stats", "--json"), ("health", "--json")])
@pytest.mark.parametrize("socket_kind", ["missing", "stale"])
def test_cli_fails_clearly_without_collector(binaries, scratch_dir: Path, args, socket_kind):
    path = scratch_dir / "q.sock"
    if socket_kind == "stale":   # a socket file nobody listens on (collector died)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(path))
        s.close()
    res = subprocess.run([str(binaries.cli), "--socket", str(path), *args],
                         capture_output=True, text=True, timeout=10, check=False)
    assert res.returncode != 0, f"exit 0 without a collector: {res.stdout}"
    msg = res.stderr.strip()
    assert msg, "no message on stderr"
    assert str(path) in msg or re.search(r"collector|running|connect", msg, re.I), msg
    assert "Traceback" not in msg and "terminate called" not in msg, msg


def test_counters_survive_collector_start_after_apache(binaries, stack_factory):
    """Apache never waits for the collector: requests made while it is down are answered
    normally, their events are counted as lost, and the clean-request counters arrive
    once it is up (a failed report is kept and sent with the next one)."""
    stack = stack_factory(crs="3", mpm="event", vhosts=VHOSTS[:3], start_collector=False)
    failed = True
    try:
        plan = [Req("detect.test", "benign", "/", 200)] * 8 + \
               [Req("block.test", "sqli", SQLI_PATH, 403)] * 3
        for r in plan:
            assert send(stack, r) == r.status
        stack.apache.wait_access_lines(len(plan))
        time.sleep(3 * FLUSH_MS / 1000)   # let some reports fail first
        stack.collector.start()
        stats = stack.wait_requests({"detect.test": 8, "block.test": 3})
        module_lines = [l for l in stack.apache.error_log_lines() if "modsec_observe" in l]
        assert len(module_lines) <= 5, "the module logs per request:\n" + "\n".join(module_lines)
        # The module may warn (rate-limited) that the collector is unreachable; nothing else.
        bad = [l for l in stack.apache.unexpected_log_lines() if l not in module_lines]
        assert not bad, "unexpected error-log lines:\n" + "\n".join(bad)
        got = {v: (s["requests"], s.get("events_lost")) for v, s in stats.items()}
        assert got == {"detect.test": (8, 0), "block.test": (3, 3)}, got
        failed = False
    finally:
        stop_stack(stack, keep=failed)


def test_vhosts_say_their_configured_engine(stack_factory):
    """The module reports each vhost's SecRuleEngine as Apache's configuration sets it,
    with its counts (docs/protocol.md): the vhost's own (also from inside <IfModule>),
    else the top level's (the sandbox's modsecurity.conf says DetectionOnly). A
    <Location> that sets another value makes it depend on the request: not said; one
    that sets the same value changes nothing. Clean requests only: the engine is known
    before anything is flagged."""
    ifmodule = "    <IfModule security2_module>\n        SecRuleEngine On\n    </IfModule>"
    same = "    <Location /admin>\n        SecRuleEngine On\n    </Location>"
    other = "    <Location /open>\n        SecRuleEngine Off\n    </Location>"
    vhosts = [VirtualHost("on.test", "On", extra=same),
              VirtualHost("detect.test", "DetectionOnly"),
              VirtualHost("off.test", "Off"), VirtualHost("inherit.test", ""),
              VirtualHost("ifmodule.test", "", extra=ifmodule),
              VirtualHost("location.test", "On", extra=other)]
    stack = stack_factory(crs="3", mpm="event", vhosts=vhosts)
    failed = True
    try:
        for v in vhosts:
            assert send(stack, Req(v.name, "benign", "/", 200)) == 200
        stats = stack.wait_requests({v.name: 1 for v in vhosts})
        expected = {"on.test": "on", "detect.test": "detection_only", "off.test": "off",
                    "inherit.test": "detection_only", "ifmodule.test": "on",
                    "location.test": None}
        assert {v: stats[v].get("engine") for v in expected} == expected
        rows = stack._json_cli("vhosts", "--json")["vhosts"]
        assert {r["vhost"]: r.get("engine") for r in rows if r["vhost"] in expected} == expected
        failed = False
    finally:
        stop_stack(stack, keep=failed)


def wait_until(read, done, timeout: float = 30.0):
    """`read()` until `done(value)` or the timeout; the last value either way."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


@pytest.mark.parametrize("history", [True, False], ids=["history", "ring"])
def test_low_score_events_take_the_vhosts_configured_engine(stack_factory, history):
    """A DetectionOnly vhost's request below the threshold (920350, a numeric Host: 3 of
    5 points) shows no engine mode; once the vhost's SecRuleEngine is reported, its events
    take it: `events --engine detection-only` lists them and `event` says detection_only,
    from history as from the ring. The event that came before the first counter report
    stays unknown (the module sends the engine with the next flush after it)."""
    vhosts = [VirtualHost("detect.test", "DetectionOnly"),  # first: takes Host: 127.0.0.1
              VirtualHost("block.test", "On")]
    state = short_temp_dir("msoit-e") if history else None
    stack = stack_factory(crs="3", mpm="event", vhosts=vhosts,
                          collector_args=["--state-dir", str(state)] if history else [])
    failed = True
    try:
        def low_score() -> dict:
            known = {e["unique_id"] for e in stack.events()}
            assert send(stack, Req("detect.test", "low", "/", 200, host="127.0.0.1")) == 200
            events = wait_until(stack.events, lambda evs: len(evs) > len(known))
            new = [e for e in events if e["unique_id"] not in known]
            assert len(new) == 1, new
            e = new[0]
            assert e["vhost"] == "detect.test" and not e["intercepted"], e
            assert [r["id"] for r in e["rules"]] == ["920350"], e["rules"]
            assert e["scores"]["inbound"] < e["scores"]["inbound_threshold"], e["scores"]
            return e

        def event(uid: str) -> dict:
            want = "history" if history else "ring"
            return wait_until(lambda: stack._json_cli("event", uid, "--json"),
                              lambda a: a["from"] == want)

        def engines() -> dict:
            return {r["vhost"]: r.get("engine")
                    for r in stack._json_cli("vhosts", "--json")["vhosts"]}

        assert engines().get("detect.test") is None
        first = low_score()
        assert wait_until(engines, lambda e: "detect.test" in e and e["detect.test"])[
            "detect.test"] == "detection_only"
        second = low_score()

        want = "history" if history else "ring"
        listed = wait_until(lambda: stack._json_cli("events", "--engine", "detection-only",
                                                    "--limit", "100", "--json"),
                            lambda a: a["from"] == want and len(a["events"]) >= 1)
        assert listed["from"] == want, listed
        assert [e["unique_id"] for e in listed["events"]] == [second["unique_id"]], listed
        if history:  # the ring's `events` entries do not carry the engine
            assert listed["events"][0]["engine"] == "detection_only", listed
        on = stack._json_cli("events", "--engine", "on", "--limit", "100", "--json")
        assert on["events"] == [], on

        for e, engine in ((first, "unknown"), (second, "detection_only")):
            answer = event(e["unique_id"])
            assert answer["from"] == want, answer
            assert answer["event"]["engine"] == engine, answer
            assert answer["event"]["verdict"] == "passed", answer
        failed = False
    finally:
        stop_stack(stack, keep=failed)
        if state is not None and not failed:
            shutil.rmtree(state, ignore_errors=True)


def test_burst_of_attacks_is_fully_accounted(stack_factory):
    """600 SQL injections from 16 client threads: a burst can overflow the event socket's
    queue (net.unix.max_dgram_qlen is 10 by default), so some events may be lost -- but
    every request is answered, counted once, and a lost event shows as events_lost."""
    stack = stack_factory(crs="3", mpm="event", vhosts=VHOSTS[1:3])
    failed = True
    try:
        n = 600
        plan = [Req("detect.test" if i % 2 else "block.test", "sqli", SQLI_PATH,
                    200 if i % 2 else 403) for i in range(n)]

        def attempt(r: Req):
            try:
                return send(stack, r)
            except OSError as e:   # a crashed child drops its connections
                return repr(e)

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(attempt, plan))
        stack.apache.wait_access_lines(n)
        stats = stack.wait_requests({"detect.test": n // 2, "block.test": n // 2})
        bad = stack.apache.unexpected_log_lines()
        module_lines = [l for l in bad if "modsec_observe" in l]
        bad = [l for l in bad if l not in module_lines]
        assert not bad, "unexpected error-log lines:\n" + "\n".join(bad[:10])
        wrong = Counter(str(s) for r, s in zip(plan, statuses) if s != r.status)
        assert not wrong, f"clients saw: {dict(wrong)}"
        for vhost in ("detect.test", "block.test"):
            s = stats[vhost]
            assert s["requests"] == n // 2, f"{vhost}: {s}"
            assert s["flagged"] + s["events_lost"] == n // 2, f"{vhost}: {s}"
            assert s["rules"][0]["hits"] == s["flagged"], f"{vhost}: {s['rules']}"
        failed = False
    finally:
        stop_stack(stack, keep=failed)


def test_events_all_without_snippet(stack_factory):
    """`ModSecObserveEvents all` sends one event per request, clean or not; without
    conf/modsec_observe_rules.conf every event says it has no scores."""
    stack = stack_factory(crs="3", mpm="event", vhosts=VHOSTS[1:3], events="all", snippet=None)
    failed = True
    try:
        plan = [Req("detect.test", "benign", "/", 200)] * 5 + \
               [Req("block.test", "benign", "/", 200)] * 4 + \
               [Req("block.test", "sqli", SQLI_PATH, 403)] * 2
        for r in plan:
            assert send(stack, r) == r.status
        stack.apache.wait_access_lines(len(plan))
        stats = stack.wait_requests({"detect.test": 5, "block.test": 6})
        d, b = stats["detect.test"], stats["block.test"]
        assert (d["events"], d["flagged"], d["events_without_scores"]) == (5, 0, 5), d
        assert (b["events"], b["flagged"], b["intercepted"]) == (6, 2, 2), b
        assert b["events_without_scores"] == 6, b
        health = json.loads(stack.cli("health", "--json").stdout)
        assert health["request_events"] == 11 and health["malformed"] == 0, health
        failed = False
    finally:
        stop_stack(stack, keep=failed)
