"""Fidelity: every ModSecurity finding, exactly once, for every request, checked
against ModSecurity's own audit log.

One stack per (CRS version, paranoia level): modsec-observed with a ring large enough
for every event, and Apache with the JSON audit log on for every transaction
(SecAuditEngine On, Serial, parts ABIJDEFHKZ) and three virtual hosts:

- `on.test`       SecRuleEngine On,            ModSecObserveEvents all (first: takes
                  requests without a Host or with an unknown one)
- `detect.test`   SecRuleEngine DetectionOnly, ModSecObserveEvents all
- `flagged.test`  SecRuleEngine On,            ModSecObserveEvents flagged (the default)

Every case of `corpus.CASES` goes to each vhost. Then, per request (joined by UNIQUE_ID
across the access log, the audit log and `modsec-observe events --json --limit 0`):

- the module's findings and the audit log's `audit_data.messages` hold the same rule
  ids the same number of times; messages without `[id]` (cut at 1024 bytes) match
  findings with an empty id / `truncated`;
- in order, each finding's msg, severity, data and interception agree with its message;
- `intercepted` and `phase` agree with `audit_data.action`; vhost, method, path and
  status agree with the access log and the audit log;
- in `all` mode every request has exactly one event; in `flagged` mode exactly the
  requests with at least one audit message have one.

And the corpus itself, on the audit log alone: every request of a case named after a
CRS rule family (`942-union`) has a message of that family, with SecRuleEngine On and
DetectionOnly alike, except where FAMILY_EXCEPTIONS (taken from runs) says the family
does not match it under this CRS version and paranoia level; every family fires in each
engine mode.

Any difference fails with a per-request diff naming the corpus case.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

import corpus
from corpus import AuditMessage
from conftest import crs_params
from sandbox import Stack, VirtualHost, stop_stack_checked

VHOSTS = [
    VirtualHost("on.test", "On", files=corpus.LEAK_FILES,
                extra="    AddHandler send-as-is asis\n    ModSecObserveEvents all"),
    VirtualHost("detect.test", "DetectionOnly", files=corpus.LEAK_FILES,
                extra="    AddHandler send-as-is asis\n    ModSecObserveEvents all"),
    VirtualHost("flagged.test", "On", files=corpus.LEAK_FILES,
                extra="    AddHandler send-as-is asis\n    ModSecObserveEvents flagged"),
]
ALL_MODE = {"on.test", "detect.test"}
RING = 50_000   # far more than the ~360 requests per stack: nothing may be evicted

ENGINE = {v.name: v.engine for v in VHOSTS}

# Family cases (`NNN-...`) that fire no rule of family NNN under some configurations, as
# runs of this test show: case -> (CRS versions, paranoia levels, why). On and
# DetectionOnly make no difference to any of them. An entry that no longer holds (the
# case fires its family there after all) fails the test too, so the list stays current.
CRS3, BOTH, ANY_PL, PL1 = {"3"}, {"3", "4"}, {1, 4}, {1}
FAMILY_EXCEPTIONS: dict[str, tuple[set[str], set[int], str]] = {
    # No CRS 3.3.4 rule matches these (the CRS 4.28 rule that does in brackets).
    "911-trace": (CRS3, ANY_PL, "CRS 3 checks the method in phase 2, which a TRACE "
                  "(answered by httpd itself) never reaches [911100, phase 1]"),
    "920-expect-header": (CRS3, ANY_PL, "Expect is not a restricted header [920450]"),
    "934-node-require": (CRS3, ANY_PL, "CRS 3's only 934 rule, 934100, does not match "
                         "it [934100]"),
    "934-prototype-pollution": (CRS3, ANY_PL, "as above [934130]"),
    "934-ssrf-metadata": (CRS3, ANY_PL, "as above; CRS 3 flags it as RFI, 931100 [934110]"),
    "934-data-scheme": (CRS3, ANY_PL, "as above; CRS 3 flags it as XSS [934170]"),
    "944-log4shell": (CRS3, ANY_PL, "no log4j rule; CRS 3 flags it with 932130 [944150]"),
    "944-log4shell-header": (CRS3, ANY_PL, "no log4j rule [944150]"),
    "944-class-loader": (CRS3, ANY_PL, "classLoader is not in java-classes.data [944130]"),
    "955-web-shell": (CRS3, ANY_PL, "no 955 family in CRS 3 [955110]"),
    "956-ruby-error": (CRS3, ANY_PL, "no 956 family in CRS 3 [956100]"),
    # Only rules above paranoia level 1 match these (seen at PL 4).
    "920-double-encoding": (BOTH, PL1, "920230 is PL 2"),
    "920-range-many": (BOTH, PL1, "920200 is PL 2"),
    "920-no-ua-no-accept": (BOTH, PL1, "920320 is PL 2"),
    "921-param-pollution": (BOTH, PL1, "921180 is PL 3"),
    "931-off-domain": (BOTH, PL1, "931130 is PL 2"),
    "944-deserialization": (BOTH, PL1, "944210 is PL 2"),
    "950-status-500": (BOTH, PL1, "950100 is PL 2"),
    "920-url-encoding-abuse": ({"4"}, PL1, "CRS 4's 920220 does not flag it; 920272 (PL 3) "
                               "does"),
    "920-accept-charset": ({"4"}, PL1, "CRS 4 checks Accept-Charset with 920451, PL 2"),
    "932-windows-cmd": ({"4"}, PL1, "CRS 4's 932236 is PL 2"),
}


# ModSecurity's engine messages -- "JSON parser error ...", "XML parser error ...",
# "Multipart parsing error ...", "Request body no files data length is larger than the
# configured limit (131072)." -- have no [id] and no "Warning."/"Access" head, but reach
# both the error log and the audit log (ModSecurity answers such requests 500/413, even
# in DetectionOnly, without running the phase-2 rules). The module reports them as
# findings without an id, marked "engine"; they are compared like every other message.

@dataclass
class Request:
    """One request as the three sources see it."""
    uid: str
    vhost: str = ""            # access log %v
    status: int = 0            # access log %>s
    case: str = "?"
    audit: dict | None = None
    events: list[dict] = field(default_factory=list)

    @property
    def messages(self) -> list[AuditMessage]:
        msgs = (self.audit or {}).get("audit_data", {}).get("messages", [])
        return [AuditMessage.parse(m) for m in msgs]

    def label(self) -> str:
        return f"{self.uid} [{self.case} -> {self.vhost}, status {self.status}]"


@dataclass
class Run:
    crs: str
    paranoia: int
    stack: Stack
    requests: dict[str, Request]
    stray_events: list[dict]        # events whose unique_id is in no access-log line
    sent: int

    def where(self) -> str:
        return f"CRS {self.crs}, PL {self.paranoia}\n{self.stack.diagnostics()}"


# Each CRS runs once under each wire protocol (ModSecObserveProtocol): 2, the default,
# sends the alerts raw for the collector to parse; 1 parses them in Apache.
PROTOCOL = {("3", 1): 1, ("3", 4): 2, ("4", 1): 2, ("4", 4): 1}
CONFIGS = [pytest.param((crs.values[0], pl, PROTOCOL[crs.values[0], pl]), marks=crs.marks,
                        id=f"crs{crs.values[0]}-pl{pl}-v{PROTOCOL[crs.values[0], pl]}")
           for crs in crs_params("3", "4") for pl in (1, 4)]


def _wait(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def collect(stack: Stack, sent: int) -> tuple[dict[str, Request], list[dict]]:
    apache = stack.apache
    apache.wait_access_lines(sent)
    _wait(lambda: len(apache.audit_entries()) >= sent, 60)
    reqs: dict[str, Request] = {}
    for line in apache.access_log_lines():
        # "%v %{local}p %{UNIQUE_ID}e %a \"%r\" %>s %b"
        vhost, _port, uid = line.split(" ", 3)[:3]
        assert uid not in reqs, f"UNIQUE_ID {uid} twice in the access log"
        reqs[uid] = Request(uid, vhost, int(line.rsplit(" ", 2)[-2]))
    expected_events = sum(1 for r in reqs.values() if r.vhost in ALL_MODE)
    for entry in apache.audit_entries():
        uid = entry.get("transaction", {}).get("transaction_id", "")
        r = reqs.setdefault(uid, Request(uid))
        assert r.audit is None, f"UNIQUE_ID {uid} twice in the audit log"
        r.audit = entry
        r.case = entry.get("request", {}).get("headers", {}).get(corpus.CASE_HEADER, "?")
        if r.vhost not in ALL_MODE and entry.get("audit_data", {}).get("messages"):
            expected_events += 1
    # Events arrive asynchronously; wait until the ring holds as many as expected.
    events: list[dict] = []

    def enough() -> bool:
        nonlocal events
        events = stack.events()
        return len(events) >= expected_events
    _wait(enough, 60, 0.25)
    time.sleep(0.3)                       # an excess (duplicate) event would show too
    events = stack.events()
    stray = []
    for e in events:
        r = reqs.get(e.get("unique_id", ""))
        if r is None:
            stray.append(e)
        else:
            r.events.append(e)
    return reqs, stray


@pytest.fixture(scope="module", params=CONFIGS)
def run(request, stack_factory) -> Run:
    crs, pl, proto = request.param
    failed_before = request.session.testsfailed
    stack = stack_factory(crs=crs, paranoia=pl, vhosts=VHOSTS, events="all",
                          audit_json=True, extra_modules=["asis"],
                          observe_extra=f"ModSecObserveProtocol {proto}\n",
                          collector_args=["--events-ring", str(RING)])
    try:
        jobs = [(c, v.name) for c in corpus.CASES for v in VHOSTS]
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda j: corpus.send(stack.apache.port, *j), jobs))
        reqs, stray = collect(stack, len(jobs))
        yield Run(crs, pl, stack, reqs, stray, len(jobs))
    finally:
        bad = stop_stack_checked(stack, keep=request.session.testsfailed > failed_before)
    assert not bad, "unexpected error-log lines while stopping:\n" + "\n".join(bad)


# ------------------------------------------------------------------------ helpers

def finding_key(f: dict) -> str:
    return f.get("id") or "(no id)"


def message_key(m: AuditMessage) -> str:
    return m.id or "(no id)"


def report(title: str, problems: list[str], run: Run, limit: int = 40) -> str:
    shown = "\n".join(problems[:limit])
    more = f"\n... and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{title}: {len(problems)} request(s) differ ({run.where()})\n{shown}{more}"


# -------------------------------------------------------------------------- tests

def test_every_request_logged_everywhere(run: Run):
    """The join is total: each request is in the access log and the audit log once."""
    assert len(run.requests) == run.sent, (
        f"{len(run.requests)} distinct unique_ids for {run.sent} requests sent")
    missing = [r.label() for r in run.requests.values() if r.audit is None or not r.vhost]
    assert not missing, report("not in both the access log and the audit log", missing, run)


def test_one_event_per_request(run: Run):
    """`all` mode: exactly one event per request; `flagged` mode: exactly one per request
    with at least one ModSecurity message, none otherwise; no event for another request."""
    problems = [f"event for a request Apache never logged: {e.get('unique_id')!r} "
                f"{e.get('vhost')} {e.get('method')} {e.get('path')}" for e in run.stray_events]
    for r in run.requests.values():
        want = 1 if r.vhost in ALL_MODE or r.messages else 0
        if len(r.events) != want:
            problems.append(f"{r.label()}: {len(r.events)} events, want {want} "
                            f"({len(r.messages)} audit messages)")
    assert not problems, report("events per request", problems, run)
    health = run.stack.health()
    assert health.get("events_lost") == 0 and health.get("malformed") == 0, health


def test_rule_ids_match_audit_log(run: Run):
    """The heart of it: per request, the multiset of rule ids (and of id-less, truncated
    messages) in the event equals that of the audit log's messages."""
    problems = []
    compared = 0
    for r in run.requests.values():
        if not r.events:
            continue   # counted by test_one_event_per_request
        ev = r.events[0]
        got = Counter(finding_key(f) for f in ev.get("rules", []))
        want = Counter(message_key(m) for m in r.messages)
        compared += sum(want.values())
        if got != want or ev.get("findings_dropped", 0):
            problems.append(f"{r.label()}:\n    module only: {dict(got - want)}\n"
                            f"    audit only:  {dict(want - got)}\n"
                            f"    findings_dropped: {ev.get('findings_dropped')}")
        unexplained = [f for f in ev.get("rules", []) if not f.get("id")
                       and not f.get("truncated") and not f.get("engine")]
        if unexplained:
            problems.append(f"{r.label()}: finding without id marked neither truncated nor "
                            f"engine: {unexplained}")
    assert not problems, report("rule ids differ from the audit log", problems, run)
    assert compared > 0


def test_findings_in_order_with_details(run: Run):
    """Finding by finding, in logged order: id, severity, msg, data (the module may cut
    msg at 512 and data at 256 bytes, marked) and which message denied the request."""
    problems = []
    for r in run.requests.values():
        if not r.events:
            continue
        found = r.events[0].get("rules", [])
        msgs = r.messages
        if [finding_key(f) for f in found] != [message_key(m) for m in msgs]:
            problems.append(f"{r.label()}: order differs:\n    module {[finding_key(f) for f in found]}"
                            f"\n    audit  {[message_key(m) for m in msgs]}")
            continue
        for f, m in zip(found, msgs):
            diffs = []
            if f.get("severity", "") != m.severity:
                diffs.append(f"severity {f.get('severity')!r} != {m.severity!r}")
            fmsg = f.get("msg", "")
            # An engine message has no [msg]: the module reports its text.
            mmsg = m.text.strip() if m.is_engine_message else m.msg
            if not (fmsg == mmsg or (len(mmsg.encode()) > 512 and mmsg.startswith(fmsg[:-1]))):
                diffs.append(f"msg {fmsg!r} != {mmsg!r}")
            fdata = f.get("data", "")
            if f.get("data_truncated"):
                # cut at 256 bytes, possibly mid-character (then U+FFFD ends it)
                ok = m.data.startswith(fdata.rstrip("\ufffd")) and len(fdata) < len(m.data)
            else:
                ok = fdata == m.data
            if not ok:
                diffs.append(f"data {fdata!r} != {m.data!r}")
            if bool(f.get("intercepted")) != m.intercepted:
                diffs.append(f"intercepted {f.get('intercepted')} != {m.intercepted}")
            if diffs:
                problems.append(f"{r.label()} rule {finding_key(f)}: " + "; ".join(diffs))
    assert not problems, report("finding details differ", problems, run)


def test_interception_matches_audit_log(run: Run):
    problems = []
    for r in run.requests.values():
        if not r.events:
            continue
        ev = r.events[0]
        action = (r.audit or {}).get("audit_data", {}).get("action") or {}
        want = (bool(action.get("intercepted")), action.get("phase", 0) if
                action.get("intercepted") else 0)
        got = (ev.get("intercepted"), ev.get("phase"))
        if got != want:
            problems.append(f"{r.label()}: module (intercepted, phase) {got}, audit {want}")
    assert not problems, report("interception differs from the audit log", problems, run)
    # The corpus must exercise both verdicts, in both directions (phase 2 and phase 4).
    phases = Counter(ev.get("phase") for r in run.requests.values() for ev in r.events
                     if ev.get("intercepted"))
    assert phases[2] > 0 and phases[4] > 0, f"interceptions by phase: {dict(phases)}"


def test_request_fields_match_logs(run: Run):
    """vhost and status from the access log; method and path from the audit log's
    request line; the unique_id join cannot hide a request's fields on another's event."""
    problems = []
    for r in run.requests.values():
        for ev in r.events:
            line = (r.audit or {}).get("request", {}).get("request_line", "")
            method, _, rest = line.partition(" ")
            path = rest.rsplit(" ", 1)[0].split("?", 1)[0]
            got = (ev.get("vhost"), ev.get("status"), ev.get("method"), ev.get("path"))
            want = (r.vhost, r.status, method, path)
            if got != want:
                problems.append(f"{r.label()}: (vhost, status, method, path) {got}, logs {want}")
            if ev.get("scores") is None:
                problems.append(f"{r.label()}: event without scores")
    assert not problems, report("request fields differ", problems, run)


def test_vhost_totals(run: Run):
    """Per vhost, the collector's totals agree with the access log and the audit log."""
    stats = run.stack.wait_requests(Counter(r.vhost for r in run.requests.values()))
    want = {}
    for v in (v.name for v in VHOSTS):
        reqs = [r for r in run.requests.values() if r.vhost == v]
        want[v] = {"requests": len(reqs),
                   "flagged": sum(1 for r in reqs if r.messages),
                   "intercepted": sum(1 for r in reqs if ((r.audit or {}).get("audit_data", {})
                                                          .get("action") or {}).get("intercepted")),
                   "truncated_findings": sum(1 for r in reqs for m in r.messages
                                             if not m.id and not m.is_engine_message),
                   "engine_messages": sum(1 for r in reqs for m in r.messages
                                          if m.is_engine_message)}
    got = {v: {k: stats.get(v, {}).get(k) for k in ("requests", "flagged", "intercepted",
                                                      "truncated_findings", "engine_messages")}
           for v in want}
    assert got == want, f"per-vhost totals: collector {got}\nlogs {want}\n{run.where()}"


def case_family(case: str) -> str | None:
    """The CRS family a corpus case is named after (`942-union` -> "942"), or None."""
    head = case.split("-", 1)[0]
    return head if len(head) == 3 and head.isdigit() else None


def test_every_case_fires_its_family(run: Run):
    """The corpus is only as good as what it triggers: every request of a case named
    after a family (`NNN-...`) has at least one message from rule family NNN in
    ModSecurity's own audit log (not in the module's view, which is under test), on
    whichever vhost -- SecRuleEngine On or DetectionOnly -- Apache gave it to, unless
    FAMILY_EXCEPTIONS lists the case for this CRS version and paranoia level; and then
    none has."""
    problems = []
    checked = Counter()
    for r in run.requests.values():
        family = case_family(r.case)
        if family is None:
            continue
        engine = ENGINE.get(r.vhost, "?")
        checked[engine] += 1
        fired = any(m.id.startswith(family) for m in r.messages)
        crs_versions, levels, why = FAMILY_EXCEPTIONS.get(r.case, (set(), set(), ""))
        excepted = run.crs in crs_versions and run.paranoia in levels
        if fired and excepted:
            problems.append(f"{r.label()} ({engine}): fires {family} after all; drop or "
                            f"narrow its FAMILY_EXCEPTIONS entry ({why})")
        elif not fired and not excepted:
            ids = sorted({m.id for m in r.messages if m.id})
            problems.append(f"{r.label()} ({engine}): no {family} message; ids {ids}")
    assert not problems, report(f"cases and their families (CRS {run.crs}, PL "
                                f"{run.paranoia})", problems, run)
    assert checked["On"] and checked["DetectionOnly"], dict(checked)
    unknown = set(FAMILY_EXCEPTIONS) - {c.name for c in corpus.CASES}
    assert not unknown, f"FAMILY_EXCEPTIONS names no corpus case: {sorted(unknown)}"


def test_every_family_fires_in_each_engine_mode(run: Run):
    """Per SecRuleEngine mode, every family of corpus.FAMILIES (including the anomaly
    evaluation 949/959 and correlation 980 ones, which no case is named after) is in the
    audit log; no benign case is flagged at PL 1."""
    missing = {}
    for engine in ("On", "DetectionOnly"):
        seen = {m.id[:3] for r in run.requests.values() if ENGINE.get(r.vhost) == engine
                for m in r.messages if m.id}
        if set(corpus.FAMILIES[run.crs]) - seen:
            missing[engine] = sorted(set(corpus.FAMILIES[run.crs]) - seen)
    assert not missing, f"CRS {run.crs} PL {run.paranoia}: no finding from families {missing}"
    clean = [r.case for r in run.requests.values() if r.case.startswith("benign")
             and r.messages and run.paranoia == 1]
    assert not clean, f"benign cases flagged at PL 1: {sorted(set(clean))}"


def test_engine_messages_reach_the_module(run: Run):
    """Each engine message in the audit log is an id-less finding of its request's event."""
    problems = []
    for r in run.requests.values():
        engine = [m for m in r.messages if m.is_engine_message]
        if not engine or not r.events:
            continue
        idless = [f for f in r.events[0].get("rules", []) if not f.get("id")]
        marked = [f for f in idless if f.get("engine")]
        if len(marked) != len(engine):
            problems.append(f"{r.label()}: {len(marked)} findings marked engine, audit log "
                            f"has {len(engine)} engine messages")
        want = sum(1 for m in r.messages if not m.id)
        if len(idless) != want:
            problems.append(f"{r.label()}: {len(idless)} id-less findings, audit log has "
                            f"{want}: {[m.text for m in engine]}")
    assert not problems, report("engine messages missing from events", problems, run)


def test_corpus_has_engine_messages(run: Run):
    """The corpus provokes engine messages (so the comparison above really covers them)."""
    engine = Counter(r.case for r in run.requests.values()
                     for m in r.messages if m.is_engine_message)
    assert {"body-invalid-json", "body-invalid-xml", "body-broken-multipart",
            "body-over-limit"} <= set(engine), dict(engine)


def test_summary(run: Run):
    """Prints what was compared (for docs/FIDELITY.md); fails only on an empty run."""
    reqs = list(run.requests.values())
    findings = sum(len(r.messages) for r in reqs)
    flagged = sum(1 for r in reqs if r.messages)
    ids = {m.id for r in reqs for m in r.messages if m.id}
    events = sum(len(r.events) for r in reqs)
    print(f"\nfidelity CRS {run.crs} PL {run.paranoia}: {len(reqs)} requests, "
          f"{flagged} flagged, {findings} audit messages, {len(ids)} distinct rule ids, "
          f"{events} events compared")
    assert reqs and findings
