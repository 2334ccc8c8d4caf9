#!/usr/bin/python3
"""No loss at the limit (issue 15, item 4): the highest event rate Apache + the module +
the collector sustain without `events_lost`, per MPM, with the packaged sysctl.

Every request is an event (`ModSecObserveEvents all`); wrk asks for one static file
(`/index.html`, browser-like headers, `Host: bench.test`), where Apache is fastest. For
each MPM (`--mpms`, default event and prefork) four sandboxed Apaches
(tests/integration/sandbox.py, as bench/apache_bench.py uses it) run side by side:

  crs            ModSecurity + CRS 3.3.4 PL1, SecRuleEngine On, + the module and its
                 snippet, sending to a modsec-observed
  crs-ceiling    the same without the module (what Apache gives with ModSecurity on)
  plain          Apache without mod_security2, + the module (it then sends request
                 counts and, with `all`, an event per request): Apache at its fastest,
                 the rate that tests the pipeline. (mod_security2 loaded with
                 SecRuleEngine Off for the vhost answered about 6-7 times fewer
                 requests/s than without it on this machine, so it is not the fast case.)
  plain-ceiling  the same without the module

The connections ramp (`--connections`, default 1 2 4 8 16 32 64); at each step every
configuration with the module (and the ceilings at `--ceiling-at` steps) gets a warm-up
and then a `--duration` wrk run, in an order rotated per step. Per observed step: wrk's
requests/s; the requests Apache logged; `request_events` and `events_lost` from the
collector's `health` (the module reports lost events in its counter datagrams, so the
step is read once the collector has counted every logged request); the collector's CPU
seconds (/proc/PID/stat, all threads) and its ingest loop's time runnable but waiting for
a CPU (/proc schedstat); the machine's CPU busy share and load average; and where the
datagrams waited: every 0.1 s a sock_diag dump gives each Apache child's event socket's
bytes in flight (Send-Q: datagrams sent but not yet read by the collector, bounded by
SO_SNDBUF, net.core.wmem_default) and whether the collector's queue (at most
max_dgram_qlen + 1 datagrams, from all senders together) is non-empty. A non-blocking
send fails with EAGAIN when either is full; which one is near its bound tells the cause.
The module's rate-limited warning ("datagrams could not be sent ... last error") is
collected from the error log.

One JSON line per step on stdout as it is measured (`STEP {...}`), then the Markdown
table and summary; progress on stderr; everything to `--json` (default
bench/results/loss-<time>.json). About 8 minutes with the defaults.

    nice -n 0 env MSO_BUILD_DIR=$PWD/build bench/loss_bench.py        # as root

Needs root (Apache's children run as www-data, and net.unix.max_dgram_qlen is set to
packaging/99-modsec-observe.conf's value (8,192) for the run, then restored; the collector's
socket takes the value when it is created) and wrk. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
sys.path.insert(0, str(HERE))

from apache_bench import Binaries, log, machine_info  # noqa: E402
from bench_util import PACKAGED_QLEN, health, packaged_qlen, proc_cpu_s  # noqa: E402
from unix_diag import socket_inodes, unix_dgram_queues  # noqa: E402
from sandbox import (APACHE_BIN, BROWSER_HEADERS, ApacheSandbox, Collector,  # noqa: E402
                     VirtualHost)

WRK = "/usr/bin/wrk"
VHOST = "bench.test"
PATH = "/index.html"
WMEM_DEFAULT = Path("/proc/sys/net/core/wmem_default")
TARGET_EVENTS_PER_S = 50_000

# name -> (mod_security2 + CRS with SecRuleEngine On, module loaded)
CONFIGS = {
    "crs": (True, True),
    "crs-ceiling": (True, False),
    "plain": (False, True),
    "plain-ceiling": (False, False),
}
OBSERVED = ("crs", "plain")


# ------------------------------------------------------------------ /proc readings

def loop_sched_ms(pid: int) -> tuple[float, float]:
    """The main (ingest loop) thread's time on a CPU and runnable but waiting, in ms."""
    on_cpu, waiting, _ = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    return int(on_cpu) / 1e6, int(waiting) / 1e6


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs (/proc/stat; idle and iowait are not busy)."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(v[:8])
    return total - v[3] - v[4], total


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class QueueSampler(threading.Thread):
    """Every `every` s while wrk runs: each Apache process's Unix datagram sockets' bytes
    in flight (the module's one event socket per child), and the collector's queue."""

    def __init__(self, apache_pid: int, collector_pid: int, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.apache_pid, self.collector_pid, self.every = apache_pid, collector_pid, every
        self.stop_event = threading.Event()
        self.samples = 0
        self.max_socket = 0      # bytes, one child's socket
        self.max_total = 0       # bytes, every child's together
        self.senders = 0         # most sender sockets seen at once
        self.nonempty = 0        # samples with the collector's queue non-empty
        self.near_sndbuf = 0     # samples with a socket at >= 90 % of SO_SNDBUF
        self.sndbuf = int(WMEM_DEFAULT.read_text())

    def run(self) -> None:
        inodes: dict[int, set[int]] = {}
        collector = socket_inodes(self.collector_pid)
        n = 0
        while not self.stop_event.wait(self.every):
            pids = [self.apache_pid] + children(self.apache_pid)
            for p in pids:
                if p not in inodes or n % 20 == 0:
                    inodes[p] = socket_inodes(p)
            n += 1
            try:
                queues = unix_dgram_queues()
            except OSError:
                continue
            sent = [queues[i][1] for p in pids for i in inodes.get(p, ()) if i in queues]
            self.samples += 1
            self.senders = max(self.senders, len(sent))
            self.max_socket = max([self.max_socket] + sent)
            self.max_total = max(self.max_total, sum(sent))
            self.near_sndbuf += any(s >= 0.9 * self.sndbuf for s in sent)
            self.nonempty += any(queues.get(i, (0, 0))[0] > 0 for i in collector)

    def result(self) -> dict:
        return {"samples": self.samples, "senders": self.senders,
                "max_socket_bytes": self.max_socket, "max_total_bytes": self.max_total,
                "samples_socket_near_sndbuf": self.near_sndbuf,
                "samples_collector_queue_nonempty": self.nonempty, "sndbuf": self.sndbuf}


def sender_capacity(size: int) -> int:
    """How many datagrams of `size` bytes one non-blocking socket gets into an unread
    queue before EAGAIN (its SO_SNDBUF, or the queue's max_dgram_qlen + 1)."""
    d = Path(f"/tmp/msolb-{os.getpid()}.sock")
    d.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as r, \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        r.bind(str(d))
        s.setblocking(False)
        n = 0
        try:
            while n < 100_000:
                s.sendto(b"x" * size, str(d))
                n += 1
        except BlockingIOError:
            pass
    d.unlink(missing_ok=True)
    return n


# ------------------------------------------------------------------------- setups

@dataclass
class Setup:
    name: str
    apache: ApacheSandbox
    collector: Collector | None = None
    access_offset: int = 0       # bytes of the access log counted so far
    access_lines: int = 0
    error_offset: int = 0

    def logged(self) -> int:
        """Access-log lines so far (read on from the last offset)."""
        with open(self.apache.access_log, "rb") as f:
            f.seek(self.access_offset)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        self.access_offset += cut
        self.access_lines += data.count(b"\n", 0, cut)
        return self.access_lines

    def module_warnings(self) -> list[str]:
        lines = self.apache.error_log_lines(self.error_offset)
        self.error_offset = self.apache.error_log_size()
        return [l for l in lines if "modsec_observe:" in l]


def make_setup(name: str, mpm: str, bins: Binaries) -> Setup:
    modsecurity, with_module = CONFIGS[name]
    common = dict(crs="3", paranoia=1, mpm=mpm, vhosts=[VirtualHost(VHOST, "On")],
                  modsecurity=modsecurity)
    if not with_module:
        return Setup(name, ApacheSandbox(**common))
    collector = Collector(bins.daemon, bins.cli)
    # As bench/apache_bench.py's (b), with every request an event (and the snippet only
    # where there is a ModSecurity to run it).
    observe = f"ModSecObserveSocket {collector.event_socket}\nModSecObserveEvents all\n"
    return Setup(name, ApacheSandbox(module=bins.module, observe_conf=observe,
                                     snippet=bins.snippet if modsecurity else None, **common),
                 collector=collector)


def collector_counts(s: Setup) -> dict:
    assert s.collector
    h = health(s.collector.cli, s.collector.query_socket)
    res = s.collector.cli_run("stats", "--json")
    doc = json.loads(res.stdout)
    src = s.collector.cli_run("sources", "--json")
    module = next((x for x in json.loads(src.stdout).get("sources", [])
                   if x.get("source") == "module"), {})
    return {"requests": sum(v.get("requests", 0) for v in doc.get("vhosts", [])),
            "request_events": h["request_events"], "events_lost": h["events_lost"],
            "datagrams": h["datagrams"], "counter_reports": h["counter_reports"],
            "malformed": h["malformed"], "module_bytes": module.get("bytes", 0),
            "module_events": module.get("events", 0)}


def drain(s: Setup, timeout: float = 30.0) -> tuple[dict | None, float, bool]:
    """Waits until the collector has counted every request Apache logged (events +
    counter reports, which carry `events_lost`; reports come every second), or, should
    the two never meet, until its count has not moved for 3 s; (counts, seconds waited,
    counted == logged)."""
    start = time.monotonic()
    counts = None
    last, still_since = -1, start
    while time.monotonic() - start < timeout:
        logged = s.logged()
        if s.collector is None:
            return None, 0.0, True
        counts = collector_counts(s)
        if counts["requests"] == logged:
            return counts, time.monotonic() - start, True
        if counts["requests"] != last:
            last, still_since = counts["requests"], time.monotonic()
        elif time.monotonic() - still_since > 3.0:
            break
        time.sleep(0.2)
    return counts, time.monotonic() - start, False


# ---------------------------------------------------------------------------- wrk

def run_wrk(port: int, seconds: float, connections: int) -> dict:
    cmd = [WRK, f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
           "-H", f"Host: {VHOST}"]
    for k, v in BROWSER_HEADERS.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(f"http://127.0.0.1:{port}{PATH}")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60,
                         check=False)
    out = res.stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    if res.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({res.returncode}): {' '.join(cmd)}\n{out}{res.stderr}")
    secs = float(m.group(2)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(3)]

    def latency_ms(p: str) -> float | None:
        lm = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        return (round(float(lm.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[lm.group(2)], 3)
                if lm else None)

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    return {"requests": int(m.group(1)), "seconds": round(secs, 3),
            "rps": round(int(m.group(1)) / secs, 1), "p50_ms": latency_ms("50"),
            "p99_ms": latency_ms("99"), "non_2xx_3xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0}


# -------------------------------------------------------------------------- steps

def measure(s: Setup, mpm: str, connections: int, args) -> dict:
    run_wrk(s.apache.port, args.warmup, connections)
    before, _, _ = drain(s)
    s.module_warnings()
    assert s.apache.proc
    c_pid = s.collector.proc.pid if s.collector and s.collector.proc else None
    cpu0 = proc_cpu_s(c_pid) if c_pid else 0.0
    sched0 = loop_sched_ms(c_pid) if c_pid else (0.0, 0.0)
    ticks0 = machine_ticks()
    sampler = QueueSampler(s.apache.proc.pid, c_pid) if c_pid else None
    if sampler:
        sampler.start()
    w = run_wrk(s.apache.port, args.duration, connections)
    if sampler:
        sampler.stop_event.set()
        sampler.join()
    ticks1 = machine_ticks()
    load = os.getloadavg()
    cpu1 = proc_cpu_s(c_pid) if c_pid else 0.0
    sched1 = loop_sched_ms(c_pid) if c_pid else (0.0, 0.0)
    logged0 = s.access_lines
    after, drain_s, complete = drain(s)
    row = {"mpm": mpm, "config": s.name, "connections": connections, "wrk": w,
           "logged": s.access_lines - logged0,
           "machine_busy_pct": round(100 * (ticks1[0] - ticks0[0]) /
                                     max(1, ticks1[1] - ticks0[1]), 1),
           "loadavg": [round(x, 2) for x in load]}
    if s.collector and before and after:
        d = {k: after[k] - before[k] for k in after}
        events = d["request_events"]
        cpu_all = proc_cpu_s(c_pid) - cpu0
        row.update({
            "events": events, "events_lost": d["events_lost"],
            "events_per_s": round(events / w["seconds"], 1),
            "counted": d["requests"], "accounted": complete, "drain_s": round(drain_s, 2),
            "counter_reports": d["counter_reports"], "malformed": d["malformed"],
            "datagram_bytes": round(d["module_bytes"] / d["module_events"])
            if d["module_events"] else None,
            "collector_cpu_s": round(cpu1 - cpu0, 2),
            "collector_cpu_pct": round(100 * (cpu1 - cpu0) / w["seconds"], 1),
            "collector_cpu_s_with_drain": round(cpu_all, 2),
            "collector_us_per_event": round(1e6 * cpu_all / events, 2) if events else None,
            "loop_cpu_ms": round(sched1[0] - sched0[0]),
            "loop_waited_for_cpu_ms": round(sched1[1] - sched0[1]),
            "queues": sampler.result() if sampler else None,
        })
        warnings = s.module_warnings()
        if warnings:
            row["module_warnings"] = len(warnings)
            row["module_warning_last"] = warnings[-1][-300:]
    # The module's own warnings are collected above ("plain" also logs at start that
    # mod_security2 is not loaded).
    bad = [l for l in s.apache.unexpected_log_lines() if "modsec_observe:" not in l]
    if bad:
        row["unexpected_error_log"] = bad[:3]
    return row


def run_mpm(mpm: str, bins: Binaries, args) -> dict:
    names = list(OBSERVED) + [n + "-ceiling" for n in OBSERVED]
    setups = [make_setup(n, mpm, bins) for n in names]
    out: dict = {"mpm": mpm, "uptime_before": uptime(), "steps": []}
    try:
        for s in setups:
            if s.collector:
                s.collector.start()
            s.apache.start(timeout=60)
        log(f"mpm_{mpm}: {', '.join(s.name for s in setups)} up")
        for i, c in enumerate(args.connections):
            todo = [s for s in setups if s.collector or c in args.ceiling_at]
            todo = todo[i % len(todo):] + todo[:i % len(todo)]
            for s in todo:
                row = measure(s, mpm, c, args)
                out["steps"].append(row)
                print("STEP " + json.dumps(row), flush=True)
                log(f"mpm_{mpm} {s.name:>18} c={c:<3} {row['wrk']['rps']:9.1f} req/s"
                    + (f"  events {row.get('events')}  lost {row.get('events_lost')}"
                       f"  collector {row.get('collector_cpu_pct')} %"
                       if s.collector else "") + f"  load {row['loadavg'][0]}")
    finally:
        for s in setups:
            s.apache.stop()
            if s.collector:
                s.collector.stop()
            if os.environ.get("MSO_KEEP_TMP") == "1":
                log(f"kept {s.apache.dir}" + (f" {s.collector.dir}" if s.collector else ""))
            else:
                shutil.rmtree(s.apache.dir, ignore_errors=True)
                if s.collector:
                    shutil.rmtree(s.collector.dir, ignore_errors=True)
    out["uptime_after"] = uptime()
    return out


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


# ------------------------------------------------------------------------ report

def summary(runs: list[dict]) -> list[dict]:
    """Per MPM and observed configuration: the highest events/s of a step without loss,
    and the lowest with loss."""
    out = []
    for run in runs:
        for name in OBSERVED:
            steps = [r for r in run["steps"] if r["config"] == name and "events" in r]
            clean = [r for r in steps if r["events_lost"] == 0]
            lossy = [r for r in steps if r["events_lost"] > 0]
            best = max(clean, key=lambda r: r["events_per_s"], default=None)
            first = min(lossy, key=lambda r: r["events_per_s"], default=None)
            ceilings = [r["wrk"]["rps"] for r in run["steps"] if r["config"] == name + "-ceiling"]
            out.append({"mpm": run["mpm"], "config": name,
                        "max_events_per_s_without_loss": best["events_per_s"] if best else None,
                        "at_connections": best["connections"] if best else None,
                        "lowest_events_per_s_with_loss": first["events_per_s"] if first else None,
                        "lossy_steps": [(r["connections"], r["events_lost"]) for r in lossy],
                        "ceiling_rps_max": max(ceilings, default=None),
                        "reaches_target": bool(best and best["events_per_s"] >= TARGET_EVENTS_PER_S)})
    return out


def markdown(result: dict) -> str:
    p = result["parameters"]
    lines = [f"wrk -t2 (-t1 at 1 connection) -d{p['duration']:g}s on {PATH}, warm-up "
             f"{p['warmup']:g} s; net.unix.max_dgram_qlen {p['max_dgram_qlen']}, "
             f"SO_SNDBUF {p['sndbuf']:,} B (a sender socket holds {p['sender_capacity']} "
             f"datagrams of {p['datagram_bytes']} B); {p['nproc']} CPUs", "",
             "| MPM | config | conns | req/s | events/s | lost | collector CPU % | µs/event "
             "| loop waited for CPU ms | max Send-Q one child / all KiB | senders "
             "| collector queue non-empty % | machine busy % | load 1 min |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | ---: | ---: |"]
    for run in result["runs"]:
        for r in run["steps"]:
            q = r.get("queues") or {}
            obs = "events" in r
            lines.append(
                f"| {r['mpm']} | {r['config']} | {r['connections']} | {r['wrk']['rps']:,.0f} | "
                + (f"{r['events_per_s']:,.0f} | {r['events_lost']:,}"
                   f"{'' if r['accounted'] else ' (unaccounted)'} | {r['collector_cpu_pct']} | "
                   f"{r['collector_us_per_event']} | {r['loop_waited_for_cpu_ms']:,} | "
                   f"{q.get('max_socket_bytes', 0) / 1024:,.0f} / "
                   f"{q.get('max_total_bytes', 0) / 1024:,.0f} | {q.get('senders', '')} | "
                   f"{100 * q.get('samples_collector_queue_nonempty', 0) / max(1, q.get('samples', 0)):.0f} | "
                   if obs else " |" * 8 + " ")
                + f"{r['machine_busy_pct']} | {r['loadavg'][0]} |")
    lines.append("")
    for run in result["runs"]:
        lines.append(f"- mpm_{run['mpm']}: before `{run['uptime_before']}`; "
                     f"after `{run['uptime_after']}`")
    for s in result["summary"]:
        lines.append(f"- mpm_{s['mpm']} {s['config']}: highest events/s without loss "
                     f"{s['max_events_per_s_without_loss']} (at {s['at_connections']} "
                     f"connections); lossy steps (connections, lost) {s['lossy_steps']}; "
                     f"ceiling without the module {s['ceiling_rps_max']} req/s; "
                     f"{TARGET_EVENTS_PER_S:,}/s {'reached' if s['reaches_target'] else 'not reached'}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mpms", nargs="+", default=["event", "prefork"],
                    choices=["event", "prefork", "worker"])
    ap.add_argument("--connections", nargs="+", type=int, default=[1, 2, 4, 8, 16, 32, 64])
    ap.add_argument("--ceiling-at", nargs="+", type=int, default=[16, 64],
                    help="steps at which the ceilings (no module) are measured too")
    ap.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of wrk before each")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("error: run as root (Apache's children switch to www-data; "
                 "net.unix.max_dgram_qlen is set for the run)")
    for tool in (WRK, str(APACHE_BIN)):
        if not Path(tool).exists():
            sys.exit(f"error: {tool} not found (bench/apache_bench.sh installs it)")
    bins = Binaries.find()
    result: dict = {"kind": "loss", "machine": machine_info(), "runs": []}
    started = time.monotonic()
    with packaged_qlen() as old_qlen:
        for mpm in args.mpms:
            result["runs"].append(run_mpm(mpm, bins, args))
        sizes = [r["datagram_bytes"] for run in result["runs"] for r in run["steps"]
                 if r.get("datagram_bytes")]
        size = max(sizes, default=700)
        capacity = sender_capacity(size)   # with the packaged max_dgram_qlen still set
    result["parameters"] = {"duration": args.duration, "warmup": args.warmup,
                            "connections": args.connections, "ceiling_at": args.ceiling_at,
                            "max_dgram_qlen": PACKAGED_QLEN,
                            "max_dgram_qlen_restored_to": old_qlen,
                            "sndbuf": int(WMEM_DEFAULT.read_text()), "datagram_bytes": size,
                            "sender_capacity": capacity,
                            "nproc": os.cpu_count(), "build": str(bins.module.parent.parent)}
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    result["summary"] = summary(result["runs"])
    result["markdown"] = markdown(result)
    path = args.json or HERE / "results" / f"loss-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(result["markdown"])
    print(f"\n(JSON: {path}; {result['elapsed_s']} s)", flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
