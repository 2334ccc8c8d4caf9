"""Failure isolation (issue 5, "Apache never pays for the observer"): whatever happens to
the collector, and whatever Apache does with its children, every client request gets its
normal status in time, no child crashes, nothing leaks across graceful restarts, and the
counts the design promises stay exact.

Each test runs a real sandboxed Apache (mpm_event, mod_security2, CRS 3.3.4) with
mod_modsec_observe and the real modsec-observed, under concurrent client load with short
client timeouts:

- the collector not running at all (socket file missing, or stale after a crash);
- the collector stopped mid-load, and later started again;
- the collector killed (SIGKILL) and restarted mid-load;
- the collector stalled with SIGSTOP until its datagram queue is full, then SIGCONT;
- Apache gracefully restarted 10 times under load (parent's and children's open file
  descriptors and the parent's RSS must not grow);
- Apache stopped under load (graceful-stop and stop).

The design's promises checked exactly: requests made while the collector is down are
counted once it is back (each child keeps its counters and re-sends them), a request
whose event could not be sent is counted in `requests` and in `events_lost`, and a
child's last counts are sent when it exits (graceful restart, stop). What a collector
had received but not yet read when it was stopped is lost with it: for requests in that
window only "never counted twice" is asserted. Latency is measured in benchmarks, not
here; the client timeout only catches a request that waits on the observer.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import statistics
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox import FLUSH_MS, ApacheSandbox, Stack, VirtualHost, stop_stack
from unix_diag import socket_inodes, unix_dgram_peers, unix_dgram_sndbufs

SQLI_PATH = "/?id=" + urllib.parse.quote("1' OR 1=1--")
# Seconds. A request stuck behind the observer waits forever (the collector stays stopped
# until the test sees progress), so it hits any bound; a request on a machine busy with
# other work may take seconds. 20 s tells the two apart without depending on speed.
CLIENT_TIMEOUT = 20.0
THREADS = 6

# up.test: traffic while the collector runs; down.test: traffic sent only while it is
# known to be down (exact counts); block.test: SecRuleEngine On (403s).
VHOSTS = [VirtualHost("up.test", "DetectionOnly"),
          VirtualHost("down.test", "DetectionOnly"),
          VirtualHost("block.test", "On")]

# The module's only log line at run time: the flusher's rate-limited send warning.
_MODULE_WARNING = re.compile(r"modsec_observe: \d+ datagrams could not be sent")
# A child that exits could neither send nor spool its last counts.
_LAST_COUNTS_LOST = re.compile(r"modsec_observe: the last counts of this child")
# mpm_event's own shutdown race: a worker re-adds a connection (keep-alive: AH03093;
# lingering close: AH03092, the same apr_pollset_add call on another path) after the
# listener thread has destroyed the pollset. Plain Apache + ModSecurity without the module
# logs AH03093 too (3 of 32 `-k stop`s under the same load, measured 2026-11-21), so the
# stop test tolerates exactly these two lines.
_EVENT_STOP_RACE = re.compile(r"\[mpm_event:error\] .*\(9\)Bad file descriptor: "
                              r"(?:AH03093: process_socket: apr_pollset_add failure for keep "
                              r"alive|AH03092: process_lingering_close: apr_pollset_add "
                              r"failure)$")
# Apache had to kill a child that did not exit (a hung flusher thread would do that).
_HUNG_CHILD = re.compile(r"AH0004[5-9]|still did not exit|SIGKILL")


@dataclass(frozen=True)
class Req:
    vhost: str
    path: str
    status: int
    flagged: bool


def mix(vhost: str, sqli_status: int = 200) -> list[Req]:
    """Two benign requests and one SQL injection (flagged by 942100 and 949110)."""
    return [Req(vhost, "/", 200, False), Req(vhost, "/index.html", 200, False),
            Req(vhost, SQLI_PATH, sqli_status, True)]


@dataclass
class Outcome:
    req: Req
    phase: str
    result: int | str        # the status, or the exception's repr
    started: float
    seconds: float


@dataclass
class Load:
    """Client threads that send requests from the current mix until stopped, each on its
    own connection with a short timeout, and record every outcome."""
    apache: ApacheSandbox
    requests: list[Req]
    phase: str = "load"
    threads: int = THREADS
    outcomes: list[Outcome] = field(default_factory=list)
    in_flight: Counter = field(default_factory=Counter)   # phase -> requests under way
    _stop: threading.Event = field(default_factory=threading.Event)
    _go: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> "Load":
        self._go.set()
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def switch(self, requests: list[Req], phase: str) -> None:
        """From now on, requests *started* use this mix and are recorded under `phase`."""
        with self._lock:
            self.requests, self.phase = requests, phase

    def _run(self, worker: int) -> None:
        n = worker
        while not self._stop.is_set():
            self._go.wait(0.1)
            with self._lock:
                if not self._go.is_set():
                    continue
                req = self.requests[n % len(self.requests)]
                phase = self.phase
                self.in_flight[phase] += 1
            n += 1
            t0 = time.monotonic()
            try:
                result: int | str = self.apache.request(req.vhost, req.path,
                                                        timeout=CLIENT_TIMEOUT).status
            except (OSError, http.client.HTTPException) as e:
                result = repr(e)
            with self._lock:
                self.in_flight[phase] -= 1
                self.outcomes.append(Outcome(req, phase, result, t0, time.monotonic() - t0))

    def pause(self) -> None:
        """Stop sending and wait until no request is under way."""
        with self._lock:
            self._go.clear()
        deadline = time.monotonic() + CLIENT_TIMEOUT + 1
        while True:
            with self._lock:
                if sum(self.in_flight.values()) == 0:
                    return
            assert time.monotonic() < deadline, "load: requests still under way"
            time.sleep(0.01)

    def resume(self) -> None:
        self._go.set()

    def stop(self) -> list[Outcome]:
        self._stop.set()
        self._go.set()
        for t in self._workers:
            t.join(timeout=CLIENT_TIMEOUT + 5)
        assert not any(t.is_alive() for t in self._workers), "a client thread hung"
        return self.outcomes

    def count(self, phase: str | None = None) -> int:
        with self._lock:
            return sum(1 for o in self.outcomes if phase in (None, o.phase))

    def failures(self) -> list[Outcome]:
        """Requests so far that did not get their normal status."""
        with self._lock:
            return [o for o in self.outcomes if o.result != o.req.status]

    def wait_done(self, phase: str, timeout: float = CLIENT_TIMEOUT + 1) -> None:
        """Until no request of `phase` is under way any more."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self.in_flight[phase] == 0:
                    return
            assert time.monotonic() < deadline, f"load: {phase} requests still under way"
            time.sleep(0.01)

    def wait_for(self, n: int, phase: str | None = None, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count(phase) < n:
            assert time.monotonic() < deadline, f"load: fewer than {n} requests in {timeout} s"
            time.sleep(0.02)


# ---------------------------------------------------------------------------- checks

def assert_all_answered(outcomes: list[Outcome], allow_refused_after: float | None = None):
    """Every request got its normal status within the client timeout. With
    `allow_refused_after` (a monotonic time: Apache was told to stop), a connection
    refused or reset after that moment is Apache closing its listener, not a failure."""
    assert outcomes, "no request was made"
    wrong = []
    for o in outcomes:
        if o.result == o.req.status:
            continue
        closing = (allow_refused_after is not None and o.started + o.seconds >= allow_refused_after
                   and isinstance(o.result, str)
                   and re.search(r"ConnectionRefused|ConnectionReset|RemoteDisconnected|"
                                 r"BrokenPipe", o.result))
        if not closing:
            wrong.append(o)
    assert not wrong, (f"{len(wrong)} of {len(outcomes)} requests failed or got a wrong "
                       "status:\n" + "\n".join(f"  {o.phase} {o.req.vhost} {o.req.path} want "
                                               f"{o.req.status} got {o.result} after "
                                               f"{o.seconds:.2f} s" for o in wrong[:15]))
    slow = max(o.seconds for o in outcomes)
    assert slow < CLIENT_TIMEOUT, f"a request took {slow:.2f} s"


def assert_clean_error_log(apache: ApacheSandbox, max_module_warnings: int = 20,
                           allowed: re.Pattern | None = None,
                           stop_crashes_ok: bool = False) -> None:
    """No crashed or killed child (but Apache's own stop crashes with `stop_crashes_ok`,
    see ApacheSandbox.unexpected_log_lines()); nothing at warn or above but ModSecurity's
    alerts and the module's rate-limited send warning (at most one per child per minute),
    and lines matching `allowed`."""
    bad = [l for l in apache.unexpected_log_lines(stop_crashes_ok=stop_crashes_ok)
           if not (allowed and allowed.search(l))]
    module = [l for l in bad if _MODULE_WARNING.search(l)]
    other = [l for l in bad if l not in module]
    hung = [l for l in apache.error_log_lines() if _HUNG_CHILD.search(l)]
    assert not other, "unexpected error-log lines:\n" + "\n".join(other[:20])
    assert not hung, "Apache had to kill children:\n" + "\n".join(hung[:20])
    assert len(module) <= max_module_warnings, ("the module logs too often:\n" +
                                                "\n".join(module[:20]))


def sent(outcomes: list[Outcome], phase: str | None = None) -> dict[str, dict]:
    """Per vhost: requests answered, flagged among them, and statuses, as the client saw."""
    out: dict[str, dict] = {}
    for o in outcomes:
        if phase not in (None, o.phase) or not isinstance(o.result, int):
            continue
        v = out.setdefault(o.req.vhost, {"requests": 0, "flagged": 0, "status": Counter()})
        v["requests"] += 1
        v["flagged"] += o.req.flagged
        v["status"][str(o.result)] += 1
    return out


def access_log_counts(apache: ApacheSandbox) -> dict[str, int]:
    return dict(Counter(l.split(" ", 1)[0] for l in apache.access_log_lines()))


def crashed_children(apache: ApacheSandbox) -> list[int]:
    """Children that died of a signal; each must be one of Apache's own stop crashes
    (sandbox.KNOWN_STOP_CRASHES: here mpm_event's close_worker_sockets race), told by the
    crashing thread's backtrace in its core, or the test fails here."""
    died, unexplained = apache.stop_crashes()
    assert not unexplained, ("a child crashed, not in one of Apache's known stop crashes:\n"
                             + "\n".join(unexplained))
    return died


def requests_of(apache: ApacheSandbox, pids: list[int]) -> Counter:
    """Per vhost, the requests the children `pids` served (`pid_log=True`)."""
    wanted = {str(p) for p in pids}
    lines = apache.pid_log.read_text().splitlines() if apache.pid_log.exists() else []
    return Counter(v for v, pid in (l.split(" ", 1) for l in lines) if pid in wanted)


def wait_access_log_quiet(apache: ApacheSandbox, outcomes: list[Outcome],
                          timeout: float = 60.0) -> None:
    """Until every answered request of `outcomes` is in the access log (Apache writes the
    line after the client has its answer, so it may come later on a busy machine), and
    then until the log stops growing (requests the clients gave up on may add lines)."""
    answered = sum(1 for o in outcomes if isinstance(o.result, int))
    deadline = time.monotonic() + timeout
    while len(apache.access_log_lines()) < answered:
        assert time.monotonic() < deadline, (
            f"{len(apache.access_log_lines())} access-log lines, {answered} answers")
        time.sleep(0.05)
    last = -1
    while time.monotonic() < deadline:
        n = len(apache.access_log_lines())
        if n == last:
            return
        last = n
        time.sleep(0.3)


def stack_for(stack_factory, **kwargs) -> Stack:
    return stack_factory(crs="3", mpm="event", vhosts=VHOSTS, **kwargs)


def start_collector(stack: Stack, timeout: float = 60.0) -> None:
    """Start the collector and wait until it answers: with a stale socket file left by a
    killed collector, the files exist before the new one has bound them."""
    stack.collector.start()
    deadline = time.monotonic() + timeout
    while stack.collector.cli_run("health", "--json").returncode != 0:
        assert time.monotonic() < deadline, f"collector not answering\n{stack.diagnostics()}"
        time.sleep(0.05)


# ------------------------------------------------------------------ the collector

@pytest.mark.parametrize("socket_state", ["missing", "stale"])
def test_collector_not_running(stack_factory, socket_state):
    """No collector at all: the socket file is missing (ENOENT), or left behind by a
    collector that crashed (ECONNREFUSED). Requests are answered normally; once a
    collector starts, every request made meanwhile is counted, flagged ones as lost
    events."""
    stack = stack_for(stack_factory, start_collector=False)
    failed = True
    try:
        if socket_state == "stale":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(str(stack.collector.event_socket))
            s.close()
        load = Load(stack.apache, mix("down.test") + mix("block.test", 403), phase="down")
        load.start()
        load.wait_for(150)
        time.sleep(3 * FLUSH_MS / 1000)   # several flushes fail meanwhile
        outcomes = load.stop()
        assert_all_answered(outcomes)
        wait_access_log_quiet(stack.apache, outcomes)
        want = sent(outcomes)
        start_collector(stack)             # replaces a stale socket file
        stats = stack.wait_requests({v: w["requests"] for v, w in want.items()})
        for vhost, w in want.items():
            got = stats.get(vhost, {})
            assert (got.get("requests"), got.get("events_lost"), got.get("status")) == \
                (w["requests"], w["flagged"], dict(w["status"])), \
                f"{vhost}: collector {got}, sent {w}\n{stack.diagnostics()}"
            assert got.get("flagged") == 0 and got.get("events") == 0, got
        assert access_log_counts(stack.apache) == {v: w["requests"] for v, w in want.items()}
        assert_clean_error_log(stack.apache)
        failed = False
    finally:
        stop_stack(stack, keep=failed)


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_collector_gone_mid_load(stack_factory, how):
    """The collector goes away while clients keep sending: stopped (SIGTERM, sockets
    removed) or killed (SIGKILL, stale socket left), then started again. Requests made
    while it is down are counted exactly once it is back; requests in flight when it
    went away are never counted twice."""
    stack = stack_for(stack_factory)
    failed = True
    load = Load(stack.apache, mix("up.test") + mix("block.test", 403), phase="up")
    try:
        load.start()
        load.wait_for(60, "up")
        before = stack.vhost_stats()        # what the old collector had shortly before
        if how == "stop":
            stack.collector.stop()
        else:
            stack.collector.proc.send_signal(signal.SIGKILL)
            stack.collector.proc.wait(timeout=10)
            stack.collector.stop()
        load.switch(mix("down.test"), "down")   # started after the collector was gone
        load.wait_for(90, "down")
        time.sleep(3 * FLUSH_MS / 1000)
        load.switch(mix("up.test") + mix("block.test", 403), "after")
        load.wait_done("down")              # every down.test request ended while down
        start_collector(stack)
        load.wait_for(30, "after")
        outcomes = load.stop()
        assert_all_answered(outcomes)
        wait_access_log_quiet(stack.apache, outcomes)

        down = sent(outcomes, "down")["down.test"]
        stats = stack.wait_requests({"down.test": down["requests"]})
        got = stats.get("down.test", {})
        # Each flagged request exactly once: as a lost event, or as an event when its
        # logging phase (which runs after the client has its answer) ended after the new
        # collector was up (seen: 1 of 91, 2026-12-02).
        assert (got.get("requests"), got.get("flagged", 0) + got.get("events_lost", 0),
                got.get("status")) == \
            (down["requests"], down["flagged"], dict(down["status"])), \
            f"down.test: collector {got}, sent while down {down}\n{stack.diagnostics()}"
        assert got.get("events", 0) == got.get("flagged", 0), got
        # up.test and block.test: the new collector has what the old one had not been
        # sent yet; together never more than Apache logged.
        logged = access_log_counts(stack.apache)
        for vhost in ("up.test", "block.test"):
            old = before.get(vhost, {}).get("requests", 0)
            new = stats.get(vhost, {}).get("requests", 0)
            assert old + new <= logged[vhost], (f"{vhost} counted twice: old collector {old} "
                                                f"+ new {new} > {logged[vhost]} logged")
            assert new > 0, f"{vhost}: nothing reached the new collector: {stats}"
        assert_clean_error_log(stack.apache)
        failed = False
    finally:
        load.stop()
        stop_stack(stack, keep=failed)


def wait_events(stack: Stack, vhost: str, n: int, timeout: float = 30.0) -> dict:
    """The vhost's `stats` once the collector holds at least `n` of its events (or at
    the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        got = stack.vhost_stats().get(vhost, {})
        if got.get("events", 0) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_no_event_lost_to_a_restarted_collector(stack_factory):
    """Each child's event socket is connected to the collector's socket, by the child at
    its start and by its flusher thread later, so a send names no path. A collector
    started again has a new socket at the path: a child's first send after that finds the
    old one closed (ECONNREFUSED), its next ones find the socket unconnected (ENOTCONN),
    and each goes to the path at once. The flush interval is the longest the directive
    takes (60 s), so no flusher connects again in between: every event of the requests
    after the restart must reach the new collector."""
    stack = stack_for(stack_factory, observe_extra="ModSecObserveFlushInterval 60000\n")
    failed = True
    try:
        before = 12
        for _ in range(before):
            assert stack.apache.request("up.test", SQLI_PATH).status == 200
        got = wait_events(stack, "up.test", before)
        assert got.get("events") == before, f"{got}\n{stack.diagnostics()}"
        # Each child's event socket is connected to the collector's.
        collector = socket_inodes(stack.collector.proc.pid)
        peers = unix_dgram_peers()
        connected = {child: {peers[i] for i in socket_inodes(child) if i in peers}
                     for child in _children(stack.apache.proc.pid)}
        assert connected and all(p & collector for p in connected.values()), \
            f"peers of the children's sockets {connected}, the collector's {collector}"
        stack.collector.stop()
        start_collector(stack)
        after = 24   # several per child: the first send of each, and the ones after it
        for _ in range(after):
            assert stack.apache.request("up.test", SQLI_PATH).status == 200
        got = wait_events(stack, "up.test", after)
        assert (got.get("events"), got.get("flagged")) == (after, after), \
            f"new collector: {got}\n{stack.diagnostics()}"
        assert_clean_error_log(stack.apache)
        failed = False
    finally:
        stop_stack(stack, keep=failed)


def test_collector_stalled_until_queue_full(stack_factory):
    """SIGSTOP the collector under a flood of flagged requests until its datagram queue
    is full (sendto fails with EAGAIN), then SIGCONT. No request waits for the collector;
    afterwards every request is counted exactly once, as an event or as a lost event."""
    stack = stack_for(stack_factory)
    failed = True
    flood = mix("down.test")[2:] + mix("block.test", 403)[2:]    # SQL injections only
    load = Load(stack.apache, flood, phase="stalled", threads=8)
    pid = stack.collector.proc.pid
    try:
        os.kill(pid, signal.SIGSTOP)
        try:
            load.start()
            # The queue holds net.unix.max_dgram_qlen + 1 datagrams (8,193 in the tests), and
            # each child's send buffer its share:
            # wait until the module has had to count events as lost.
            # Requests must keep completing all along; if they stop, Apache is waiting
            # for the stalled collector.
            deadline = time.monotonic() + 90
            progress, progress_at = 0, time.monotonic()
            while not any(_MODULE_WARNING.search(l) for l in stack.apache.error_log_lines()):
                now, n = time.monotonic(), load.count()
                bad = load.failures()
                assert not bad, (f"{len(bad)} requests failed while the collector was "
                                 f"stalled, e.g. {bad[0]}: Apache waits for the observer")
                if n > progress:
                    progress, progress_at = n, now
                assert now - progress_at < CLIENT_TIMEOUT, (
                    f"requests stopped completing after {n} while the collector was stalled: "
                    "Apache waits for the observer")
                assert now < deadline, f"the queue did not fill in 90 s ({n} requests)"
                time.sleep(0.1)
            n = load.count()
            load.wait_for(n + 100, timeout=CLIENT_TIMEOUT * 2)   # and on, with the queue full
        finally:
            os.kill(pid, signal.SIGCONT)
        outcomes = load.stop()
        assert_all_answered(outcomes)
        wait_access_log_quiet(stack.apache, outcomes)
        want = sent(outcomes)
        stats = stack.wait_requests({v: w["requests"] for v, w in want.items()}, timeout=20)
        lost = 0
        for vhost, w in want.items():
            got = stats.get(vhost, {})
            assert got.get("requests") == w["requests"], \
                f"{vhost}: collector {got}, sent {w}\n{stack.diagnostics()}"
            assert got.get("status") == dict(w["status"]), f"{vhost}: {got}, sent {w}"
            assert got["flagged"] + got["events_lost"] == w["flagged"], f"{vhost}: {got}"
            assert got["events"] == got["flagged"], got
            lost += got["events_lost"]
        assert lost > 0, f"the queue never filled: {stats}"
        print(f"\nstalled: {len(outcomes)} requests, {lost} events lost, slowest "
              f"{max(o.seconds for o in outcomes):.3f} s")
        assert any(_MODULE_WARNING.search(l) for l in stack.apache.error_log_lines()), \
            "no send-failure warning in the error log"
        assert_clean_error_log(stack.apache)
        failed = False
    finally:
        load.stop()
        stop_stack(stack, keep=failed)


def test_last_counts_wait_for_a_full_queue(stack_factory):
    """Apache stopped (`-k stop`) while the collector's datagram queue is full: each
    exiting child waits (at most 1 s, no request waits on it) for room for its last
    counts instead of losing them. The collector is stalled (SIGSTOP) under a flood of
    flagged requests until sends fail, Apache is told to stop, and the collector is let
    go (SIGCONT) while the children wait: the collector's totals then equal Apache's
    access log, and no child logs that its last counts were lost. Without the wait, the
    children's first try fails with EAGAIN and every count since the queue filled is lost."""
    stack = stack_for(stack_factory)
    failed = True
    apache = stack.apache
    flood = mix("down.test")[2:] + mix("block.test", 403)[2:]    # SQL injections only
    load = Load(apache, flood, phase="stalled", threads=8)
    pid = stack.collector.proc.pid
    stalled = True
    try:
        os.kill(pid, signal.SIGSTOP)
        load.start()
        deadline = time.monotonic() + 90
        while not any(_MODULE_WARNING.search(l) for l in apache.error_log_lines()):
            assert time.monotonic() < deadline, f"the queue did not fill in 90 s ({load.count()})"
            time.sleep(0.1)
        load.wait_for(load.count() + 20)     # more counts than the queue can take
        outcomes = load.stop()
        assert_all_answered(outcomes)
        wait_access_log_quiet(apache, outcomes)
        proc = apache.proc
        os.kill(proc.pid, signal.SIGTERM)
        # The queue is still full when the exiting children first try; let the collector
        # go at once, so that it drains the queue within their 1 s of patience even when
        # it gets little CPU (a pause here would only eat into that second).
        os.kill(pid, signal.SIGCONT)
        stalled = False
        proc.wait(timeout=20)
        assert proc.returncode == 0, f"apache2 exited with {proc.returncode}"

        logged = access_log_counts(apache)
        stats = stack.wait_requests(logged, timeout=20)
        got = {v: s["requests"] for v, s in stats.items()}
        assert got == logged, f"collector {got}, access log {logged}\n{stack.diagnostics()}"
        lost = [l for l in apache.error_log_lines() if _LAST_COUNTS_LOST.search(l)]
        assert not lost, "\n".join(lost)
        assert_clean_error_log(apache, allowed=_EVENT_STOP_RACE)
        failed = False
    finally:
        if stalled:
            os.kill(pid, signal.SIGCONT)
        load.stop()
        stop_stack(stack, keep=failed)


# ------------------------------------------------------------------------ Apache

def test_event_socket_send_buffer(stack_factory):
    """Each child asks for a send buffer of 1 MiB on its event socket: the datagrams the
    collector has not read yet are charged to it, and a send that finds it full loses the
    event. Linux caps the request at net.core.wmem_max and doubles it (425,984 bytes with
    the kernel's default maximum); without the request a socket has
    net.core.wmem_default (212,992), 93 of a CRS request's datagrams."""
    stack = stack_for(stack_factory)
    failed = True
    try:
        assert stack.apache.request("up.test", SQLI_PATH).status == 200
        stack.wait_requests({"up.test": 1}, timeout=20)
        wmem_max = int(Path("/proc/sys/net/core/wmem_max").read_text())
        want = 2 * min(1 << 20, wmem_max)
        sndbufs = unix_dgram_sndbufs()
        seen = {}
        for child in _children(stack.apache.proc.pid):
            # (a child that exited meanwhile has none)
            seen[child] = {sndbufs[i] for i in socket_inodes(child) if i in sndbufs}
        # A child forked while /proc is read may not have made its socket yet (no entry).
        # Every child that has Unix datagram sockets has its event socket among them (a
        # short-lived probe while a spool is open, or a syslog socket, would have the
        # default buffer beside it).
        assert any(seen.values()), f"no child has a Unix datagram socket: {seen}"
        assert all(want in s for s in seen.values() if s), \
            f"send buffers {seen}, want {want} (net.core.wmem_max {wmem_max})"
        failed = False
    finally:
        stop_stack(stack, keep=failed)


def _children(parent: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            kids.append(int(entry))
    return sorted(kids)


def _fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _connection_inodes() -> set[str]:
    """Inodes of TCP sockets that are not listening: client connections, whose number
    in a child depends on the load at the moment, not on leaks."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] != "0A":      # 0A: LISTEN
                inodes.add(f[9])
    return inodes


def _fd_count_without_connections(pid: int) -> int:
    conns = _connection_inodes()
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if not (target.startswith("socket:[") and target[8:-1] in conns):
            n += 1
    return n


def _rss_kb(pid: int) -> int:
    m = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert m, f"no VmRSS for {pid}"
    return int(m.group(1))


_RESUMING = re.compile(r"AH00489|resuming normal operations")


def graceful_restart(apache: ApacheSandbox, timeout: float = 30.0) -> list[int]:
    """SIGUSR1 to the parent (`apache2 -k graceful`); returns the new generation's
    children once every child of the old one has exited."""
    parent = apache.proc.pid
    deadline = time.monotonic() + timeout
    # The port accepts connections before the parent has installed its signal handlers
    # (SIGUSR1 would then kill it): wait for the "resuming normal operations" notice.
    while not any(_RESUMING.search(l) for l in apache.error_log_lines()):
        assert time.monotonic() < deadline, "Apache never logged that it was up"
        time.sleep(0.05)
    old = set(_children(parent))
    resumed = sum(1 for l in apache.error_log_lines() if _RESUMING.search(l))
    os.kill(parent, signal.SIGUSR1)
    while time.monotonic() < deadline:
        assert apache.proc.poll() is None, "Apache exited on a graceful restart"
        kids = set(_children(parent))
        if (sum(1 for l in apache.error_log_lines() if _RESUMING.search(l)) > resumed
                and kids and not kids & old):
            return sorted(kids)
        time.sleep(0.1)
    raise AssertionError(f"graceful restart did not complete in {timeout} s "
                         f"(old children left: {sorted(set(_children(parent)) & old)})")


def sample_resources(apache: ApacheSandbox, readings: int = 5) -> tuple[int, int, int]:
    """(parent's open fds, most open fds of a child without client connections, parent's
    RSS in kB) from `readings` readings 0.2 s apart: the descriptor counts are their
    medians, the RSS the smallest. One reading may catch a child mid-request (a file
    open) or just started (its logs and listeners not yet all open); a leaked
    descriptor shows in every reading, so the median keeps it and drops the moments."""
    parent = apache.proc.pid
    out = []
    for i in range(readings):
        if i:
            time.sleep(0.2)
        kids = _children(parent)
        assert kids, "Apache has no children"
        out.append((_fd_count(parent), max(_fd_count_without_connections(k) for k in kids),
                    _rss_kb(parent)))
    return (statistics.median_low(r[0] for r in out),
            statistics.median_low(r[1] for r in out), min(r[2] for r in out))


def restart_growth(samples: list[tuple[int, int, int]]) -> tuple[int, int, float]:
    """Growth from restart 2 to the last: parent fds, child fds, parent RSS kB per restart
    (restart 1 allocates what later ones reuse). A leak grows with every restart, so the
    last sample against the second tells it; the samples in between are not compared
    (one of them catching a passing descriptor is not growth)."""
    first, last = samples[1], samples[-1]
    return (last[0] - first[0], last[1] - first[1],
            (last[2] - first[2]) / (len(samples) - 2))


RESTARTS = 10


def test_graceful_restarts_under_load(stack_factory):
    """Ten graceful restarts while clients keep sending: every request is answered, no
    child crashes or has to be killed, the old generation's last counts arrive (the
    collector's totals equal Apache's access log exactly), and nothing grows from
    restart to restart: the parent's and the children's open descriptors stay the same,
    and the parent's RSS grows no faster than that of the same Apache without the module
    (Apache + mod_security2 + CRS alone grow by ~0.4 MB per graceful restart here)."""
    stack = stack_for(stack_factory)
    failed = True
    apache = stack.apache
    load = Load(apache, mix("up.test") + mix("block.test", 403), threads=4)
    samples = []
    try:
        load.start()
        load.wait_for(30)
        for _ in range(RESTARTS):
            graceful_restart(apache)
            load.wait_for(load.count() + 20)     # the new generation serves
            load.pause()                         # count descriptors between requests
            samples.append(sample_resources(apache))
            load.resume()
        outcomes = load.stop()
        assert_all_answered(outcomes)
        wait_access_log_quiet(apache, outcomes)

        logged = access_log_counts(apache)
        stats = stack.wait_requests(logged)
        got = {v: s["requests"] for v, s in stats.items()}
        assert got == logged, f"collector {got}, access log {logged}\n{stack.diagnostics()}"
        want = sent(outcomes)
        for vhost, w in want.items():
            s = stats[vhost]
            assert s["status"] == dict(w["status"]), f"{vhost}: {s}, sent {w}"
            assert s["flagged"] + s["events_lost"] == w["flagged"], f"{vhost}: {s}"
        restarts = [l for l in apache.error_log_lines() if "AH00493" in l]
        assert len(restarts) == RESTARTS, f"restarts logged: {restarts}"
        assert_clean_error_log(apache)
        failed = False
    finally:
        load.stop()
        stop_stack(stack, keep=failed)

    # The same Apache without the module, restarted as often (no load: the parent does
    # not serve requests).
    control = ApacheSandbox(crs="3", mpm="event", vhosts=VHOSTS)
    control_samples = []
    try:
        control.start()
        for _ in range(RESTARTS):
            graceful_restart(control)
            # As under load above: sampled once the new generation has served.
            assert control.request("up.test", "/").status == 200
            control_samples.append(sample_resources(control))
    finally:
        control.cleanup()
    fds, kid_fds, rss = restart_growth(samples)
    _, _, control_rss = restart_growth(control_samples)
    print(f"\n(parent fds, child fds, parent RSS kB) per restart, module: {samples}"
          f"\nwithout the module: {control_samples}")
    assert fds <= 0, f"the parent's descriptors grew by {fds}: {samples}"
    assert kid_fds <= 0, f"children's descriptors grew by {kid_fds}: {samples}"
    # The module's own descriptor: each child holds exactly one more than without it.
    assert samples[-1][1] == control_samples[-1][1] + 1, (samples, control_samples)
    # RSS is compared as growth per restart from restart 2 to 10 (8 restarts), the same
    # Apache without the module as the baseline: Apache + ModSecurity + CRS grow by about
    # 400 kB per restart by themselves, and glibc's heap moves in 4 kB pages. 32 kB per
    # restart (256 kB over the 8) is the allowance for that page-level noise; the module's
    # per-restart state (its config and vhost table, allocated from pconf) leaking would
    # add at least its size on every restart.
    assert rss <= control_rss + 32, (f"parent RSS grows by {rss:.0f} kB per restart with the "
                                     f"module, {control_rss:.0f} kB without: {samples}")


@pytest.mark.parametrize("sig", [signal.SIGWINCH, signal.SIGTERM],
                         ids=["graceful-stop", "stop"])
def test_apache_stop_under_load(stack_factory, sig):
    """Apache stopped while clients keep sending (SIGWINCH = `-k graceful-stop`,
    SIGTERM = `-k stop`). Requests are answered or, once Apache closes its listener,
    refused; none hangs. Every child exits by itself (none killed, none crashed), and its
    last counts arrive: the collector's totals equal Apache's access log exactly.
    One exception, Apache's own: a child that crashes in mpm_event's stop race
    (sandbox.KNOWN_STOP_CRASHES, proven by its core) loses its last counts, so the requests it
    served since its last flush may be missing, and only those."""
    stack = stack_for(stack_factory, pid_log=True)
    failed = True
    apache = stack.apache
    load = Load(apache, mix("up.test") + mix("block.test", 403))
    try:
        load.start()
        load.wait_for(60)
        stopped_at = time.monotonic()
        proc = apache.proc
        os.kill(proc.pid, sig)
        proc.wait(timeout=20)                # a hung child would hold the parent
        assert proc.returncode == 0, f"apache2 exited with {proc.returncode}"
        time.sleep(0.5)
        outcomes = load.stop()
        assert_all_answered(outcomes, allow_refused_after=stopped_at)
        assert sum(1 for o in outcomes if o.result == o.req.status) >= 60

        logged = access_log_counts(apache)
        crashed = crashed_children(apache)
        # After a crash the totals may stay short of the log: the full wait, then the range.
        stats = stack.wait_requests(logged)
        got = {v: s["requests"] for v, s in stats.items()}
        at_risk = requests_of(apache, crashed)
        low = {v: n - at_risk[v] for v, n in logged.items()}
        assert set(got) == set(logged) and all(low[v] <= got[v] <= logged[v] for v in got), (
            f"collector {got}, access log {logged}, served by crashed children {crashed}: "
            f"{dict(at_risk)}\n{stack.diagnostics()}")
        if crashed:
            print(f"\nmpm_event's stop race crashed children {crashed} (their requests "
                  f"{dict(at_risk)}); collector {got}, access log {logged}")
        for vhost, s in stats.items():
            assert s["events_lost"] == 0, f"{vhost}: {s}"
        assert_clean_error_log(apache, allowed=_EVENT_STOP_RACE, stop_crashes_ok=True)
        failed = False
    finally:
        load.stop()
        stop_stack(stack, keep=failed)


_SIGNALS_THE_FLUSHER_BLOCKS = {signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGWINCH,
                               signal.SIGSEGV, signal.SIGINT}


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_the_flusher_thread_takes_no_signal(stack_factory, mpm):
    """A signal sent to a child (SIGTERM on `-k stop`, SIGUSR1 and SIGWINCH on graceful
    ones, a SIGSEGV Apache re-raises to dump a core) must reach Apache's own thread: the
    module's flusher blocks every signal. mpm_prefork opens the signals before
    child_init; a SIGTERM taken by the flusher there would run prefork's handler (destroy
    the child's pool, exit) on the flusher while the request thread goes on. Read from
    /proc: each child's threads other than its main one."""
    stack = stack_factory(crs="3", mpm=mpm, vhosts=VHOSTS)
    failed = True

    def count_flushers():
        """(children, threads blocking the signals); asserts no prefork thread takes one."""
        children = [int(p) for p in subprocess.run(
            ["pgrep", "-P", str(stack.apache.proc.pid)], capture_output=True,
            text=True).stdout.split()]
        flushers = 0
        for child in children:
            try:
                tasks = list(Path(f"/proc/{child}/task").iterdir())
            except FileNotFoundError:
                continue  # the child exited meanwhile
            for task in tasks:
                try:
                    status = (task / "status").read_text()
                    name = (task / "comm").read_text().strip()
                except (FileNotFoundError, ProcessLookupError):
                    continue
                blocked = int(re.search(r"^SigBlk:\s*([0-9a-f]+)$", status, re.M).group(1), 16)
                if int(task.name) == child:
                    continue  # Apache's main thread (it waits for signals, or takes them)
                open_signals = {s for s in _SIGNALS_THE_FLUSHER_BLOCKS
                                if not blocked & (1 << (s - 1))}
                if mpm == "prefork":  # its only other thread is the flusher
                    flushers += 1
                    assert not open_signals, f"child {child} thread {task.name} ({name}) takes {open_signals}"
                elif not open_signals:
                    flushers += 1  # event: every thread blocks these; the flusher among them
        return children, flushers

    try:
        assert stack.apache.request("up.test", "/").status == 200
        # A child the MPM forks or retires while /proc is read has no flusher yet (or
        # any more): read again until every child listed has one, for up to 30 s.
        deadline = time.monotonic() + 30
        children, flushers = count_flushers()
        while flushers < len(children) and time.monotonic() < deadline:
            time.sleep(0.2)
            children, flushers = count_flushers()
        assert children
        assert flushers >= len(children), f"{flushers} flushers in {len(children)} children"
        failed = False
    finally:
        stop_stack(stack, keep=failed)
