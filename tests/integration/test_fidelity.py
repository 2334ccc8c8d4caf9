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
from sandbox import Stack, VirtualHost, stop_stack

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

# ModSecurity's engine messages -- "JSON parser error ...", "XML parser error ...",
# "Multipart parsing error ...", "Request body no files data length is larger than the
# configured limit (131072)." -- have no [id] and no "Warning."/"Access" head, but reach
# both the error log and the audit log (ModSecurity answers such requests 500/413, even
# in DetectionOnly, without running the phase-2 rules). The module reports them as
# findings without an id, marked "engine"; they are compared like every other message.
# (Until the module reported them, this switch kept them out of the comparison.)
ENGINE_MESSAGES_REPORTED = True

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

    @property
    def compared(self) -> list[AuditMessage]:
        """The audit messages the module is expected to report (see KNOWN GAP)."""
        return [m for m in self.messages
                if ENGINE_MESSAGES_REPORTED or not m.is_engine_message]

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


CONFIGS = [pytest.param((crs.values[0], pl), marks=crs.marks, id=f"crs{crs.values[0]}-pl{pl}")
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
    _wait(lambda: len(apache.audit_entries()) >= sent, 10)
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
    _wait(enough, 10, 0.25)
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
    crs, pl = request.param
    failed_before = request.session.testsfailed
    stack = stack_factory(crs=crs, paranoia=pl, vhosts=VHOSTS, events="all",
                          audit_json=True, extra_modules=["asis"],
                          collector_args=["--events-ring", str(RING)])
    try:
        jobs = [(c, v.name) for c in corpus.CASES for v in VHOSTS]
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda j: corpus.send(stack.apache.port, *j), jobs))
        reqs, stray = collect(stack, len(jobs))
        yield Run(crs, pl, stack, reqs, stray, len(jobs))
    finally:
        apache = stack.apache
        before_stop = apache.error_log_size()
        stop_stack(stack, keep=request.session.testsfailed > failed_before)
    bad = apache.unexpected_log_lines(before_stop)
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
        want = Counter(message_key(m) for m in r.compared)
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
        msgs = r.compared
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
                   "flagged": sum(1 for r in reqs if r.compared),
                   "intercepted": sum(1 for r in reqs if ((r.audit or {}).get("audit_data", {})
                                                          .get("action") or {}).get("intercepted")),
                   "truncated_findings": sum(1 for r in reqs for m in r.compared
                                             if not m.id and not m.is_engine_message),
                   "engine_messages": sum(1 for r in reqs for m in r.compared
                                          if m.is_engine_message)}
    got = {v: {k: stats.get(v, {}).get(k) for k in ("requests", "flagged", "intercepted",
                                                      "truncated_findings", "engine_messages")}
           for v in want}
    assert got == want, f"per-vhost totals: collector {got}\nlogs {want}\n{run.where()}"


def test_corpus_covers_every_family(run: Run):
    """The corpus is only as good as what it triggers: every CRS family must appear in
    ModSecurity's own audit log (not in the module's view, which is under test)."""
    seen = {m.id[:3] for r in run.requests.values() for m in r.messages if m.id}
    missing = sorted(set(corpus.FAMILIES[run.crs]) - seen)
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
        want = sum(1 for m in r.compared if not m.id) + (0 if ENGINE_MESSAGES_REPORTED
                                                         else len(engine))
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
