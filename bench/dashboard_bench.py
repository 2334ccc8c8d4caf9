#!/usr/bin/python3
"""The module's datagram ingest alone and while 10 dashboards refresh every 2 seconds.

Starts the built `modsec-observed` with history (`--state-dir`) and `--http-listen` on
loopback, seeds `--vhosts` vhosts (default 100) with flagged requests, then runs rounds
that alternate, side by side in one run: N module datagrams (a CRS 3 event of the fuzz
corpus, its vhost, unique id and time made distinct and current) sent as fast as the
event socket takes them (a blocking socket: the sender waits while the collector's queue
is full), alone and while `--dashboards` processes (default 10) each refresh every
`--every` seconds (default 2). Each round times until `health` counts all N.

One refresh asks the API what the browser asks when it loads the Overview and a Vhost
view (collector/web/views.js): `vhosts`, `sources`, one last-hour `timeseries` listing
the first page's 50 vhosts (`vhosts`, as the page asks for its sparklines), then for one
vhost the 24-hour `timeseries`, the windowed `stats`, the all-time `stats` with the paranoia-level
histograms and the four windowed `top` lists (from history; with `max_age` 10, as the
page sends it, unless `--lists-max-age 0`). A refresh that takes longer
than the interval starts the next at once. No browser runs: what is measured is the
collector's side (the API, the loop, the history worker), not the page.

    bench/dashboard_bench.py [--build build] [--datagrams 100000] [--rounds 3]

Prints each round as a JSON line, then the medians and the ratio dashboards/alone (target
>= 0.95, docs/BENCHMARKS.md). On a 2-core machine the dashboard clients (Python) compete
with the collector for the CPU, so the ratio is a floor; `--client-nice 19` runs them at
the lowest priority, closer to browsers on other machines (the JSON line's
`refresh_mean_s` then shows whether they still kept their pace). `--pin` puts the
sender and the collector's ingest loop on CPU 0 and everything else (the collector's
HTTP workers, history writer and query worker, the dashboard clients, this script) on
CPU 1, in both modes: what a server with cores to spare for its dashboards would see,
so the ratio shows what the dashboards cost the ingest loop itself (locks, waiting,
shared caches) rather than CPU taken by their clients.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench_util import (free_port, health, proc_cpu_s, stop_collector, thread_cpu_s,
                        wait_listening)

REPO = Path(__file__).resolve().parent.parent
EVENT = (REPO / "tests/fuzz/corpus/event_decoder/crs3-request-1-event.json").read_bytes().strip()
OVERVIEW_PAGE = 50


INGEST_CPU, OTHER_CPU = 0, 1  # --pin


def pin_collector(pid: int) -> None:
    """The ingest loop (the main thread) on INGEST_CPU, every other thread of the
    collector on OTHER_CPU (a thread's affinity is its own; new threads inherit their
    creator's, so this runs again before each round)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        tid = int(task.name)
        try:
            os.sched_setaffinity(tid, {INGEST_CPU} if tid == pid else {OTHER_CPU})
        except ProcessLookupError:
            pass  # the thread ended


def send_datagrams(path: str, first: int, count: int, vhosts: int,
                   cpu: int | None = None) -> None:
    """`count` datagrams, each the template with its own vhost and unique id, stamped
    with the time the sender started (cheap per datagram: the sender must not be what
    limits the rate)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    stamped = EVENT.replace(b'"time_us":1763739600123456', b'"time_us":%d' % int(time.time() * 1e6))
    head, rest = stamped.split(b'"vhost":"block.test"', 1)
    mid, tail = rest.split(b'"unique_id":"aR9xAAAB"', 1)
    names = [b'"vhost":"site%04d.test"' % v for v in range(vhosts)]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    for i in range(first, first + count):
        s.sendto(b"".join((head, names[i % vhosts], mid, b'"unique_id":"d%09d"' % i, tail)), path)
    s.close()


def get(port: int, cmd: str, **params) -> dict:
    # A list repeats its key (`vhosts`).
    url = f"http://127.0.0.1:{port}/api/{cmd}?" + urllib.parse.urlencode(params, doseq=True)
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def refresh(port: int, max_age: int) -> int:
    """One Overview + one Vhost view, as the page asks; the number of requests."""
    vhosts = sorted(get(port, "vhosts")["vhosts"], key=lambda v: -v["flagged"])[:OVERVIEW_PAGE]
    get(port, "sources")
    if vhosts:  # the sparklines: one request for the page's rows
        get(port, "timeseries", vhosts=[v["vhost"] for v in vhosts], window=3600,
            resolution="minute")
    name = vhosts[0]["vhost"] if vhosts else ""
    get(port, "timeseries", vhost=name, window=86400, resolution="minute")
    get(port, "stats", vhost=name, window=86400, rules_limit=20)
    get(port, "stats", vhost=name, rules_limit=1, score_levels="true")
    kept = {"max_age": max_age} if max_age else {}
    for top in ("clients", "paths", "agents", "targets"):
        get(port, "top", list=top, vhost=name, window=86400, limit=10, **kept)
    return 2 + (1 if vhosts else 0) + 3 + 4


def dashboard(port: int, every: float, niceness: int, max_age: int, stop: mp.Event,
              out: mp.Queue) -> None:
    os.nice(niceness)  # with --pin, inherits this script's CPU
    done = requests = errors = 0
    seconds = 0.0
    while not stop.is_set():
        start = time.monotonic()
        try:
            requests += refresh(port, max_age)
            done += 1
        except OSError:
            errors += 1
        took = time.monotonic() - start
        seconds += took
        stop.wait(max(0.0, every - took))
    out.put((done, requests, errors, seconds))


def wait_datagrams(cli: Path, sock: Path, count: int) -> None:
    while health(cli, sock)["datagrams"] < count:
        time.sleep(0.05)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--datagrams", type=int, default=100_000, help="per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dashboards", type=int, default=10)
    ap.add_argument("--every", type=float, default=2.0, help="seconds between refreshes")
    ap.add_argument("--vhosts", type=int, default=100)
    ap.add_argument("--lists-max-age", type=int, default=10,
                    help="the top lists' max_age, as the dashboard sends it (0: none)")
    ap.add_argument("--client-nice", type=int, default=0,
                    help="run the dashboard clients at this niceness (19: they take what the "
                         "collector leaves, as browsers on other machines would)")
    ap.add_argument("--pin", action="store_true",
                    help="the sender and the ingest loop on CPU 0, the rest on CPU 1")
    args = ap.parse_args()
    if args.pin and not {INGEST_CPU, OTHER_CPU} <= os.sched_getaffinity(0):
        ap.error(f"--pin needs CPUs {INGEST_CPU} and {OTHER_CPU}")
    daemon = Path(args.build) / "collector" / "modsec-observed"
    cli = Path(args.build) / "collector" / "modsec-observe"
    tmp = Path(tempfile.mkdtemp(prefix="msodb"))
    port = free_port()
    proc = subprocess.Popen([str(daemon), "--event-socket", str(tmp / "ev.sock"),
                             "--query-socket", str(tmp / "q.sock"), "--state-dir",
                             str(tmp / "state"), "--http-listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "log", "wb"))
    try:
        wait_listening(port)
        if args.pin:
            os.sched_setaffinity(0, {OTHER_CPU})  # this script and the clients it starts
            pin_collector(proc.pid)
        # Seed: every vhost with events, in memory and in history.
        first = 0
        send_datagrams(str(tmp / "ev.sock"), first, args.vhosts * 20, args.vhosts)
        first += args.vhosts * 20
        wait_datagrams(cli, tmp / "q.sock", first)
        rates: dict[str, list[float]] = {"alone": [], "dashboards": []}
        loop_us: dict[str, list[float]] = {"alone": [], "dashboards": []}
        refreshes = requests = errors = 0
        refresh_s = 0.0
        for r in range(args.rounds):
            for mode in ("alone", "dashboards"):
                stop = mp.Event()
                out: mp.Queue = mp.Queue()
                boards = []
                if mode == "dashboards":
                    boards = [mp.Process(target=dashboard,
                                         args=(port, args.every, args.client_nice,
                                               args.lists_max_age, stop, out))
                              for _ in range(args.dashboards)]
                    for p in boards:
                        p.start()
                    time.sleep(1.0)  # the refreshes under way
                if args.pin:
                    pin_collector(proc.pid)
                base = health(cli, tmp / "q.sock")["datagrams"]
                loop0 = thread_cpu_s(proc.pid, proc.pid)  # the ingest loop is the main thread
                all0 = proc_cpu_s(proc.pid)
                start = time.monotonic()
                sender = mp.Process(target=send_datagrams,
                                    args=(str(tmp / "ev.sock"), first, args.datagrams, args.vhosts,
                                          INGEST_CPU if args.pin else None))
                sender.start()
                first += args.datagrams
                wait_datagrams(cli, tmp / "q.sock", base + args.datagrams)
                elapsed = time.monotonic() - start
                loop_cpu = thread_cpu_s(proc.pid, proc.pid) - loop0
                # The HTTP workers, the history writer and its query worker.
                others_cpu = proc_cpu_s(proc.pid) - all0 - loop_cpu
                sender.join()
                stop.set()
                for _ in boards:
                    d, q, e, s = out.get()
                    refreshes += d
                    requests += q
                    errors += e
                    refresh_s += s
                for p in boards:
                    p.join()
                rates[mode].append(args.datagrams / elapsed)
                loop_us[mode].append(loop_cpu * 1e6 / args.datagrams)
                print(json.dumps({"round": r + 1, "mode": mode, "datagrams": args.datagrams,
                                  "seconds": round(elapsed, 2),
                                  "datagrams_per_s": round(args.datagrams / elapsed),
                                  "loop_cpu_us_per_datagram": round(loop_us[mode][-1], 2),
                                  "other_threads_cpu_s": round(others_cpu, 2),
                                  "load_average_1m": os.getloadavg()[0]}),
                      flush=True)
        ratios = sorted(b / a for a, b in zip(rates["alone"], rates["dashboards"]))
        h = health(cli, tmp / "q.sock")
        print(json.dumps({
            "rounds": args.rounds, "dashboards": args.dashboards, "every_s": args.every,
            "lists_max_age": args.lists_max_age,
            "client_nice": args.client_nice,
            "pinned": args.pin,
            "vhosts": args.vhosts,
            "median_alone": round(statistics.median(rates["alone"])),
            "median_dashboards": round(statistics.median(rates["dashboards"])),
            "ratio_median": round(ratios[len(ratios) // 2], 3),
            "ratio_min": round(ratios[0], 3), "ratio_max": round(ratios[-1], 3),
            "loop_cpu_us_per_datagram_alone": round(statistics.median(loop_us["alone"]), 2),
            "loop_cpu_us_per_datagram_dashboards":
                round(statistics.median(loop_us["dashboards"]), 2),
            "refreshes": refreshes, "api_requests": requests, "refresh_errors": errors,
            "refresh_mean_s": round(refresh_s / max(refreshes, 1), 2),
            "malformed": h["malformed"], "events_lost": h["events_lost"],
            "history_queue_full": h.get("history", {}).get("queue_full")}))
        return 0 if errors == 0 and h["malformed"] == 0 else 1
    finally:
        stop_collector(proc, tmp)


if __name__ == "__main__":
    raise SystemExit(main())
