"""Concurrency: under wrk, every request gets exactly one event with its own findings.

Per MPM (event, prefork): CRS 3.3.4, three virtual hosts in `ModSecObserveEvents all`
with `ModSecObserveQueryString On`, ModSecurity's JSON audit log on for every
transaction (as in test_fidelity.py), and wrk (2 threads, 8 connections, 5 s) sending
a Lua-generated mix of clean requests, SQL injections, XSS and path traversal, rotating
over the vhosts. Every request carries a unique marker (`mk<thread>x<n>y`) in its query,
inside the attack payload too, so it shows up in the findings' matched data. Then, per
UNIQUE_ID, against Apache's access log and ModSecurity's audit log:

- events == access-log lines, per vhost and per unique_id (none missing, none twice);
- every request has exactly one audit-log entry, but for httpd's own internal dummy
  connections (`DUMMY_REQUEST`), which have none;
- each event's vhost, query and status are its own request's;
- each finding's data names only its own request's marker;
- each event's rule ids are, as a multiset and in order, those of its unique_id's
  `audit_data.messages`;
- no event was lost (`events_lost`, which would mean the datagram queue overflowed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

import corpus
from sandbox import Stack, VirtualHost, stop_stack

WRK = shutil.which("wrk")
DURATION_S = 5
# 16 connections lost 10 events in 1 of 11 mpm_event runs on a machine shared with
# builds (load average ~11): a loss to load, not to attribution; 8 keep CI reliable.
CONNECTIONS = 8
VHOSTS = [VirtualHost(n, e, extra="    ModSecObserveEvents all\n    ModSecObserveQueryString On")
          for n, e in (("a.test", "On"), ("b.test", "DetectionOnly"), ("c.test", "DetectionOnly"))]

LUA = """
local hosts = {"a.test", "b.test", "c.test"}
local ua = "%(ua)s"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local i = 0
request = function()
  i = i + 1
  local m = "mk" .. tid .. "x" .. i .. "y"
  local kind = i %% 4
  local path
  if kind == 0 then
    path = "/?m=" .. m
  elseif kind == 1 then
    path = "/?id=1%%27%%20OR%%20%%27" .. m .. "%%27%%3D%%27" .. m .. "%%27--&m=" .. m
  elseif kind == 2 then
    path = "/?q=%%3Cscript%%3Ealert(%%22" .. m .. "%%22)%%3C/script%%3E&m=" .. m
  else
    path = "/?f=..%%2F..%%2F..%%2Fetc%%2Fpasswd%%23" .. m .. "&m=" .. m
  end
  return wrk.format("GET", path, {["Host"] = hosts[(i %% 3) + 1], ["User-Agent"] = ua,
                                   ["Accept"] = "text/html", ["Accept-Language"] = "en"})
end
""" % {"ua": corpus.UA}

_MARK = re.compile(r"mk\d+x\d+y")
# The request line of httpd's "internal dummy connection" (prefork's parent sends one
# to wake each child it retires once the load stops). CRS 905110 turns ModSecurity's
# rule and audit engines off for it: an event without findings, no audit-log entry.
DUMMY_REQUEST = "OPTIONS * HTTP/1.0"


def _wait_stable(read, timeout: float = 15.0) -> None:
    """Wait until `read()` stops changing for 1 s (wrk leaves requests in flight)."""
    deadline = time.monotonic() + timeout
    last, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 1.0:
            return


@pytest.mark.skipif(WRK is None, reason="wrk not installed; concurrency test skipped")
@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_wrk_mixed_load(request, stack_factory, mpm):
    failed_before = request.session.testsfailed
    stack: Stack = stack_factory(crs="3", mpm=mpm, vhosts=VHOSTS, events="all",
                                 audit_json=True,
                                 collector_args=["--events-ring", "1000000"])
    try:
        _run(stack, mpm)
    finally:
        stop_stack(stack, keep=request.session.testsfailed > failed_before)


def _run(stack: Stack, mpm: str) -> None:
    apache = stack.apache
    script = Path(apache.dir) / "mix.lua"
    script.write_text(LUA)
    res = subprocess.run([WRK, "-t2", f"-c{CONNECTIONS}", f"-d{DURATION_S}s",
                          "-s", str(script), f"http://127.0.0.1:{apache.port}/"],
                         capture_output=True, text=True, timeout=DURATION_S + 30, check=False)
    assert res.returncode == 0, f"wrk failed: {res.stdout}{res.stderr}"
    _wait_stable(lambda: len(apache.access_log_lines()))
    _wait_stable(lambda: apache.audit_json_log.read_bytes().count(b"\n")
                 if apache.audit_json_log.exists() else 0)
    rows = corpus.access_log(apache)
    n = len(rows)
    # How many requests wrk managed depends on the machine; what each one produced does not.
    assert n > 0, f"wrk sent no request:\n{res.stdout}"
    print(f"\nwrk: {n} requests in {DURATION_S} s ({mpm})")
    by_uid = {r["uid"]: r for r in rows}
    assert len(by_uid) == n, "a UNIQUE_ID appears twice in the access log"
    per_vhost = Counter(r["vhost"] for r in rows)
    stats = stack.wait_requests(dict(per_vhost), timeout=20)
    events: list[dict] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        events = stack.events()
        if len(events) >= n:
            break
        time.sleep(0.3)
    time.sleep(0.5)
    events = stack.events()
    health = stack.health()
    lost = health.get("events_lost", 0)
    summary = (f"mpm_{mpm}: {n} requests in {DURATION_S}s with {CONNECTIONS} connections "
               f"({dict(per_vhost)}), "
               f"{len(events)} events, events_lost={lost}, health={health}")
    print("\n" + summary)
    assert lost == 0, ("EVENTS LOST under load (datagram queue overflow?): " + summary +
                       f"\nnet.unix.max_dgram_qlen="
                       f"{Path('/proc/sys/net/unix/max_dgram_qlen').read_text().strip()}")

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
    bad = apache.unexpected_log_lines()
    assert not bad, "unexpected error-log lines:\n" + "\n".join(bad[:10])
