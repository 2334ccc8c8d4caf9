#!/usr/bin/python3
"""What observing ModSecurity costs Apache: side-by-side wrk runs and callgrind counts.

`wrk` (default): Apache 2.4 (mpm_event; `--mpm prefork`) + mod_security2 + CRS 3.3.4 from Debian (`--crs 4`: CRS 4.28), PL1,
SecRuleEngine On, on 127.0.0.1, in these configurations, alternated round-robin so that
load from other processes on the machine hits all of them alike:

  ceiling  Apache without mod_security2 (what the hardware gives)
  a        ModSecurity + CRS, no observer
  b        + mod_modsec_observe and the modsec-observed collector (+ the scores snippet)
  c        + Serial audit log, SecAuditEngine RelevantOnly (Debian's recommended parts)
  d        + SecAuditEngine On, SecAuditLogFormat JSON, Serial
  e        + Concurrent audit log (RelevantOnly) piped to mlogc, uploading to a local
           receiver (mlogc_receiver.py)

with three traffic mixes (wrk_mix.lua): benign only, attack-heavy (3 in 10 requests
carry an SQLi/XSS/path traversal and are blocked), and flagged (every request one of
those attacks). Each measurement is a warm-up then a
fixed-duration `wrk --latency` run; each configuration's requests/s is divided by (a)'s
of the same round and mix, and the median, min and max of those ratios over the rounds
are reported with the median p50/p99 latency. Markdown to stdout, everything to JSON.
`--interleave` starts all configurations at once and alternates between them each round
instead of restarting them (short rounds that follow a drifting machine); `--mpm prefork`
swaps the MPM. net.unix.max_dgram_qlen is the packaged value (bench_util) during the run.

`callgrind`: Apache -X (one process, mpm_prefork) under valgrind's callgrind with CRS,
N clean and N attack requests, each on its own connection and counted apart (one
dump per connection, start-up not counted), in
three configurations (ceiling, a, b). Reports instructions per request inclusive in the
module's two hooks next to ModSecurity + CRS's (calls into mod_security2.so from
outside it; and the difference of whole-process totals between (a) and the ceiling).

Run through bench/apache_bench.sh, which installs packages and builds first.
Needs root (Apache's children run as www-data, as in production) and only the Python
standard library; reuses tests/integration/sandbox.py for Apache and the collector.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
sys.path.insert(0, str(HERE))

from bench_util import PACKAGED_QLEN, packaged_qlen, proc_cpu_s  # noqa: E402
from mlogc_receiver import Receiver  # noqa: E402
from sandbox import (APACHE_BIN, BROWSER_HEADERS, ApacheSandbox, Collector,  # noqa: E402
                     VirtualHost, _stop_process, _www_data_ids, build_dir, crs4_dir,
                     free_port, repo_root)

WRK = "/usr/bin/wrk"
MLOGC = "/usr/bin/mlogc"
LUA = HERE / "wrk_mix.lua"
VHOST = "bench.test"
CRS = "3"  # --crs: Debian's CRS 3.3.4, or 4 (CRS 4.28 beside the repository)
MIXES = ("benign", "attack", "flagged")

CONFIGS = {
    "ceiling": "Apache, no ModSecurity",
    "a": "ModSecurity + CRS, no observer",
    "b": "+ mod_modsec_observe + collector",
    "b0": "(b) as built in --baseline (before/after)",
    "b1": "(b) with ModSecObserveProtocol 1 (alerts parsed in Apache)",
    "c": "+ Serial audit log, RelevantOnly",
    "d": "+ JSON audit log, SecAuditEngine On",
    "e": "+ Concurrent audit log -> mlogc -> HTTP",
}

# Requests for the callgrind counts: browser-like, one clean, one with about 5 CRS
# findings at PL1 (checked and reported from the collector's events).
CLEAN_PATH = "/index.html?page=2&sort=name"
ATTACK_PATH = "/?q=%3Cscript%3Ealert%28document.cookie%29%3C%2Fscript%3E"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Binaries:
    module: Path
    daemon: Path
    cli: Path
    snippet: Path

    baseline: "Binaries | None" = None  # config b0: another tree's build and snippet

    @staticmethod
    def find(required: bool = True, build: Path | None = None,
             tree: Path | None = None) -> "Binaries":
        b = build or build_dir()
        bins = Binaries(b / "mod_modsec_observe" / "mod_modsec_observe.so",
                        b / "collector" / "modsec-observed", b / "collector" / "modsec-observe",
                        (tree or repo_root()) / "conf" / "modsec_observe_rules.conf")
        missing = [str(p) for p in (bins.module, bins.daemon, bins.cli, bins.snippet)
                   if not Path(p).is_file()]
        if missing and required:
            sys.exit("error: missing build outputs (run bench/apache_bench.sh, or set "
                     "MSO_BUILD_DIR): " + ", ".join(missing))
        return bins


# ------------------------------------------------------------------ configurations

@dataclass
class Setup:
    """One running configuration: Apache plus what it needs (collector, receiver)."""
    name: str
    apache: ApacheSandbox
    collector: Collector | None = None
    receiver: Receiver | None = None
    receiver_thread: threading.Thread | None = None
    mlogc_dir: Path | None = None

    def stop(self) -> None:
        try:
            self.apache.stop()
        finally:
            if self.collector:
                self.collector.stop()
            if self.receiver:
                self.receiver.shutdown()
                self.receiver.server_close()

    def cleanup(self) -> None:
        if os.environ.get("MSO_KEEP_TMP") == "1":
            log(f"kept {self.apache.dir}" + (f" {self.collector.dir}" if self.collector else ""))
            return
        shutil.rmtree(self.apache.dir, ignore_errors=True)
        if self.collector:
            shutil.rmtree(self.collector.dir, ignore_errors=True)

    def observations(self) -> dict:
        """What each configuration did besides answering: events, log sizes, uploads."""
        out: dict = {}
        if self.collector:
            res = self.collector.cli_run("stats", "--json")
            try:
                doc = json.loads(res.stdout)
                v = {x["vhost"]: x for x in doc.get("vhosts", [])}.get(VHOST, {})
                out["collector"] = {k: v.get(k) for k in
                                    ("requests", "flagged", "intercepted", "events",
                                     "events_lost")}
                rules = v.get("rules")
                if isinstance(rules, list):
                    out["collector"]["findings"] = sum(r.get("hits", 0) for r in rules)
            except (json.JSONDecodeError, AttributeError, TypeError):
                out["collector"] = {"error": (res.stderr or res.stdout)[:300]}
        logs = self.apache.dir / "logs"
        for f in ("modsec_audit.log", "modsec_audit.json"):
            if (logs / f).exists():
                out[f] = (logs / f).stat().st_size
        if self.receiver:
            out["receiver"] = self.receiver.counts.snapshot()
        if self.mlogc_dir:
            data = self.mlogc_dir / "data"
            out["mlogc_backlog_files"] = sum(1 for p in data.rglob("*") if p.is_file())
            err = self.mlogc_dir / "mlogc-error.log"
            if err.exists():
                out["mlogc_error_log_tail"] = err.read_text(errors="replace")[-600:]
        return out


def _mlogc_conf(d: Path, port: int) -> str:
    # Debian's /usr/share/doc/libapache2-mod-security2/mlogc-default.conf with the paths,
    # the console URI and a shorter StartupDelay; everything else as shipped.
    return f"""CollectorRoot       "{d}"
ConsoleURI          "http://127.0.0.1:{port}/rpc/auditLogReceiver"
SensorUsername      "bench"
SensorPassword      "bench"
LogStorageDir       "data"
TransactionLog      "mlogc-transaction.log"
QueuePath           "mlogc-queue.log"
ErrorLog            "mlogc-error.log"
LockFile            "mlogc.lck"
KeepEntries         0
ErrorLogLevel       2
MaxConnections      10
MaxWorkerRequests   1000
TransactionDelay    50
StartupDelay        1000
CheckpointInterval  15
ServerErrorTimeout  60
InsecureNoCheckCert 1
"""


def make_setup(name: str, bins: Binaries, mpm: str = "event",
               observe_extra: str = "") -> Setup:
    """Create (not start) configuration `name`."""
    vhosts = [VirtualHost(VHOST, "On")]
    common = dict(crs=CRS, paranoia=1, mpm=mpm, vhosts=vhosts)
    if name == "ceiling":
        return Setup(name, ApacheSandbox(modsecurity=False, **common))
    if name == "a":
        return Setup(name, ApacheSandbox(**common))
    if name == "b0":
        if bins.baseline is None:
            raise ValueError("configuration b0 needs --baseline TREE")
        setup = make_setup("b", bins.baseline, mpm, observe_extra)
        setup.name = "b0"
        return setup
    if name == "b1":
        setup = make_setup("b", bins, mpm, observe_extra + "ModSecObserveProtocol 1\n")
        setup.name = "b1"
        return setup
    if name == "b":
        collector = Collector(bins.daemon, bins.cli)
        # As tests/integration/sandbox.py's start_stack, but with the module's default
        # flush interval (1 s) instead of the tests' 200 ms.
        observe = (f"ModSecObserveSocket {collector.event_socket}\n"
                   f"ModSecObserveEvents flagged\n{observe_extra}")
        return Setup(name, ApacheSandbox(module=bins.module, observe_conf=observe,
                                         snippet=bins.snippet, **common),
                     collector=collector)
    if name == "c":
        return Setup(name, ApacheSandbox(audit_log=True, **common))
    if name == "d":
        return Setup(name, ApacheSandbox(audit_json=True, **common))
    if name == "e":
        receiver = Receiver(0, "bench", "bench")
        apache = ApacheSandbox(**common)
        mdir = apache.dir / "mlogc"
        (mdir / "data").mkdir(parents=True)
        ids = _www_data_ids() if os.geteuid() == 0 else None
        if ids:   # Apache's children write the entries; mlogc (started as root) reads them
            os.chown(mdir / "data", *ids)
        (apache.dir / "mlogc.conf").write_text(_mlogc_conf(mdir, receiver.server_port))
        apache.modsec_conf = (
            "SecAuditEngine RelevantOnly\n"
            'SecAuditLogRelevantStatus "^(?:5|4(?!04))"\n'
            "SecAuditLogParts ABDEFHIJZ\n"
            "SecAuditLogType Concurrent\n"
            f"SecAuditLogStorageDir {mdir / 'data'}\n"
            f'SecAuditLog "|{MLOGC} {apache.dir / "mlogc.conf"}"\n')
        return Setup(name, apache, receiver=receiver, mlogc_dir=mdir)
    raise ValueError(f"unknown configuration {name!r}")


def start_setup(s: Setup) -> Setup:
    try:
        if s.receiver:
            s.receiver_thread = threading.Thread(target=s.receiver.serve_forever, daemon=True)
            s.receiver_thread.start()
        if s.collector:
            s.collector.start()
        s.apache.start(timeout=60)
    except BaseException:
        s.stop()
        raise
    return s


# ------------------------------------------------------------------------- wrk

@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx_3xx: int
    socket_errors: int
    # CPU seconds during the measurement: the whole machine (Apache, wrk, the collector,
    # the kernel) from /proc/stat, and the collector's process alone (0 without one).
    machine_cpu_s: float = 0.0
    collector_cpu_s: float = 0.0

    def as_dict(self) -> dict:
        return dict(vars(self))


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: user, nice, system, irq,
    softirq; not idle, iowait or time the hypervisor stole)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (f[0] + f[1] + f[2] + f[5] + f[6]) / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int | None) -> float:
    """utime + stime of a process in seconds, 0 when there is none."""
    if not pid:
        return 0.0
    try:
        return proc_cpu_s(pid)
    except OSError:
        return 0.0


def run_wrk(port: int, mix: str, seconds: float, connections: int, threads: int,
            collector_pid: int | None = None) -> WrkResult:
    machine0, collector0 = machine_busy_s(), process_cpu_s(collector_pid)
    cmd = [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
           "-s", str(LUA), f"http://127.0.0.1:{port}/", "--", mix, VHOST]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60,
                         check=False)
    m = re.search(r"^WRK_JSON (\{.*\})$", res.stdout, re.M)
    if res.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({res.returncode}): {' '.join(cmd)}\n"
                           f"{res.stdout}{res.stderr}")
    d = json.loads(m.group(1))
    secs = d["duration_us"] / 1e6
    e = d["errors"]
    return WrkResult(requests=d["requests"], seconds=round(secs, 3),
                     rps=round(d["requests"] / secs, 1),
                     p50_ms=d["latency_us"]["p50"] / 1000, p90_ms=d["latency_us"]["p90"] / 1000,
                     p99_ms=d["latency_us"]["p99"] / 1000, non_2xx_3xx=e["status"],
                     socket_errors=e["connect"] + e["read"] + e["write"] + e["timeout"],
                     machine_cpu_s=round(machine_busy_s() - machine0, 2),
                     collector_cpu_s=round(process_cpu_s(collector_pid) - collector0, 3))


def machine_info() -> dict:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break

    def pkg(name: str) -> str:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True,
                           text=True, check=False)
        return r.stdout.strip() or "?"

    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "apache2": pkg("apache2"), "libapache2-mod-security2": pkg("libapache2-mod-security2"),
            "modsecurity-crs": pkg("modsecurity-crs"), "wrk": pkg("wrk"),
            "valgrind": pkg("valgrind"),
            "crs_used": pkg("modsecurity-crs") if CRS == "3" else crs4_dir().name,
            "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3]}


def summarize(rounds: list[dict], configs: list[str], mixes: list[str]) -> dict:
    """Per mix and configuration: median/min/max of the per-round ratio to (a)."""
    summary: dict = {}
    for mix in mixes:
        summary[mix] = {}
        for c in configs:
            samples = [r[mix][c] for r in rounds if c in r.get(mix, {})]
            ratios = [r[mix][c]["rps"] / r[mix]["a"]["rps"] for r in rounds
                      if c in r.get(mix, {}) and "a" in r[mix] and r[mix]["a"]["rps"] > 0]
            if not samples:
                continue
            total = sum(s["requests"] for s in samples)
            summary[mix][c] = {
                "rps_median": statistics.median(s["rps"] for s in samples),
                "ratio_median": statistics.median(ratios) if ratios else None,
                "ratio_min": min(ratios) if ratios else None,
                "ratio_max": max(ratios) if ratios else None,
                "p50_ms_median": statistics.median(s["p50_ms"] for s in samples),
                "p99_ms_median": statistics.median(s["p99_ms"] for s in samples),
                "non_2xx_3xx_share": (sum(s["non_2xx_3xx"] for s in samples) / total
                                      if total else 0.0),
                "socket_errors": sum(s["socket_errors"] for s in samples),
                # CPU per request (ms): the whole machine, and the collector's share.
                "machine_cpu_ms_per_request": (
                    1000 * sum(s.get("machine_cpu_s", 0) for s in samples) / total
                    if total else 0.0),
                "collector_cpu_ms_per_request": (
                    1000 * sum(s.get("collector_cpu_s", 0) for s in samples) / total
                    if total else 0.0),
                "rounds": len(samples),
            }
    return summary


def targets(summary: dict) -> list[dict]:
    out = []

    def ratio(mix: str, c: str) -> float | None:
        return summary.get(mix, {}).get(c, {}).get("ratio_median")

    for mix, goal in (("benign", 0.99), ("attack", 0.98), ("flagged", 0.98)):
        r = ratio(mix, "b")
        if r is not None:
            out.append({"target": f"(b)/(a) >= {goal} ({mix})", "value": round(r, 4),
                        "met": r >= goal})
    for mix in MIXES:
        rb = ratio(mix, "b")
        for c in ("c", "d", "e"):
            rc = ratio(mix, c)
            if rb is not None and rc is not None:
                out.append({"target": f"(b) cheaper than ({c}) ({mix})",
                            "value": f"{rb:.4f} vs {rc:.4f}", "met": rb > rc})
    return out


def markdown(result: dict) -> str:
    lines = []
    p = result["parameters"]
    lines.append(f"wrk -t{p['threads']} -c{p['connections']} -d{p['duration']:g}s --latency, "
                 f"warm-up {p['warmup']:g} s, {p['rounds']} rounds"
                 f"{' (interleaved: all configurations running at once)' if p.get('interleave') else ''}"
                 f", mpm_{p['mpm']}, CRS {crs_label(result)} PL1, SecRuleEngine On, "
                 f"net.unix.max_dgram_qlen {p.get('max_dgram_qlen', 'as the machine has it')}")
    for mix, rows in result["summary"].items():
        lines.append("")
        lines.append(f"**{mix}** traffic")
        lines.append("")
        lines.append("| config | | req/s (median) | ratio to (a), median | min–max | "
                     "p50 ms | p99 ms | non-2xx | CPU ms/req, machine | of it collector |")
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for c, s in rows.items():
            rng = (f"{s['ratio_min']:.3f}–{s['ratio_max']:.3f}"
                   if s["ratio_min"] is not None else "")
            med = f"{s['ratio_median']:.3f}" if s["ratio_median"] is not None else ""
            lines.append(f"| ({c}) | {CONFIGS[c]} | {s['rps_median']:.0f} | {med} | {rng} | "
                         f"{s['p50_ms_median']:.2f} | {s['p99_ms_median']:.2f} | "
                         f"{100 * s['non_2xx_3xx_share']:.1f}% | "
                         f"{s.get('machine_cpu_ms_per_request', 0):.3f} | "
                         f"{s.get('collector_cpu_ms_per_request', 0):.4f} |")
    lines.append("")
    for t in result["targets"]:
        lines.append(f"- {t['target']}: {t['value']} — {'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


def measure(s: Setup, mix: str, args) -> WrkResult:
    """A warm-up, then one measured wrk run against a running configuration."""
    run_wrk(s.apache.port, mix, args.warmup, args.connections, args.threads)
    return run_wrk(s.apache.port, mix, args.duration, args.connections, args.threads,
                   s.collector.proc.pid if s.collector and s.collector.proc else None)


def log_measurement(rnd: int, rounds: int, name: str, mix: str, w: WrkResult) -> None:
    log(f"round {rnd + 1}/{rounds} {name:>7} {mix:>6}: {w.rps:9.1f} req/s"
        f"  p50 {w.p50_ms:.2f} ms  p99 {w.p99_ms:.2f} ms  "
        f"non-2xx {w.non_2xx_3xx}  socket errors {w.socket_errors}")


def observe(s: Setup, into: dict) -> None:
    time.sleep(1.2)   # one collector flush interval, for its counts
    into[s.name] = s.observations()
    bad = s.apache.unexpected_log_lines()
    if bad:
        into[s.name]["unexpected_error_log"] = bad[:5]
        log(f"unexpected error-log lines in {s.name}: {bad[:3]}")


def interleaved_rounds(args, bins: Binaries, configs: list[str], result: dict) -> None:
    """--interleave: every configuration runs at once (each its own Apache, port and
    collector); each round measures them one after the other for each mix, in an order
    that turns each round. A round takes seconds instead of Apache restarts, so many
    short rounds follow the machine's drift closely: a ratio compares (b) with the (a)
    measured just before or after it, and nothing is restarted between rounds."""
    setups: list[Setup] = []
    try:
        for name in configs:
            setups.append(start_setup(make_setup(name, bins, args.mpm)))
            if name == "e":
                time.sleep(1.5)   # mlogc's StartupDelay
        for rnd in range(args.rounds):
            rdata: dict = {mix: {} for mix in args.mixes}
            turn = rnd % len(setups)
            order = setups[turn:] + setups[:turn]
            for mix in args.mixes:
                for s in order:
                    w = measure(s, mix, args)
                    rdata[mix][s.name] = w.as_dict()
                    log_measurement(rnd, args.rounds, s.name, mix, w)
            result["rounds"].append(rdata)
        observations: dict = {}
        for s in setups:
            observe(s, observations)
        result["observations"] = observations
    finally:
        for s in setups:
            s.stop()
            s.cleanup()


def cmd_wrk(args, bins: Binaries) -> dict:
    configs = args.configs
    if "a" not in configs:
        configs = ["a"] + configs
    result: dict = {"kind": "wrk", "machine": machine_info(),
                    "parameters": {"duration": args.duration, "warmup": args.warmup,
                                   "rounds": args.rounds, "connections": args.connections,
                                   "threads": args.threads, "mpm": args.mpm,
                                   "interleave": args.interleave,
                                   "configs": configs, "mixes": args.mixes},
                    "rounds": []}
    started = time.monotonic()
    with packaged_qlen() as machine_qlen:
        result["parameters"]["max_dgram_qlen"] = PACKAGED_QLEN
        result["parameters"]["max_dgram_qlen_restored_to"] = machine_qlen
        if args.interleave:
            interleaved_rounds(args, bins, configs, result)
        else:
            restarted_rounds(args, bins, configs, result)
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    result["machine"]["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    result["summary"] = summarize(result["rounds"], configs, args.mixes)
    result["targets"] = targets(result["summary"])
    return result


def restarted_rounds(args, bins: Binaries, configs: list[str], result: dict) -> None:
    """Each round starts each configuration, measures it on every mix, and stops it."""
    for rnd in range(args.rounds):
        # Rotate the order each round so no configuration always runs first or last.
        order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
        rdata: dict = {mix: {} for mix in args.mixes}
        rdata["observations"] = {}
        for name in order:
            s = make_setup(name, bins, args.mpm)
            try:
                start_setup(s)
                if name == "e":
                    time.sleep(1.5)   # mlogc's StartupDelay
                for mix in args.mixes:
                    w = measure(s, mix, args)
                    rdata[mix][name] = w.as_dict()
                    log_measurement(rnd, args.rounds, name, mix, w)
                observe(s, rdata["observations"])
            finally:
                s.stop()
                s.cleanup()
        result["rounds"].append(rdata)


# ------------------------------------------------------------------- callgrind

def parse_callgrind(path: Path, module_obj: str, modsec_obj: str) -> dict:
    """From a callgrind output file: total Ir, and inclusive Ir of calls entering
    `module_obj` / `modsec_obj` from another object, per callee function name."""
    names: dict[str, dict[str, str]] = {"ob": {}, "fn": {}}
    total = 0
    ob = fn = ""
    cob = cfn = None
    pending_call = False
    entries: dict[str, dict[str, int]] = {"module": {}, "modsec": {}}
    callers_excluded = 0

    def name(kind: str, value: str) -> str:
        m = re.match(r"\((\d+)\)(?: (.*))?$", value)
        if not m:
            return value
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), value)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("summary:") or line.startswith("totals:"):
                total = max(total, int(line.split()[1]))
                continue
            key, sep, value = line.partition("=")
            if sep and key in ("ob", "cob", "fn", "cfn", "fl", "fi", "fe", "cfi", "cfl"):
                if key == "ob":
                    ob = name("ob", value)
                elif key == "fn":
                    fn = name("fn", value)
                    cob = cfn = None
                elif key == "cob":
                    cob = name("ob", value)
                elif key == "cfn":
                    cfn = name("fn", value)
                continue
            if sep and key == "calls":
                pending_call = True
                continue
            if pending_call:
                pending_call = False
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                callee_ob = cob if cob is not None else ob
                for tag, obj in (("module", module_obj), ("modsec", modsec_obj)):
                    if obj in callee_ob and obj not in ob:
                        if tag == "modsec" and fn == "ap_run_error_log":
                            # ModSecurity's error_log hook runs inside whoever logs,
                            # mostly ModSecurity itself: counted there already.
                            callers_excluded += cost
                            continue
                        entries[tag][cfn or "?"] = entries[tag].get(cfn or "?", 0) + cost
                cob = cfn = None
    return {"total": total, "module_entries": entries["module"],
            "modsec_entries": entries["modsec"], "modsec_from_error_log": callers_excluded}


def new_dumps(out_dir: Path, seen: set[Path], timeout: float = 300) -> list[Path]:
    """Dumps written since `seen`: callgrind writes one when a connection ends
    (--dump-after=ap_process_connection); wait for at least one, then until no more come."""
    deadline = time.monotonic() + timeout
    found: list[Path] = []
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        now = sorted(set(out_dir.glob("callgrind.out.*")) - seen,
                     key=lambda p: int(p.suffix[1:]))
        if len(now) != len(found):
            found, quiet_since = now, time.monotonic()
        elif found and time.monotonic() - quiet_since > 2.0:
            seen.update(found)
            return found
        time.sleep(0.2)
    raise RuntimeError(f"no callgrind dump appeared in {out_dir}")


def merge_parsed(parts: list[dict]) -> dict:
    out: dict = {"total": 0, "module_entries": {}, "modsec_entries": {},
                 "modsec_from_error_log": 0}
    for p in parts:
        out["total"] += p["total"]
        out["modsec_from_error_log"] += p["modsec_from_error_log"]
        for k in ("module_entries", "modsec_entries"):
            for f, v in p[k].items():
                out[k][f] = out[k].get(f, 0) + v
    return out


def send_requests(port: int, path: str, n: int) -> list[int]:
    """n GETs on one keep-alive connection (reopened if the server closes it)."""
    statuses = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    hdrs = dict(BROWSER_HEADERS, Host=VHOST)
    for _ in range(n):
        try:
            conn.request("GET", path, headers=hdrs)
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        except (http.client.HTTPException, OSError):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("GET", path, headers=hdrs)
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
    conn.close()
    return statuses


def callgrind_one(name: str, bins: Binaries, n: int) -> dict:
    s = make_setup(name, bins, mpm="prefork")
    out_dir = s.apache.dir / "callgrind"
    out_dir.mkdir()
    ids = _www_data_ids() if os.geteuid() == 0 else None
    if ids:   # the child drops to www-data before callgrind writes its dumps
        os.chown(out_dir, *ids)
    proc = None
    try:
        if s.receiver:
            s.receiver_thread = threading.Thread(target=s.receiver.serve_forever, daemon=True)
            s.receiver_thread.start()
        if s.collector:
            s.collector.start()
        s.apache.port = free_port()
        s.apache.write_config()
        # Count only inside connections (not start-up), one dump per connection.
        cmd = ["valgrind", "--tool=callgrind", "--dump-instr=no", "--collect-atstart=no",
               "--toggle-collect=ap_process_connection",
               "--dump-after=ap_process_connection",
               f"--callgrind-out-file={out_dir}/callgrind.out",
               str(APACHE_BIN), "-X", "-f", str(s.apache.conf_path)]
        with open(s.apache.stderr_log, "ab") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                    start_new_session=True)
        deadline = time.monotonic() + 600
        while not s.apache._accepts():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"apache under callgrind did not start:\n"
                                   f"{s.apache._tail_logs()}")
            time.sleep(0.5)
        log(f"callgrind {name}: Apache up under valgrind (pid {proc.pid}); warming up")
        seen: set[Path] = set()
        send_requests(s.apache.port, CLEAN_PATH, 5)     # first-request costs, not counted
        send_requests(s.apache.port, ATTACK_PATH, 5)
        new_dumps(out_dir, seen)
        time.sleep(1.5)   # let the collector take in the warm-up events
        findings_before = _collector_findings(s)
        clean = send_requests(s.apache.port, CLEAN_PATH, n)
        clean_dumps = new_dumps(out_dir, seen)
        attack = send_requests(s.apache.port, ATTACK_PATH, n)
        attack_dumps = new_dumps(out_dir, seen)
        time.sleep(1.5)
        findings_after = _collector_findings(s)
        result = {"statuses": {"clean": _count(clean), "attack": _count(attack)}}
        for label, dumps in (("clean", clean_dumps), ("attack", attack_dumps)):
            parsed = merge_parsed([parse_callgrind(d, "mod_modsec_observe.so",
                                                   "mod_security2.so") for d in dumps])
            result[label] = {
                "ir_per_request": parsed["total"] / n,
                "module_per_request": {k: v / n for k, v in parsed["module_entries"].items()},
                "modsec_per_request": sum(parsed["modsec_entries"].values()) / n,
                "modsec_error_log_per_request": parsed["modsec_from_error_log"] / n,
            }
        if findings_before is not None and findings_after is not None:
            result["collector"] = {k: findings_after[k] - findings_before[k]
                                   for k in findings_after}
        bad = s.apache.unexpected_log_lines()
        if bad:
            result["unexpected_error_log"] = bad[:5]
        return result
    finally:
        if proc is not None:
            _stop_process(proc, 120)
        if s.collector:
            s.collector.stop()
        if s.receiver:
            s.receiver.shutdown()
            s.receiver.server_close()
        s.cleanup()


def _count(statuses: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for st in statuses:
        out[str(st)] = out.get(str(st), 0) + 1
    return out


def _collector_findings(s: Setup) -> dict | None:
    if not s.collector:
        return None
    c = s.observations().get("collector", {})
    if "error" in c:
        return None
    return {k: c.get(k) or 0 for k in ("requests", "flagged", "events", "findings")}


def cmd_callgrind(args, bins: Binaries) -> dict:
    result: dict = {"kind": "callgrind", "machine": machine_info(),
                    "parameters": {"requests": args.requests, "clean_path": CLEAN_PATH,
                                   "attack_path": ATTACK_PATH, "mpm": "prefork -X"},
                    "configs": {}}
    names = ["ceiling", "a", "b"] + [c for c in args.configs if c not in ("ceiling", "a", "b")]
    for name in names:
        result["configs"][name] = callgrind_one(name, bins, args.requests)
        log(f"callgrind {name}: " + json.dumps({k: v for k, v in
                                                 result["configs"][name].items()}))
    cg = result["configs"]
    rows = {}
    for kind in ("clean", "attack"):
        module = sum(cg["b"][kind]["module_per_request"].values())
        modsec_entries = cg["a"][kind]["modsec_per_request"]
        modsec_total_delta = cg["a"][kind]["ir_per_request"] - cg["ceiling"][kind]["ir_per_request"]
        rows[kind] = {
            "module_hooks": module,
            "module_hooks_by_function": cg["b"][kind]["module_per_request"],
            "modsec_entries": modsec_entries,
            "modsec_total_delta": modsec_total_delta,
            "observer_total_delta": cg["b"][kind]["ir_per_request"] - cg["a"][kind]["ir_per_request"],
            "module_share_of_modsec_entries": module / modsec_entries if modsec_entries else None,
            "module_share_of_modsec_total_delta": (module / modsec_total_delta
                                                   if modsec_total_delta else None),
        }
    result["summary"] = rows
    coll = cg["b"].get("collector")
    if coll and args.requests:
        result["attack_findings_per_request"] = (coll["findings"] / args.requests
                                                 if coll.get("findings") is not None else None)
    return result


def crs_label(result: dict) -> str:
    m = result["machine"]
    return m.get("crs_used", m["modsecurity-crs"])  # results from before --crs


def callgrind_markdown(result: dict) -> str:
    n = result["parameters"]["requests"]
    lines = [f"callgrind, Apache -X (mpm_prefork), CRS {crs_label(result)} "
             f"PL1, SecRuleEngine On, {n} requests of each kind; instructions per request"]
    fpr = result.get("attack_findings_per_request")
    if fpr is not None:
        lines.append(f"attack request: {ATTACK_PATH} ({fpr:.1f} findings per request, "
                     f"from the collector)")
    lines += ["", "| | clean | attack |", "| --- | ---: | ---: |"]
    s = result["summary"]
    cg = result["configs"]

    def row(label: str, f) -> None:
        lines.append(f"| {label} | {f('clean')} | {f('attack')} |")

    row("whole Apache process, ceiling (no ModSecurity)",
        lambda k: f"{cg['ceiling'][k]['ir_per_request']:,.0f}")
    row("whole Apache process, (a) ModSecurity + CRS",
        lambda k: f"{cg['a'][k]['ir_per_request']:,.0f}")
    row("whole Apache process, (b) + observer",
        lambda k: f"{cg['b'][k]['ir_per_request']:,.0f}")
    row("ModSecurity + CRS: (a) − ceiling", lambda k: f"{s[k]['modsec_total_delta']:,.0f}")
    row("ModSecurity + CRS: calls into mod_security2.so", lambda k: f"{s[k]['modsec_entries']:,.0f}")
    fnames = sorted({f for k in ("clean", "attack") for f in s[k]["module_hooks_by_function"]})
    for fname in fnames:
        row(f"module: `{fname}`",
            lambda k, fname=fname: f"{s[k]['module_hooks_by_function'].get(fname, 0):,.0f}")
    row("module hooks, total", lambda k: f"{s[k]['module_hooks']:,.0f}")
    row("module hooks / ModSecurity (calls into mod_security2.so)",
        lambda k: f"{100 * s[k]['module_share_of_modsec_entries']:.3f}%")
    row("module hooks / ModSecurity ((a) − ceiling)",
        lambda k: f"{100 * s[k]['module_share_of_modsec_total_delta']:.3f}%")
    row("whole observer: (b) − (a) (hooks, snippet rule)",
        lambda k: f"{s[k]['observer_total_delta']:,.0f}")
    for c in cg:
        if c not in ("ceiling", "a", "b"):
            row(f"({c}) − (a): {CONFIGS[c]} (user space of Apache only)",
                lambda k, c=c: f"{cg[c][k]['ir_per_request'] - cg['a'][k]['ir_per_request']:,.0f}")
            if any(cg[c][k]["module_per_request"] for k in ("clean", "attack")):
                row(f"({c}) module hooks, total",
                    lambda k, c=c: f"{sum(cg[c][k]['module_per_request'].values()):,.0f}")
    return "\n".join(lines)


# ------------------------------------------------------------------------ main

def main() -> None:
    ap = argparse.ArgumentParser(description="Apache-side benchmarks of modsec-observe "
                                             "(see bench/README.md)")
    ap.add_argument("mode", nargs="?", default="wrk", choices=("wrk", "callgrind", "all"))
    ap.add_argument("--duration", type=float, default=10, help="seconds per wrk measurement")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of wrk before each")
    ap.add_argument("--rounds", type=int, default=3, help="round-robin alternations")
    ap.add_argument("--interleave", action="store_true",
                    help="wrk: start every configuration at once and alternate between "
                         "them each round (no restarts; many short rounds follow drift)")
    ap.add_argument("--mpm", choices=("event", "prefork"), default="event",
                    help="wrk: Apache's MPM")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--configs", nargs="+", default=None, choices=list(CONFIGS),
                    help="wrk: default all; callgrind: ceiling, a, b always, plus these")
    ap.add_argument("--mixes", nargs="+", default=list(MIXES), choices=list(MIXES))
    ap.add_argument("--requests", type=int, default=200,
                    help="callgrind: requests of each kind")
    ap.add_argument("--crs", choices=("3", "4"), default="3",
                    help="3: Debian's modsecurity-crs (3.3.4); 4: CRS 4.28 (../shared/crs-4.28.0)")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="configuration b0: a checkout (e.g. a git worktree of the commit "
                         "before) built in TREE/build; its module, collector and snippet")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2 s measurements, 1 s warm-up, 1 round, 20 requests")
    ap.add_argument("--json", type=Path, default=None,
                    help="write results here (default bench/results/apache-<mode>-<time>.json)")
    args = ap.parse_args()
    global CRS
    CRS = args.crs
    if CRS == "4" and crs4_dir() is None:
        sys.exit("error: --crs 4 needs CRS 4.28 at ../shared/crs-4.28.0 or MSO_CRS4_DIR")
    if args.configs is None:
        args.configs = list(CONFIGS) if args.mode != "callgrind" else ["ceiling", "a", "b"]
    if args.quick:
        args.duration, args.warmup, args.rounds, args.requests = 2, 1, 1, 20
    if os.geteuid() != 0:
        sys.exit("error: run as root (Apache's children switch to www-data, as in production)")
    for tool in (WRK, MLOGC, str(APACHE_BIN)):
        if not Path(tool).exists():
            sys.exit(f"error: {tool} not found (bench/apache_bench.sh installs it)")
    bins = Binaries.find(required=args.mode != "wrk" or "b" in args.configs)
    if "b0" in args.configs:
        if args.baseline is None:
            sys.exit("error: configuration b0 needs --baseline TREE")
        bins.baseline = Binaries.find(build=args.baseline / "build", tree=args.baseline)
    modes = ["wrk", "callgrind"] if args.mode == "all" else [args.mode]
    for mode in modes:
        if mode == "wrk":
            result = cmd_wrk(args, bins)
            text = markdown(result)
        else:
            result = cmd_callgrind(args, bins)
            text = callgrind_markdown(result)
        result["markdown"] = text
        path = args.json if args.json and len(modes) == 1 else (
            HERE / "results" / f"apache-{mode}-{time.strftime('%Y%m%d-%H%M%S')}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(text)
        print(f"\n(JSON: {path})", flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
