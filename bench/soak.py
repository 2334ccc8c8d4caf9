#!/usr/bin/python3
"""Soak: mixed load against a real sandboxed Apache (mpm_event, mod_security2, CRS 3.3.4
PL 1) with mod_modsec_observe and modsec-observed for --minutes (default 10), while the
collector is killed (SIGKILL) and stopped (SIGTERM) and restarted, and Apache restarted
gracefully (SIGUSR1), on a schedule. Samples memory and descriptors over time and, at
the end, accounts for every request Apache logged.

The stack comes from tests/integration/sandbox.py and the load, graceful restart and
/proc helpers from tests/integration/test_failure_isolation.py. The collector runs as
the packaged unit runs it, with --state-dir, so a restart keeps what it had saved.

Accounting. The collector's count is followed across its lives: each life starts from
its snapshot (state.json, read before the restart) and ends with its last `stats`
answer before SIGKILL, or with the snapshot it wrote on SIGTERM. Per vhost:

  access log = counted (sum over lives of end - start)
             + rolled back (a killed collector's count since its last snapshot: measured)
             + unobserved (datagrams processed between the last query and the signal,
               or queued in the kernel and never read: docs/SECURITY.md)

"unobserved" must be >= 0 (else something was counted twice) and at most the requests
clients completed inside the windows [last query - --window-margin, signal + 0.5 s];
more is unaccounted loss. Requests made while the collector is down are counted when it
is back (each child re-sends its counters). Graceful restarts are never scheduled while
the collector is down: a child exiting then loses its last counts (documented).

Exit status 1 when: a client request failed, got a wrong status or waited for the
client timeout; an Apache child crashed or had to be killed, or Apache logged an
unexpected warning or error; the collector exited without being told to, or logged a
sanitizer report; the collector reported malformed datagrams, rejected senders or data
dropped at its bounds; a snapshot was set aside; loss was unaccounted or something was counted twice.
RSS growth is reported, not judged; to tell the module's share from Apache's, the same
Apache without the module is then restarted as often (no load) and the parent's RSS
growth per graceful restart compared.

  bench/soak.sh                        # builds into build-soak, then runs 10 minutes
  MSO_BUILD_DIR=build bench/soak.py --minutes 1 --results /tmp/soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from bench_util import PACKAGED_QLEN, QLEN  # noqa: E402
from sandbox import (ApacheSandbox, Stack, VirtualHost, build_dir,  # noqa: E402
                     repo_root, short_temp_dir, start_stack, stop_stack)
from test_failure_isolation import (CLIENT_TIMEOUT, _HUNG_CHILD,  # noqa: E402
                                    _MODULE_WARNING, Load, Req, _children, _fd_count,
                                    _rss_kb, access_log_counts, start_collector,
                                    wait_access_log_quiet)

# Two vhosts per engine mode; the load spreads evenly over them.
VHOSTS = [VirtualHost("shop.test", "DetectionOnly",
                      files={"static/app.css": "body { color: #222; }\n"}),
          VirtualHost("blog.test", "DetectionOnly",
                      files={"static/app.css": "body { color: #222; }\n"}),
          VirtualHost("api.test", "On", files={"static/app.css": "body { color: #222; }\n"}),
          VirtualHost("admin.test", "On", files={"static/app.css": "body { color: #222; }\n"})]

# (path, status under DetectionOnly, flagged by CRS 3.3.4 PL 1). Seven benign, three
# attacks: 30 % of the requests carry CRS findings; under SecRuleEngine On they get 403.
MIX = [("/", 200, False),
       ("/index.html", 200, False),
       ("/?q=blue+shoes&page=2", 200, False),
       ("/static/app.css", 200, False),
       ("/?sort=price&order=asc", 200, False),
       ("/missing.html", 404, False),
       ("/index.html?utm_source=newsletter", 200, False),
       ("/?id=" + urllib.parse.quote("1' OR 1=1--"), 200, True),
       ("/?q=" + urllib.parse.quote("<script>alert(1)</script>"), 200, True),
       ("/?file=" + urllib.parse.quote("../../../../etc/passwd"), 200, True)]

_RESUMING = re.compile(r"AH00489|resuming normal operations")
_SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|terminate called")
TAIL = 0.5      # seconds after a signal in which a client may still see a logged request
COUNTED_KEYS = ("requests", "flagged", "events", "events_lost")
HEALTH_LOSS_KEYS = ("malformed", "dropped_at_bounds", "rejected_senders", "tail_dropped",
                    "bad_queries", "refused_clients")
# Loss the soak must never see: its senders are Apache's own children.
HEALTH_FATAL_KEYS = ("malformed", "dropped_at_bounds", "rejected_senders")


def requests_mix() -> list[Req]:
    reqs = []
    for path, status, flagged in MIX:
        for v in VHOSTS:
            blocked = flagged and v.engine == "On"
            reqs.append(Req(v.name, path, 403 if blocked else status, flagged))
    return reqs


# --------------------------------------------------------------------- sampling

def _fds(pid: int) -> int:
    try:
        return _fd_count(pid)
    except OSError:
        return 0


def _rss(pid: int) -> int:
    try:
        return _rss_kb(pid)
    except (OSError, AssertionError):
        return 0     # exited between listing and reading


def sample(t0: float, stack: Stack, done: int, errors: int) -> dict:
    parent = stack.apache.proc.pid
    kids = _children(parent)
    kid_rss = [r for r in (_rss(k) for k in kids) if r]
    kid_fds = [_fds(k) for k in kids]
    c = stack.collector.proc
    up = c is not None and c.poll() is None
    return {"t": round(time.monotonic() - t0, 1),
            "requests": done, "client_errors": errors,
            "apache_parent_rss_kb": _rss(parent), "apache_children": len(kids),
            "apache_children_rss_kb_sum": sum(kid_rss),
            "apache_children_rss_kb_max": max(kid_rss, default=0),
            "apache_parent_fds": _fds(parent), "apache_children_fds_sum": sum(kid_fds),
            "apache_children_fds_max": max(kid_fds, default=0),
            "collector_up": up, "collector_rss_kb": _rss(c.pid) if up else 0,
            "collector_fds": _fds(c.pid) if up else 0}


# ------------------------------------------------------------------ the collector

def vhost_counts(stats_doc: dict) -> dict[str, dict[str, int]]:
    return {v["vhost"]: {k: int(v.get(k, 0)) for k in COUNTED_KEYS}
            for v in stats_doc["vhosts"]}


_SNAPSHOT_COUNTS = ("import json, sys\n"
                    "doc = json.load(open(sys.argv[1]))\n"
                    "print(json.dumps({v['name']: {k: int(v.get(k, 0)) for k in sys.argv[2:]}"
                    " for v in doc['vhosts']}))\n")


def snapshot_counts(state_dir: Path) -> dict[str, dict[str, int]]:
    """Per-vhost counts in DIR/state.json (what a restarted collector starts from).
    Parsed in a child process: parsing a 30 MB snapshot here would hold the GIL for a
    second or more and stall the client threads (their latency would show it)."""
    f = state_dir / "state.json"
    if not f.exists():
        return {}
    out = subprocess.run([sys.executable, "-c", _SNAPSHOT_COUNTS, str(f), *COUNTED_KEYS],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    return json.loads(out)


def sub(a: dict, b: dict) -> dict[str, dict[str, int]]:
    out = {}
    for v in set(a) | set(b):
        out[v] = {k: a.get(v, {}).get(k, 0) - b.get(v, {}).get(k, 0) for k in COUNTED_KEYS}
    return out


def vmax(a: dict, b: dict) -> dict[str, dict[str, int]]:
    return {v: {k: max(a.get(v, {}).get(k, 0), b.get(v, {}).get(k, 0)) for k in COUNTED_KEYS}
            for v in set(a) | set(b)}


def add_into(total: dict, d: dict) -> None:
    for v, counts in d.items():
        t = total.setdefault(v, dict.fromkeys(COUNTED_KEYS, 0))
        for k, n in counts.items():
            t[k] += n


class Lives:
    """The collector's lives: where each started and ended, and how it ended."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.lives: list[dict] = [{"start": {}, "started_at": 0.0}]
        self.transitions: list[dict] = []

    def end(self, how: str, stack: Stack) -> dict:
        """Query the running collector, then signal it (how: kill | term) and wait."""
        health = stack.health()
        queried_at = time.monotonic()
        counts = vhost_counts(stack.stats())
        proc = stack.collector.proc
        signalled_at = time.monotonic()
        proc.send_signal(signal.SIGKILL if how == "kill" else signal.SIGTERM)
        rc = proc.wait(timeout=15)
        stack.collector.proc = None
        tr = {"how": how, "queried_at": queried_at - self.t0,
              "signalled_at": signalled_at - self.t0, "exit": rc, "queried": counts,
              "health": {k: health.get(k, 0) for k in HEALTH_LOSS_KEYS + ("events_lost",)}}
        self.transitions.append(tr)
        return tr

    def begin(self, stack: Stack, state_dir: Path) -> dict:
        start = snapshot_counts(state_dir)
        tr = self.transitions[-1]
        # A SIGTERM'd collector's exit snapshot is its final state; a killed one had at
        # least what it last answered, and at least its last snapshot.
        tr["snapshot"] = start
        tr["end"] = vmax(tr["queried"], start)
        tr["rolled_back"] = sub(tr["end"], start)
        self.lives[-1]["end"] = tr["end"]
        start_collector(stack)
        h = stack.health()
        tr["restart_health"] = {k: h.get(k) for k in ("snapshot_loaded", "snapshot_set_aside",
                                                      "snapshot_last_error")}
        self.lives.append({"start": start, "started_at": time.monotonic() - self.t0})
        # Answering queries again (snapshot loaded, sockets bound).
        tr["answering_at"] = round(self.lives[-1]["started_at"], 2)
        return tr

    def counted(self, final: dict) -> dict:
        self.lives[-1]["end"] = final
        total: dict = {}
        for life in self.lives:
            add_into(total, sub(life["end"], life["start"]))
        return total


# ------------------------------------------------------------------ Apache

def graceful_restart(apache: ApacheSandbox, timeout: float = 30.0) -> float:
    """SIGUSR1 to the parent; waits until the new generation serves and every child of
    the old one has exited. Reads the error log from its current end only (under load it
    grows by megabytes a minute). Returns the seconds it took."""
    parent = apache.proc.pid
    offset = apache.error_log_size()
    old = set(_children(parent))
    t = time.monotonic()
    os.kill(parent, signal.SIGUSR1)
    while time.monotonic() - t < timeout:
        if apache.proc.poll() is not None:
            raise RuntimeError("Apache exited on a graceful restart")
        kids = set(_children(parent))
        if (any(_RESUMING.search(l) for l in apache.error_log_lines(offset))
                and kids and not kids & old):
            return time.monotonic() - t
        time.sleep(0.2)
    raise RuntimeError(f"graceful restart did not complete in {timeout} s "
                       f"(old children left: {sorted(set(_children(parent)) & old)})")


def wait_resumed(apache: ApacheSandbox, timeout: float = 30.0) -> None:
    """The port accepts before the parent handles SIGUSR1: wait for AH00489."""
    deadline = time.monotonic() + timeout
    while not any(_RESUMING.search(l) for l in apache.error_log_lines()):
        if time.monotonic() > deadline:
            raise RuntimeError("Apache never logged that it was up")
        time.sleep(0.05)


def error_log_problems(apache: ApacheSandbox) -> tuple[list[str], list[str], int]:
    """(crashed or killed children, other unexpected lines, module send warnings)."""
    crashes, other, warnings = [], [], 0
    for line in apache.unexpected_log_lines():
        if _MODULE_WARNING.search(line):
            warnings += 1
        elif re.search(r"exit signal|AH0005[12]|AH00060|core dump", line):
            crashes.append(line)
        else:
            other.append(line)
    crashes += [l for l in apache.error_log_lines() if _HUNG_CHILD.search(l)]
    return crashes, other, warnings


# ------------------------------------------------------------------ the run

def window_bound(load: Load, transitions: list[dict], t0: float,
                 margin: float) -> tuple[dict, dict]:
    """Per vhost: requests, and flagged requests, that clients completed inside any
    [query - margin, signal + TAIL]."""
    wins = [(tr["queried_at"] - margin, tr["signalled_at"] + TAIL) for tr in transitions]
    out: Counter = Counter()
    flagged: Counter = Counter()
    for o in load.outcomes:
        end = o.started + o.seconds - t0
        if any(a <= end <= b for a, b in wins):
            out[o.req.vhost] += 1
            flagged[o.req.vhost] += o.req.flagged
    return dict(out), dict(flagged)


def control_restarts(n: int) -> list[int]:
    """The parent's RSS (kB) at start and after each of n graceful restarts of the same
    Apache without the module (no load: the parent serves no requests)."""
    control = ApacheSandbox(crs="3", mpm="event", vhosts=VHOSTS)
    rss = []
    try:
        control.start()
        wait_resumed(control)
        rss.append(_rss(control.proc.pid))
        for _ in range(n):
            graceful_restart(control)
            rss.append(_rss(control.proc.pid))
    finally:
        control.cleanup()
    return rss


def per_restart_kb(rss: list[int]) -> float:
    """Growth per restart from restart 1 to the last (restart 1 allocates what later
    ones reuse)."""
    return (rss[-1] - rss[1]) / (len(rss) - 2) if len(rss) > 2 else 0.0


def latency(outcomes: list, t0: float, events: list[tuple[float, str]]) -> dict:
    """Percentiles, and the requests slower than 1 s with the scheduled action nearest
    to them (within 5 s)."""
    secs = sorted(o.seconds for o in outcomes)
    if not secs:
        return {}
    pct = {f"p{p}": round(secs[min(len(secs) - 1, int(len(secs) * p / 100))], 4)
           for p in (50, 99, 99.9)}
    slow = []
    for o in sorted((o for o in outcomes if o.seconds > 1.0), key=lambda o: o.started):
        at = o.started - t0
        near = [f"{what} at {t:.0f} s" for t, what in events if abs(t - at) <= 5]
        slow.append({"t": round(at, 1), "seconds": round(o.seconds, 2),
                     "request": f"{o.req.vhost} {o.req.path}", "near": near})
    return {**pct, "max": round(secs[-1], 3), "over_1s": len(slow), "slow": slow[:50]}


def slope_kb_per_min(samples: list[dict], key: str) -> float:
    pts = [(s["t"] / 60, s[key]) for s in samples if s[key]]
    if len(pts) < 2:
        return 0.0
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    var = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / var if var else 0.0


def run(args) -> int:
    b = Path(args.build_dir)
    bins = {"module": b / "mod_modsec_observe" / "mod_modsec_observe.so",
            "daemon": b / "collector" / "modsec-observed",
            "cli": b / "collector" / "modsec-observe",
            "snippet": repo_root() / "conf" / "modsec_observe_rules.conf"}
    missing = [str(p) for p in bins.values() if not p.is_file()]
    if missing:
        print("error: missing build outputs: " + ", ".join(missing), file=sys.stderr)
        return 2
    qlen = int(QLEN.read_text())
    if qlen < PACKAGED_QLEN:
        print(f"warning: net.unix.max_dgram_qlen is {qlen}; packaging recommends {PACKAGED_QLEN} "
              "(bursts may then lose events)", file=sys.stderr)

    duration = args.minutes * 60
    collector_every = args.collector_every or min(60.0, duration / 4)
    graceful_every = args.graceful_every or min(45.0, duration / 3)
    state_dir = short_temp_dir("msosoak-s")
    stack = start_stack(module=bins["module"], daemon=bins["daemon"], cli=bins["cli"],
                        snippet=bins["snippet"], crs="3", mpm="event", vhosts=VHOSTS,
                        collector_args=["--state-dir", str(state_dir), "--snapshot-interval",
                                        str(args.snapshot_interval),
                                        # the packaged daemon's ring, not the tests' pin
                                        "--events-ring", "default"])
    load = Load(stack.apache, requests_mix(), phase="soak", threads=args.threads)
    failures: list[str] = []
    samples: list[dict] = []
    graceful: list[dict] = []
    kept = True
    try:
        wait_resumed(stack.apache)
        t0 = time.monotonic()
        lives = Lives(t0)
        load.start()
        next_sample, next_graceful = 0.0, graceful_every
        next_collector, collector_ops = collector_every, 0
        checked = 0
        down_until: float | None = None
        print(f"soak: {args.minutes} min, {args.threads} client threads, collector "
              f"signal every {collector_every:.0f} s (kill/term alternating, down "
              f"{args.down_seconds:.0f} s), graceful restart every {graceful_every:.0f} s; "
              f"apache {stack.apache.dir}, collector {stack.collector.dir}", flush=True)
        while True:
            now = time.monotonic() - t0
            if now >= duration:
                break
            if down_until is None and stack.collector.proc.poll() is not None:
                failures.append(f"the collector exited by itself at {now:.0f} s "
                                f"(status {stack.collector.proc.returncode})")
                break
            if stack.apache.proc.poll() is not None:
                failures.append(f"Apache exited at {now:.0f} s")
                break
            # Only the outcomes since the last look (list appends are atomic).
            done = len(load.outcomes)
            bad = [o for o in load.outcomes[checked:done] if o.result != o.req.status]
            checked = done
            if bad:
                o = bad[0]
                failures.append(f"client requests failed, e.g. {o.req.vhost} {o.req.path}: "
                                f"want {o.req.status}, got {o.result} after {o.seconds:.2f} s "
                                f"at {o.started - t0:.0f} s")
                break
            if now >= next_sample:
                s = sample(t0, stack, done, 0)
                samples.append(s)
                next_sample += args.sample_every
                print(f"  {s['t']:6.0f} s  {s['requests']:7d} req  {s['client_errors']} err  "
                      f"apache {s['apache_parent_rss_kb']} + {s['apache_children']}x max "
                      f"{s['apache_children_rss_kb_max']} kB  collector "
                      f"{s['collector_rss_kb']} kB {s['collector_fds']} fds", flush=True)
            if down_until is not None and now >= down_until:
                tr = lives.begin(stack, state_dir)
                down_until = None
                print(f"  {now:6.0f} s  collector started again (snapshot "
                      f"{sum(v['requests'] for v in tr['snapshot'].values())} requests)",
                      flush=True)
            elif down_until is None and now >= next_collector and \
                    now + args.down_seconds + 5 < duration:
                how = "kill" if collector_ops % 2 == 0 else "term"
                tr = lives.end(how, stack)
                if how == "term" and tr["exit"] != 0:
                    failures.append(f"the collector exited with {tr['exit']} on SIGTERM")
                collector_ops += 1
                next_collector += collector_every
                down_until = now + args.down_seconds
                print(f"  {now:6.0f} s  collector {how} (exit {tr['exit']})", flush=True)
            elif down_until is None and now >= next_graceful and now + 10 < duration:
                try:
                    took = graceful_restart(stack.apache)
                    graceful.append({"t": round(now, 1), "seconds": round(took, 2),
                                     "parent_rss_kb": _rss(stack.apache.proc.pid)})
                    print(f"  {now:6.0f} s  graceful restart ({took:.1f} s, parent "
                          f"{graceful[-1]['parent_rss_kb']} kB)", flush=True)
                except RuntimeError as e:
                    failures.append(str(e))
                    break
                next_graceful += graceful_every
            time.sleep(0.2)
        if down_until is None and stack.collector.proc.poll() is not None:
            # Crashed: nothing to query; its whole life since the last snapshot is lost
            # and the accounting below shows it.
            at = time.monotonic() - t0
            lives.transitions.append({"how": "crash", "queried_at": at, "signalled_at": at,
                                      "exit": stack.collector.proc.returncode,
                                      "queried": {}, "health": {}})
            stack.collector.proc = None
            down_until = 0.0
        if down_until is not None:
            lives.begin(stack, state_dir)
        outcomes = load.stop()
        elapsed = time.monotonic() - t0
        errs = [o for o in outcomes if o.result != o.req.status]
        samples.append(sample(t0, stack, len(outcomes), len(errs)))
        wait_access_log_quiet(stack.apache)

        # The collector's final count: read until two reads a second apart agree.
        final, prev = {}, None
        for _ in range(30):
            time.sleep(1.0)
            final = vhost_counts(stack.stats())
            if final == prev:
                break
            prev = final
        health = stack.health()
        logged = access_log_counts(stack.apache)
        counted = lives.counted(final)
        rolled: dict = {}
        for tr in lives.transitions:
            add_into(rolled, tr["rolled_back"])
        bound = window_bound(load, lives.transitions, t0, args.window_margin)

        # Checks.
        if errs and not any("client requests failed" in f for f in failures):
            failures.append(f"{len(errs)} client requests failed, e.g. {errs[0]}")
        slow = max((o.seconds for o in outcomes), default=0.0)
        if slow >= CLIENT_TIMEOUT:
            failures.append(f"a request took {slow:.2f} s")
        crashes, other, warnings = error_log_problems(stack.apache)
        if crashes:
            failures.append("crashed or killed Apache children:\n  " + "\n  ".join(crashes[:10]))
        if other:
            failures.append("unexpected Apache error-log lines:\n  " + "\n  ".join(other[:10]))
        san = [l for l in stack.collector.log_text().splitlines() if _SANITIZER.search(l)]
        if san:
            failures.append("collector log: " + "\n  ".join(san[:10]))
        health_loss = Counter({k: int(health.get(k, 0)) for k in HEALTH_LOSS_KEYS})
        for tr in lives.transitions:
            health_loss.update({k: int(tr["health"].get(k, 0)) for k in HEALTH_LOSS_KEYS})
            rh = tr.get("restart_health", {})
            if rh.get("snapshot_set_aside") or rh.get("snapshot_last_error"):
                failures.append(f"snapshot not loaded after {tr['how']}: {rh}")
        for k in HEALTH_FATAL_KEYS:
            if health_loss[k]:
                failures.append(f"collector health: {k} = {health_loss[k]}")
        # "counted": what the collector's lives counted between them (rolled-back
        # requests included: a killed life had counted them); the final state is that
        # minus what was rolled back.
        sent_flagged = Counter(o.req.vhost for o in outcomes
                               if o.req.flagged and isinstance(o.result, int))
        rows = []
        for vhost in sorted(set(logged) | set(counted)):
            c, rb = counted.get(vhost, {}), rolled.get(vhost, {})
            log_n, cnt, fin = logged.get(vhost, 0), c.get("requests", 0), \
                final.get(vhost, {}).get("requests", 0)
            # Flagged requests: each is an event or, undelivered, an events_lost.
            flagged_seen = c.get("flagged", 0) + c.get("events_lost", 0)
            row = {"vhost": vhost, "access_log": log_n, "counted": cnt,
                   "rolled_back": rb.get("requests", 0), "final": fin,
                   "unobserved": log_n - cnt, "window_bound": bound[0].get(vhost, 0),
                   "flagged_sent": sent_flagged.get(vhost, 0), "flagged": c.get("flagged", 0),
                   "events": c.get("events", 0), "events_lost": c.get("events_lost", 0),
                   "flagged_unobserved": sent_flagged.get(vhost, 0) - flagged_seen,
                   "flagged_window_bound": bound[1].get(vhost, 0)}
            rows.append(row)
            if cnt - row["rolled_back"] != fin:
                failures.append(f"{vhost}: lives counted {cnt} - rolled back "
                                f"{row['rolled_back']} != final {fin}")
            for what, n, b in (("requests", row["unobserved"], row["window_bound"]),
                               ("flagged requests", row["flagged_unobserved"],
                                row["flagged_window_bound"])):
                if n < 0:
                    failures.append(f"{vhost}: {-n} {what} more counted than "
                                    "made: counted twice")
                elif n > b:
                    failures.append(f"{vhost}: {n} {what} unaccounted, more than the {b} "
                                    "completed in the loss windows")
        kept = bool(failures) or args.keep
        actions = ([(tr["signalled_at"], f"collector {tr['how']}") for tr in lives.transitions]
                   + [(g["t"], "graceful restart") for g in graceful])
        with_module = [samples[0]["apache_parent_rss_kb"]] + [g["parent_rss_kb"]
                                                              for g in graceful]
        control = control_restarts(len(graceful)) if args.control and graceful else []
        results = {
            "command": sys.argv, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"host": platform.node(), "cpus": os.cpu_count(),
                        "kernel": platform.release(), "loadavg": os.getloadavg(),
                        "max_dgram_qlen": qlen},
            "config": {"minutes": args.minutes, "threads": args.threads,
                       "collector_every_s": collector_every, "down_s": args.down_seconds,
                       "graceful_every_s": graceful_every,
                       "snapshot_interval_s": args.snapshot_interval,
                       "window_margin_s": args.window_margin, "vhosts":
                       {v.name: v.engine for v in VHOSTS}},
            "elapsed_s": round(elapsed, 1), "client_requests": len(outcomes),
            "client_errors": len(errs), "slowest_request_s": round(slow, 3),
            "latency_s": latency(outcomes, t0, actions),
            "parent_rss_kb_per_restart": {
                "with_module": with_module, "without_module": control,
                "growth_with_module": round(per_restart_kb(with_module), 1),
                "growth_without_module": round(per_restart_kb(control), 1)},
            "collector_kills": sum(1 for t in lives.transitions if t["how"] == "kill"),
            "collector_terms": sum(1 for t in lives.transitions if t["how"] == "term"),
            "graceful_restarts": len(graceful),
            "graceful_restart_log": graceful,
            "module_send_warnings": warnings, "final_health": health,
            "health_loss_counters": dict(health_loss), "accounting": rows,
            "transitions": lives.transitions,
            "rss_slope_kb_per_min": {k: round(slope_kb_per_min(samples, k), 1) for k in
                                     ("apache_parent_rss_kb", "apache_children_rss_kb_max",
                                      "apache_children_rss_kb_sum", "collector_rss_kb")},
            "samples": samples, "failures": failures}
        Path(args.results).write_text(json.dumps(results, indent=1, default=str))
        print_summary(results)
        print(f"results: {args.results}")
        for f in failures:
            print(f"FAIL: {f}", file=sys.stderr)
        return 1 if failures else 0
    finally:
        load.stop()
        stop_stack(stack, keep=kept, quiet=False)
        if kept:
            print(f"state dir kept: {state_dir}")
        else:
            shutil.rmtree(state_dir, ignore_errors=True)


def print_summary(r: dict) -> None:
    print(f"\n{r['client_requests']} client requests in {r['elapsed_s']:.0f} s "
          f"({r['client_requests'] / max(r['elapsed_s'], 1):.0f}/s), {r['client_errors']} "
          f"errors, slowest {r['slowest_request_s']} s; collector killed "
          f"{r['collector_kills']}x, stopped {r['collector_terms']}x; "
          f"{r['graceful_restarts']} graceful restarts; "
          f"{r['module_send_warnings']} module send warnings")
    cols = ["vhost", "access_log", "counted", "rolled_back", "final", "unobserved",
            "window_bound", "flagged_sent", "flagged", "events_lost", "flagged_unobserved"]
    heads = ["vhost", "access log", "counted", "rolled back", "final", "unobserved",
             "window bound", "flagged sent", "flagged", "events lost", "flagged unobs."]
    print(" ".join(f"{h:>12}" for h in heads))
    for row in r["accounting"]:
        print(" ".join(f"{row[c]:>12}" for c in cols))
    print(f"health loss counters (all lives): {r['health_loss_counters']}")
    print("samples (one per minute):")
    print(f"{'min':>4} {'requests':>9} {'errors':>6} {'apache parent kB':>16} "
          f"{'children':>8} {'child max kB':>12} {'children sum kB':>15} "
          f"{'collector kB':>12} {'coll fds':>8}")
    for s in per_minute(r["samples"]):
        print(f"{s['t'] / 60:4.0f} {s['requests']:9d} {s['client_errors']:6d} "
              f"{s['apache_parent_rss_kb']:16d} {s['apache_children']:8d} "
              f"{s['apache_children_rss_kb_max']:12d} {s['apache_children_rss_kb_sum']:15d} "
              f"{s['collector_rss_kb']:12d} {s['collector_fds']:8d}")
    print(f"RSS slope, kB/min: {r['rss_slope_kb_per_min']}")
    g = r["parent_rss_kb_per_restart"]
    print(f"Apache parent RSS growth per graceful restart: {g['growth_with_module']} kB "
          f"with the module, {g['growth_without_module']} kB without (same config, "
          f"{len(g['without_module']) - 1} restarts, no load)")
    lat = r["latency_s"]
    print(f"client latency: p50 {lat.get('p50')} s, p99 {lat.get('p99')} s, p99.9 "
          f"{lat.get('p99.9')} s, max {lat.get('max')} s; {lat.get('over_1s')} over 1 s")
    for o in lat.get("slow", [])[:10]:
        print(f"  {o['t']:6.0f} s  {o['seconds']} s  {o['request']}  {', '.join(o['near'])}")


def per_minute(samples: list[dict]) -> list[dict]:
    """The first sample, then the first one at or after each full minute, and the last."""
    out, minute = [], 0
    for s in samples:
        if s["t"] >= minute * 60:
            out.append(s)
            minute = int(s["t"] // 60) + 1
    if samples and out[-1] is not samples[-1]:
        out.append(samples[-1])
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="duration (1: smoke run)")
    p.add_argument("--threads", type=int, default=6, help="client threads")
    p.add_argument("--build-dir", default=str(build_dir()),
                   help="build directory (default: $MSO_BUILD_DIR or <repo>/build)")
    p.add_argument("--results", default=f"/tmp/mso-soak-{time.strftime('%Y%m%d-%H%M%S')}.json",
                   help="JSON results file (samples and totals)")
    p.add_argument("--sample-every", type=float, default=5.0, help="seconds between samples")
    p.add_argument("--collector-every", type=float, default=0.0,
                   help="seconds between collector kills/stops (default min(60, run/4))")
    p.add_argument("--down-seconds", type=float, default=4.0,
                   help="how long the collector stays down")
    p.add_argument("--graceful-every", type=float, default=0.0,
                   help="seconds between graceful restarts (default min(45, run/3))")
    p.add_argument("--snapshot-interval", type=int, default=60,
                   help="the collector's --snapshot-interval (its default: 60)")
    p.add_argument("--window-margin", type=float, default=1.0,
                   help="seconds before the last query that a loss window reaches back")
    p.add_argument("--no-control", dest="control", action="store_false",
                   help="skip restarting the same Apache without the module as often, "
                        "for comparing the parent's RSS growth")
    p.add_argument("--keep", action="store_true", help="keep the temp dirs")
    return run(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
