"""Concurrency: under a concurrent load, every request gets exactly one event with its
own findings.

Per MPM (event, prefork): CRS 3.3.4, three virtual hosts in `ModSecObserveEvents all`
with `ModSecObserveQueryString On`, ModSecurity's JSON audit log on for every
transaction (as in test_fidelity.py), and 8 client threads, each on its own keep-alive
connection, sending a fixed 4,000 requests between them: a mix of clean requests, SQL
injections, XSS and path traversal, rotating over the vhosts. The number of requests is
fixed, not a duration: what the test asserts does not depend on how fast the machine is.
Every request carries a unique marker (`mk<thread>x<n>y`) in its query, inside the
attack payload too, so it shows up in the findings' matched data. Then, per UNIQUE_ID,
against Apache's access log and ModSecurity's audit log:

- events == access-log lines == requests sent, per vhost and per unique_id (none
  missing, none twice);
- every request has exactly one audit-log entry, but for httpd's own internal dummy
  connections (`DUMMY_REQUEST`), which have none;
- each event's vhost, query and status are its own request's;
- each finding's data names only its own request's marker;
- each event's rule ids are, as a multiset and in order, those of its unique_id's
  `audit_data.messages`;
- no event was lost. The module has a spool (`ModSecObserveSpool`): when the collector
  falls behind (a busy machine: Apache can outrun it) and the datagram queue is full, the
  child spools the event and the collector replays it, so the outcome is the same on any
  machine. How many went through the spool is printed; the rate the pipeline sustains
  without one is a benchmark (docs/BENCHMARKS.md), not a test.
"""

from __future__ import annotations

import http.client
import re
import shutil
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest

import corpus
from sandbox import Stack, VirtualHost, spool_temp_dir, stop_stack

CLIENTS = 8
REQUESTS = 4000  # in all, REQUESTS // CLIENTS per client
HOSTS = ("a.test", "b.test", "c.test")
VHOSTS = [VirtualHost(n, e, extra="    ModSecObserveEvents all\n    ModSecObserveQueryString On")
          for n, e in (("a.test", "On"), ("b.test", "DetectionOnly"), ("c.test", "DetectionOnly"))]
HEADERS = {"User-Agent": corpus.UA, "Accept": "text/html", "Accept-Language": "en"}


def _request(tid: int, i: int) -> tuple[str, str, bool]:
    """Client `tid`'s request `i`: (Host, path, whether it is an attack)."""
    m = f"mk{tid}x{i}y"
    kind = i % 4
    payloads = {1: f"1' OR '{m}'='{m}'--", 2: f'<script>alert("{m}")</script>',
                3: f"../../../etc/passwd#{m}"}
    path = f"/?m={m}"
    if kind != 0:
        name = {1: "id", 2: "q", 3: "f"}[kind]
        path = f"/?{name}={quote(payloads[kind], safe='')}&m={m}"
    return HOSTS[i % 3], path, kind != 0


def _client(port: int, tid: int) -> list[str]:
    """Sends client `tid`'s share on one keep-alive connection (a new one when Apache
    closes it); returns what went wrong, if anything."""
    problems = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        for i in range(1, REQUESTS // CLIENTS + 1):
            host, path, attack = _request(tid, i)
            conn.request("GET", path, headers={"Host": host, **HEADERS})
            resp = conn.getresponse()
            resp.read()
            want = 403 if attack and host == "a.test" else 200
            if resp.status != want:
                problems.append(f"{host}{path}: {resp.status}, expected {want}")
            if resp.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    finally:
        conn.close()
    return problems


_MARK = re.compile(r"mk\d+x\d+y")
# The request line of httpd's "internal dummy connection" (prefork's parent sends one
# to wake each child it retires once the load stops). CRS 905110 turns ModSecurity's
# rule and audit engines off for it: an event without findings, no audit-log entry.
DUMMY_REQUEST = "OPTIONS * HTTP/1.0"
# What a child logs when the collector's queue was full and it spooled events.
_SPOOL_WARNING = re.compile(
    r"modsec_observe: \d+ (?:events written to the spool|datagrams could not be sent to "
    r".* \(last error: Resource temporarily unavailable\))")


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_mixed_load(request, stack_factory, mpm):
    failed_before = request.session.testsfailed
    spool = spool_temp_dir("msoit-c")
    stack: Stack = stack_factory(crs="3", mpm=mpm, vhosts=VHOSTS, events="all",
                                 audit_json=True,
                                 observe_extra=f"ModSecObserveSpool {spool} 64M\n",
                                 collector_args=["--events-ring", "1000000",
                                                 "--spool-dir", str(spool)])
    try:
        _run(stack, mpm, spool)
    finally:
        failed = request.session.testsfailed > failed_before
        stop_stack(stack, keep=failed)
        if not failed:
            shutil.rmtree(spool, ignore_errors=True)


def _run(stack: Stack, mpm: str, spool: Path) -> None:
    apache = stack.apache
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(lambda tid: _client(apache.port, tid), range(1, CLIENTS + 1)))
    wrong = [p for a in answers for p in a]
    assert not wrong, f"{len(wrong)} unexpected answers: {wrong[:10]}"
    # Every answer is in; the children log after answering. Then Apache stops (SIGTERM:
    # no internal dummy requests from prefork's parent any more), so its logs, the spool
    # files and the children's last counts are complete.
    deadline = time.monotonic() + 120
    while sum(1 for r in corpus.access_log(apache) if r["request"] != DUMMY_REQUEST) < REQUESTS:
        assert time.monotonic() < deadline, "access log short of the requests answered"
        time.sleep(0.1)
    apache.stop(timeout=60)
    rows = corpus.access_log(apache)
    n = len(rows)
    sent = sum(1 for r in rows if r["request"] != DUMMY_REQUEST)
    assert sent == REQUESTS, f"{sent} requests in the access log, {REQUESTS} sent"
    by_uid = {r["uid"]: r for r in rows}
    assert len(by_uid) == n, "a UNIQUE_ID appears twice in the access log"
    per_vhost = Counter(r["vhost"] for r in rows)
    stats = stack.wait_requests(dict(per_vhost), timeout=120)
    events: list[dict] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        events = stack.events()
        if len(events) >= n:
            break
        time.sleep(0.3)
    time.sleep(0.5)
    events = stack.events()
    health = stack.health()
    lost = health.get("events_lost", 0)
    spooled = health.get("spool", {}).get("lines_replayed", 0)
    summary = (f"mpm_{mpm}: {n} requests from {CLIENTS} clients ({dict(per_vhost)}), "
               f"{len(events)} events, {spooled} of them through the spool, "
               f"events_lost={lost}, health={health}")
    print("\n" + summary)
    assert lost == 0, ("EVENTS LOST: " + summary +
                       f"\nnet.unix.max_dgram_qlen="
                       f"{Path('/proc/sys/net/unix/max_dgram_qlen').read_text().strip()}")
    deadline = time.monotonic() + 60
    while list(spool.glob("*.spool*")):
        assert time.monotonic() < deadline, "spool files left after the replay"
        time.sleep(0.1)

    # Per request: exactly one event, with its own vhost, query and status.
    ev_by_uid: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        ev_by_uid[e.get("unique_id", "")].append(e)
    problems = [f"event for an unknown request {uid!r}" for uid in ev_by_uid if uid not in by_uid]
    problems += [f"{uid}: {len(ev_by_uid.get(uid, []))} events" for uid in by_uid
                 if len(ev_by_uid.get(uid, [])) != 1]
    audit = corpus.audit_messages(apache)
    problems += [f"{uid}: not in the audit log" for uid, row in by_uid.items()
                 if uid not in audit and row["request"] != DUMMY_REQUEST]
    problems += [f"audit-log entry for an unknown request {uid!r}" for uid in audit
                 if uid not in by_uid]
    flagged = 0
    for uid, row in by_uid.items():
        evs = ev_by_uid.get(uid, [])
        if len(evs) != 1:
            continue
        ev = evs[0]
        query = row["request"].split(" ")[1].partition("?")[2]
        mark = _MARK.search(query).group(0) if _MARK.search(query) else None
        if (ev["vhost"], ev.get("query"), ev["status"]) != (row["vhost"], query, row["status"]):
            problems.append(f"{uid}: event (vhost, query, status) "
                            f"{(ev['vhost'], ev.get('query'), ev['status'])}, access log "
                            f"{(row['vhost'], query, row['status'])}")
        ids = [f.get("id") or "(no id)" for f in ev["rules"]]
        audit_ids = [m.id or "(no id)" for m in audit.get(uid, [])]
        if Counter(ids) != Counter(audit_ids):
            problems.append(f"{uid} {mark}: event rules {ids}, audit log {audit_ids}")
        elif ids != audit_ids:
            problems.append(f"{uid} {mark}: order differs: event {ids}, audit log {audit_ids}")
        flagged += bool(ids)
        for f in ev["rules"]:
            others = set(_MARK.findall(f.get("data", ""))) - {mark}
            if others:
                problems.append(f"{uid} {mark}: finding {f.get('id')} carries {sorted(others)}")
    assert not problems, (f"{len(problems)} problems ({summary}):\n" + "\n".join(problems[:30]))
    assert flagged > n // 2, f"only {flagged} of {n} requests had findings"

    got = {v: (stats[v]["requests"], stats[v]["events"]) for v in per_vhost}
    want = {v: (c, c) for v, c in per_vhost.items()}
    assert got == want, f"per vhost (requests, events): collector {got}, access log {want}"
    # A full queue is reported by the children, and each such event went to the spool.
    # Apache was stopped with its children busy: its own stop crashes are told apart.
    bad = [l for l in apache.unexpected_log_lines(stop_crashes_ok=True)
           if not _SPOOL_WARNING.search(l)]
    assert not bad, "unexpected error-log lines:\n" + "\n".join(bad[:10])
