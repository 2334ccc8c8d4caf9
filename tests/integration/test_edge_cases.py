"""Edge cases of attributing ModSecurity's findings to requests, each checked against
ModSecurity's own JSON audit log and Apache's access log.

One stack (CRS 3.3.4, mpm_event, HTTP/1.1 and h2c, JSON audit log, a large event ring)
serves most cases, one virtual host per topic. `LogLevel security2:crit` and
`ModSecObserve Off` need stacks of their own. test_end_to_end.py already counts
truncated messages, unknown Host headers, labels and Off vhosts per vhost; here the
same situations are checked request by request.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import time
import urllib.parse
from collections import Counter

import pytest

import corpus
from corpus import Case
from sandbox import FLUSH_MS, Stack, VirtualHost, stop_stack

q = urllib.parse.quote
SQLI = q("1' OR 1=1--")
HDR = {"User-Agent": corpus.UA, "Accept": "text/html", "Accept-Language": "en"}

# Rules with each combination of ModSecurity's log/auditlog actions, on a probe argument
# only these tests send.
LOG_ACTION_RULES = "\n".join(
    f'SecRule ARGS:mso_probe "@streq {arg}" "id:{rid},phase:2,pass,{actions}msg:\'{arg}\'"'
    for rid, arg, actions in [(10001, "log-noauditlog", "log,noauditlog,"),
                              (10002, "nolog-auditlog", "nolog,auditlog,"),
                              (10003, "nolog", "nolog,"),
                              (10004, "log-auditlog", "log,auditlog,"),
                              (10005, "default", "")]) + "\n"

SSI_PAGE = ('<html><body><!--#include virtual="/part.html?id=' + SQLI + '" -->'
            '<!--#include virtual="/part.html" --></body></html>\n')

VHOSTS = [
    # First vhost for 127.0.0.1: unknown Host headers and unparseable requests land here.
    VirtualHost("first.test", "On", extra="    ModSecObserveEvents flagged"),
    VirtualHost("errdoc.test", "On", files={"errors/403.html": "<p>denied</p>\n",
                                            "errors/404.html": "<p>not here</p>\n"},
                extra="    ErrorDocument 403 /errors/403.html\n"
                      "    ErrorDocument 404 /errors/404.html\n    ModSecObserveEvents all"),
    VirtualHost("errdetect.test", "DetectionOnly", files={"errors/404.html": "<p>gone</p>\n"},
                extra="    ErrorDocument 404 /errors/404.html\n    ModSecObserveEvents all"),
    VirtualHost("ssi.test", "DetectionOnly",
                files={"page.shtml": SSI_PAGE, "part.html": "<p>part</p>\n",
                       "sub/index.html": "<p>sub</p>\n"},
                extra="    AddType text/html .shtml\n    AddOutputFilter INCLUDES .shtml\n"
                      "    ModSecObserveEvents all\n"
                      "    <Location />\n        Options +Includes\n    </Location>"),
    VirtualHost("ka.test", "DetectionOnly", files=corpus.LEAK_FILES,
                extra="    ModSecObserveEvents all"),
    VirtualHost("rules.test", "DetectionOnly", extra="    ModSecObserveEvents all"),
]


def _wait(predicate, timeout: float = 60.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.fixture(scope="module")
def stack(request, stack_factory):
    failed_before = request.session.testsfailed
    s = stack_factory(crs="3", vhosts=VHOSTS, audit_json=True,
                      extra_modules=["include", "http2"], modsec_conf=LOG_ACTION_RULES,
                      extra_conf="Protocols h2c http/1.1\nH2Direct on\n",
                      collector_args=["--events-ring", "50000"])
    try:
        yield s
    finally:
        stop_stack(s, keep=request.session.testsfailed > failed_before)


class Traffic:
    """What one test sent: the access-log rows, audit messages and events of exactly the
    requests logged between `begin()` and `collect()` (by access-log position)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.start = len(stack.apache.access_log_lines())

    def collect(self, n: int, events_expected: int | None = None):
        apache = self.stack.apache
        assert _wait(lambda: len(apache.access_log_lines()) >= self.start + n), \
            f"access log: {len(apache.access_log_lines()) - self.start} of {n} lines"
        self.rows = corpus.access_log(apache)[self.start:]
        assert len(self.rows) == n, f"{len(self.rows)} access-log lines, want {n}"
        uids = {r["uid"] for r in self.rows}
        _wait(lambda: uids - {"-"} <= set(corpus.audit_messages(apache)), 5)
        self.audit = {u: m for u, m in corpus.audit_messages(apache).items() if u in uids}
        want = events_expected if events_expected is not None else n

        def have() -> bool:
            self.events = [e for e in self.stack.events() if e.get("unique_id") in uids]
            return len(self.events) >= want
        _wait(have, 60, 0.2)
        time.sleep(0.3)
        have()
        self.by_uid: dict[str, list[dict]] = {}
        for e in self.events:
            self.by_uid.setdefault(e["unique_id"], []).append(e)
        return self

    def one_event_each(self) -> None:
        problems = [f"{r['uid']} {r['request']!r}: {len(self.by_uid.get(r['uid'], []))} events"
                    for r in self.rows if len(self.by_uid.get(r["uid"], [])) != 1]
        assert not problems, "want exactly one event per request:\n" + "\n".join(problems)

    def findings_match_audit(self) -> None:
        """Each event's rule ids, in order, are its audit-log messages' ids."""
        problems = []
        for uid, evs in self.by_uid.items():
            got = [f.get("id") or "(no id)" for f in evs[0].get("rules", [])]
            want = [m.id or "(no id)" for m in self.audit.get(uid, [])]
            if got != want:
                problems.append(f"{uid}: module {got}\n    audit  {want}")
        assert not problems, "events differ from the audit log:\n" + "\n".join(problems)


def send(stack: Stack, host: str, path: str, **kw) -> int:
    return corpus.send(stack.apache.port, Case("edge", path, **kw), host)


# ------------------------------------------------------------------ ErrorDocument

@pytest.mark.parametrize("vhost,path,status,intercepted", [
    ("errdoc.test", f"/?id={SQLI}", 403, True),           # denied, then ErrorDocument 403
    ("errdoc.test", f"/missing.html?id={SQLI}", 403, True),
    ("errdetect.test", f"/missing.html?id={SQLI}", 404, False),   # 404 -> ErrorDocument
])
def test_error_document_redirect(stack, vhost, path, status, intercepted):
    """Phase-1/2 messages are logged on the original request, phase 5 (980130) and the
    snippet's scores on the ErrorDocument's internal redirect: the one event has both,
    and the final status."""
    t = Traffic(stack)
    assert send(stack, vhost, path) == status
    t.collect(1)
    t.one_event_each()
    t.findings_match_audit()
    ev = t.events[0]
    ids = [f["id"] for f in ev["rules"]]
    assert "942100" in ids and "949110" in ids and "980130" in ids, ids
    assert ev["status"] == status and t.rows[0]["status"] == status, (ev, t.rows)
    assert ev["intercepted"] is intercepted and ev["phase"] == (2 if intercepted else 0), ev
    assert ev["scores"] is not None and ev["scores"]["inbound"] >= 5, ev["scores"]
    assert ev["path"] == path.split("?")[0], ev["path"]


# -------------------------------------------------------------------- subrequests

def test_ssi_subrequests_are_not_inspected(stack):
    """mod_include's `include virtual` runs subrequests (one with a SQL injection in its
    query); ModSecurity skips subrequests: one event per client request, carrying only
    the client request's own findings."""
    t = Traffic(stack)
    assert send(stack, "ssi.test", "/page.shtml") == 200
    assert send(stack, "ssi.test", f"/page.shtml?q={q('<script>alert(7)</script>')}") == 200
    t.collect(2)
    t.one_event_each()
    t.findings_match_audit()
    # Access-log lines need not be in send order: Apache answers before it logs.
    clean, attack = (t.by_uid[next(r for r in t.rows if ("?q=" in r["request"]) == is_attack)
                              ["uid"]][0] for is_attack in (False, True))
    assert clean["rules"] == [], f"subrequest findings leaked into the page: {clean['rules']}"
    assert attack["rules"] and all("942" not in f["id"] for f in attack["rules"]), attack["rules"]
    assert not [f for f in attack["rules"] if f["target"] == "ARGS:id"
                or "OR 1=1" in f["data"]], attack["rules"]


def test_mod_dir_lookup(stack):
    """mod_dir looks up DirectoryIndex with a subrequest, then redirects internally."""
    t = Traffic(stack)
    assert send(stack, "ssi.test", "/sub/") == 200
    assert send(stack, "ssi.test", f"/sub/?id={SQLI}") == 200
    t.collect(2)
    t.one_event_each()
    t.findings_match_audit()
    # Access-log lines need not be in send order: Apache answers before it logs.
    attack = next(r for r in t.rows if "id=" in r["request"])
    clean = next(r for r in t.rows if "id=" not in r["request"])
    ids = [f["id"] for f in t.by_uid[attack["uid"]][0]["rules"]]
    assert Counter(ids)["942100"] == 1, ids
    assert t.by_uid[clean["uid"]][0]["rules"] == []


# --------------------------------------------------------------------- keep-alive

def test_keepalive_no_cross_talk(stack):
    """60 requests on one connection, attacks and clean ones interleaved, each attack
    marked: every finding's data names its own request's marker."""
    t = Traffic(stack)
    conn = http.client.HTTPConnection("127.0.0.1", stack.apache.port, timeout=10)
    sock_ids = set()
    n = 60
    try:
        for i in range(n):
            path = f"/?q={q(f'<script>alert({i})</script>')}&m=mk{i}x" if i % 3 else f"/?m=mk{i}x"
            conn.request("GET", path, headers={**HDR, "Host": "ka.test"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
            sock_ids.add(id(conn.sock))
    finally:
        conn.close()
    assert len(sock_ids) == 1, "http.client opened more than one connection"
    t.collect(n)
    t.one_event_each()
    t.findings_match_audit()
    problems = []
    for row in t.rows:
        marker = row["request"].split("m=")[1].split(" ")[0]
        ev = t.by_uid[row["uid"]][0]
        i = int(marker[2:-1])
        if bool(ev["rules"]) != bool(i % 3):
            problems.append(f"{marker}: {len(ev['rules'])} findings")
        for f in ev["rules"]:
            if "alert(" in f.get("data", "") and f"alert({i})" not in f["data"]:
                problems.append(f"{marker}: finding of another request: {f['data']}")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------- HTTP/2

NGHTTP = shutil.which("nghttp")


@pytest.mark.skipif(NGHTTP is None, reason="nghttp not found (Debian: apt-get install "
                    "nghttp2-client); HTTP/2 test skipped")
def test_http2_streams(stack):
    """h2c with prior knowledge: 20 concurrent streams on one connection. One event per
    stream (protocol HTTP/2.0), each with its own stream's findings only.
    (nghttp, not curl: with curl 7.88 and httpd 2.4.71 streams after the first failed
    with "Error in the HTTP2 framing layer", also without ModSecurity and this module.)"""
    t = Traffic(stack)
    port = stack.apache.port
    urls = [f"http://127.0.0.1:{port}/?q={q(f'<script>alert({i})</script>')}&m=h{i}x"
            if i % 2 else f"http://127.0.0.1:{port}/?m=h{i}x" for i in range(20)]
    res = subprocess.run([NGHTTP, "-n", "-s", "-H", ":authority: ka.test",
                          "-H", f"user-agent: {corpus.UA}", "-H", "accept: text/html",
                          "-H", "accept-language: en", *urls],
                         capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    statuses = Counter(line.split()[4] for line in res.stdout.splitlines()
                       if "/?" in line and line.split()[0].isdigit())
    assert statuses == {"200": 20}, res.stdout
    t.collect(20)
    t.one_event_each()
    t.findings_match_audit()
    for row in t.rows:
        ev = t.by_uid[row["uid"]][0]
        i = int(row["request"].split("m=h")[1].split("x")[0])
        assert (ev["protocol"], ev["status"]) == ("HTTP/2.0", 200), ev
        assert bool(ev["rules"]) == bool(i % 2), (i, ev["rules"])
        assert all(f"alert({i})" in f["data"] for f in ev["rules"] if "alert(" in f["data"]), \
            (i, [f["data"] for f in ev["rules"]])


# ------------------------------------------------- rejected before ModSecurity

def test_requests_rejected_by_apache_are_counted(stack):
    """A malformed request line or header is answered 400 by httpd before ModSecurity
    runs: no findings, no event (flagged mode), but counted for the vhost Apache chose."""
    raw = [b"GET /x HTTP/1.1 extra\r\nHost: first.test\r\n\r\n",
           b"GET / HTTP/1.1\r\nHost: first.test\r\nBad Header Without Colon\r\n\r\n",
           b"GET /\x01 HTTP/1.1\r\nHost: first.test\r\n\r\n"]
    before = stack.vhost_stats()
    t = Traffic(stack)
    for data in raw:
        with socket.create_connection(("127.0.0.1", stack.apache.port), timeout=10) as s:
            s.sendall(data)
            reply = s.recv(4096)
        assert reply.startswith(b"HTTP/1.1 400"), reply[:80]
    t.collect(3, events_expected=0)
    assert [r["status"] for r in t.rows] == [400] * 3
    assert t.events == [] and t.audit == {}, (t.events, t.audit)
    by_vhost = Counter(r["vhost"] for r in t.rows)
    want = {v: before.get(v, {}).get("requests", 0) + n for v, n in by_vhost.items()}
    stats = stack.wait_requests(want)
    got = {v: stats.get(v, {}).get("requests") for v in want}
    assert got == want, f"requests per vhost {got}, want {want} (access log {dict(by_vhost)})"
    for v in by_vhost:
        assert stats[v]["status"].get("400", 0) >= by_vhost[v], stats[v]


# -------------------------------------------------------------------- request bodies

@pytest.mark.parametrize("ctype,body,target", [
    ("application/x-www-form-urlencoded", b"id=" + SQLI.encode(), "ARGS:id"),
    # mod_security2 2.9.7 names JSON values by their path, without a "json." prefix
    ("application/json", b'{"user": {"name": "1\' OR 1=1--"}}', "ARGS:user.name"),
    ("multipart/form-data; boundary=B0", b"--B0\r\nContent-Disposition: form-data; "
     b"name=\"id\"\r\n\r\n1' OR 1=1--\r\n--B0--\r\n", "ARGS:id"),
])
def test_request_body_findings(stack, ctype, body, target):
    t = Traffic(stack)
    status = send(stack, "ka.test", "/form", method="POST",
                  headers=(("Content-Type", ctype),), body=body)
    assert status == 404
    t.collect(1)
    t.one_event_each()
    t.findings_match_audit()
    sqli = [f for f in t.events[0]["rules"] if f["id"] == "942100"]
    assert len(sqli) == 1 and sqli[0]["target"] == target, t.events[0]["rules"]


# ------------------------------------------------------------------- truncation

def test_truncated_message_kept_on_the_event(stack):
    """An 1,100-byte argument name makes ModSecurity cut 941110/941160's messages before
    [id]: the event keeps them as id-less, truncated findings, as many as the audit log."""
    before = stack.vhost_stats().get("ka.test", {}).get("truncated_findings", 0)
    t = Traffic(stack)
    assert send(stack, "ka.test", "/?" + q(corpus.LONG_NAME) + "=1") == 200
    t.collect(1)
    t.findings_match_audit()
    cut = [f for f in t.events[0]["rules"] if not f["id"]]
    assert len(cut) == sum(1 for m in t.audit[t.rows[0]["uid"]] if not m.id) >= 1, cut
    assert all(f["truncated"] and f["msg"] == "" for f in cut), cut
    assert _wait(lambda: stack.vhost_stats()["ka.test"]["truncated_findings"]
                 == before + len(cut), 60), stack.vhost_stats()["ka.test"]


# ------------------------------------------------------------------ per-request bounds

@pytest.mark.parametrize("nargs,value", [(140, SQLI), (60, q("<script>" + "a" * 300 + "</script>"))])
def test_findings_beyond_the_bounds_are_counted(stack, nargs, value):
    """More messages than the module keeps (128 per request, 64 KiB, or what fits the
    32 KiB datagram): the kept findings are in the audit log's order, findings_dropped
    counts the rest exactly, and the first ones are kept. Once the datagram is full, a
    later finding that still fits (e.g. 949110, the blocking decision, short) is kept."""
    t = Traffic(stack)
    body = "&".join(f"a{i}={value}" for i in range(nargs))
    assert send(stack, "ka.test", "/form", method="POST", body=body.encode(),
                headers=(("Content-Type", "application/x-www-form-urlencoded"),)) == 404
    t.collect(1)
    ev = t.events[0]
    want = [m.id for m in t.audit[t.rows[0]["uid"]]]
    got = [f["id"] for f in ev["rules"]]
    assert len(want) > len(got) and ev["findings_dropped"] > 0, (len(want), len(got), ev["findings_dropped"])
    assert len(got) + ev["findings_dropped"] == len(want), (len(got), ev["findings_dropped"], len(want))
    rest = iter(want)
    assert all(any(g == w for w in rest) for g in got), (got, want)  # in order
    assert len(got) >= 32 and got[:32] == want[:32], (got, want)


# ------------------------------------------------------------- log / auditlog actions

def test_log_and_auditlog_actions(stack):
    """What reaches the module (the error log) versus ModSecurity's audit log, per rule
    action: `nolog,auditlog` is audit-log only (the module cannot see it); `nolog` is in
    neither; `log,noauditlog` is still in the audit log with SecAuditEngine On."""
    t = Traffic(stack)
    for arg in ("log-noauditlog", "nolog-auditlog", "nolog", "log-auditlog", "default"):
        assert send(stack, "rules.test", f"/?mso_probe={arg}") == 200
    t.collect(5)
    t.one_event_each()
    seen = {}
    for row in t.rows:
        arg = row["request"].split("mso_probe=")[1].split(" ")[0]
        ev = [f["id"] for f in t.by_uid[row["uid"]][0]["rules"]]
        au = [m.id for m in t.audit[row["uid"]]]
        seen[arg] = (ev, au)
    assert seen == {"log-noauditlog": (["10001"], ["10001"]),
                    "nolog-auditlog": ([], ["10002"]),
                    "nolog": ([], []),
                    "log-auditlog": (["10004"], ["10004"]),
                    "default": (["10005"], ["10005"])}, seen


# ------------------------------------------------------------------ unknown Host

def test_unknown_host_goes_to_first_vhost(stack):
    t = Traffic(stack)
    case = Case("unknown-host", f"/?id={SQLI}", host="no-such-vhost.example")
    assert corpus.send(stack.apache.port, case, "") == 403
    t.collect(1)
    t.findings_match_audit()
    assert t.rows[0]["vhost"] == "first.test"
    assert t.events[0]["vhost"] == "first.test", t.events[0]["vhost"]


# ----------------------------------------------------- stacks of their own

@pytest.fixture()
def own_stack(request, stack_factory):
    made = []

    def make(**kw) -> Stack:
        s = stack_factory(**kw)
        made.append(s)
        return s
    failed_before = request.session.testsfailed
    yield make
    for s in made:
        stop_stack(s, keep=request.session.testsfailed > failed_before)


def test_loglevel_too_low_warns_at_startup(own_stack):
    """With security2 below `error`, httpd drops ModSecurity's alerts before any hook:
    the module says so at start-up, and then sees nothing although the audit log has
    every finding."""
    s = own_stack(crs="3", vhosts=[VirtualHost("low.test", "DetectionOnly")],
                  log_level="warn security2:crit", audit_json=True)
    # Apache listens (so the sandbox sees it started) before the modules' post_config,
    # where the warning is written: wait for it.
    deadline = time.monotonic() + 30
    while True:
        warnings = [l for l in s.apache.error_log_lines() if "modsec_observe" in l]
        if any("LogLevel for security2" in l and "below" in l for l in warnings) or \
                time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert any("LogLevel for security2" in l and "below" in l for l in warnings), \
        "no start-up warning:\n" + "\n".join(s.apache.error_log_lines()[-10:])
    t = Traffic(s)
    for _ in range(3):
        assert send(s, "low.test", f"/?id={SQLI}") == 200
    t.collect(3, events_expected=0)
    assert t.events == []
    assert all(any(m.id == "942100" for m in msgs) for msgs in t.audit.values()), t.audit
    stats = s.wait_requests({"low.test": 3})["low.test"]
    assert (stats["requests"], stats["flagged"]) == (3, 0), stats


def test_observe_off_sends_nothing(own_stack):
    """`ModSecObserve Off`: no event and no counter report leaves Apache for that vhost."""
    s = own_stack(crs="3", vhosts=[VirtualHost("seen.test", "On"),
                                   VirtualHost("off.test", "On", extra="    ModSecObserve Off")],
                  events="all")
    for _ in range(4):
        assert send(s, "off.test", f"/?id={SQLI}") == 403
        assert send(s, "off.test", "/") == 200
    s.apache.wait_access_lines(8)
    time.sleep(4 * FLUSH_MS / 1000)
    h = s.health()
    assert (h["datagrams"], h["request_events"], h["counter_reports"]) == (0, 0, 0), h
    assert s.vhost_stats() == {}
    assert send(s, "seen.test", "/") == 200     # the collector does hear the other vhost
    assert _wait(lambda: s.vhost_stats().get("seen.test", {}).get("requests") == 1, 60)
