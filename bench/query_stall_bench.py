#!/usr/bin/python3
"""Does a query over every vhost stall ingestion? (issue 15, item 3)

Starts a built `modsec-observed` (no history), seeds `--vhosts` vhosts (default 1,000)
with `--seed` flagged requests each (a CRS 3 event of the fuzz corpus, clients varied),
then for `--seconds` (default 20) at once:

- a sender at a fixed `--rate` (default 10,000 datagrams/s) over the vhosts, on
  `--sockets` non-blocking sockets in turn (default 1; the module sends from one socket
  per Apache child, so 4 is an mpm_event server's few children): a datagram there is no
  room for is lost (EAGAIN), counted, not retried. Room is the collector's queue
  (net.unix.max_dgram_qlen) and each sending socket's send buffer, which holds the
  datagrams the collector has not read yet (212,992 bytes by default: 93 of these 1.4 KB
  datagrams, some 9 ms at 10,000/s from one socket). `--sndbuf` asks for a larger one as
  the module does since 2026-12-06 (SO_SNDBUF of 1 MiB; Linux caps a request at
  net.core.wmem_max and doubles it); several values (`--sndbuf default,212992,1048576`)
  alternate like the builds. Each datagram's `time_us` is the time it was sent; every
  10th goes to the probe vhost (the first);
- a client asking `stats` (every vhost) every `--every` seconds (default 0.1), each
  answer read in full before the next ask (a slow answer delays the next); with
  `--ask metrics`, a scraper of `GET /metrics` (the same vhosts' series) instead; with
  `--ask events`, the `events` query of the ring (`--events-limit` of its newest events,
  default 1,000; 0: all it holds, 10,000 by default); and with `--ask none` nothing (the
  floor the asks are measured against);
- a `tail` client on the probe vhost: the delay from a datagram's `time_us` to its
  `tail` line reaching the client is the ingest latency measured from outside (it
  includes the kernel's queue, the ingest and the `tail` write, and the Python reader:
  an upper bound).

Also reported: the loop thread's CPU time and its time runnable but waiting for a CPU
during the sending (/proc schedstat), which tells a stall of the machine from one of
the collector.

Then it waits for the collector to count everything and prints one JSON line per round:
datagrams sent, lost (EAGAIN at the sender; checked against `health`'s `datagrams`),
latency percentiles, the answers (`stats` or `/metrics`) and their durations. Rounds alternate between the
builds given (`--build NAME=DIR`, e.g. before=/work/main/build after=build), so both
meet the same machine. Also times 10 `/metrics` scrapes with the seeded vhosts, the
collector idle, before the sending starts.

    nice -n 5 bench/query_stall_bench.py --build before=../main/build --build after=build

Needs net.unix.max_dgram_qlen as packaging/99-modsec-observe.conf sets it (8,192): as
root it is raised for the run and restored; the value used is printed.
"""
from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import queue
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_util import PACKAGED_QLEN, QLEN, free_port, health, stop_collector, wait_listening

REPO = Path(__file__).resolve().parent.parent
EVENT = (REPO / "tests/fuzz/corpus/event_decoder/crs3-request-1-event.json").read_bytes().strip()
PROBE_EVERY = 10


def templates(vhosts: int):
    """The event split around the fields each datagram sets: time_us, vhost, client,
    unique_id (in that order in the corpus file)."""
    a, rest = EVENT.split(b'"time_us":1763739600123456', 1)
    b, rest = rest.split(b'"vhost":"block.test"', 1)
    c, rest = rest.split(b'"unique_id":"aR9xAAAB"', 1)
    d, e = rest.split(b'"client":"127.0.0.1"', 1)
    names = [b'"vhost":"v%04d.stall.test"' % v for v in range(vhosts)]
    return (a, b, c, d, e), names


def datagram(parts, names, vhost: int, i: int, time_us: int, clients: int = 200) -> bytes:
    a, b, c, d, e = parts
    return b"".join((a, b'"time_us":%d' % time_us, b, names[vhost], c,
                     b'"unique_id":"s%010d"' % i, d,
                     b'"client":"10.%d.%d.1"' % (i % clients // 256, i % clients % 256), e))


def seed(path: str, vhosts: int, per_vhost: int) -> None:
    parts, names = templates(vhosts)
    now = int(time.time() * 1e6)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:  # blocking: nothing lost
        for i in range(vhosts * per_vhost):
            s.sendto(datagram(parts, names, i % vhosts, i, now), path)


def sender_sockets(sockets: int, sndbuf: int | None) -> list[socket.socket]:
    """Non-blocking datagram sockets, with SO_SNDBUF asked for as `sndbuf` (None: the
    system's default, net.core.wmem_default)."""
    socks = [socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(sockets)]
    for s in socks:
        s.setblocking(False)
        if sndbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    return socks


def sender(path: str, vhosts: int, rate: int, seconds: float, first: int, sockets: int,
           sndbuf: int | None, out: mp.Queue) -> None:
    parts, names = templates(vhosts)
    socks = sender_sockets(sockets, sndbuf)
    sent = lost = 0
    start = time.monotonic()
    total = int(rate * seconds)
    i = 0
    while i < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        while i < due:
            vhost = 0 if i % PROBE_EVERY == 0 else i % vhosts
            try:
                socks[i % sockets].sendto(
                    datagram(parts, names, vhost, first + i, int(time.time() * 1e6)), path)
                sent += 1
            except BlockingIOError:
                lost += 1
            i += 1
        time.sleep(0.0005)
    for s in socks:
        s.close()
    out.put({"sent": sent, "lost": lost, "send_s": time.monotonic() - start})


def ask_every(ask_once, every: float, stop: mp.Event, out: mp.Queue) -> None:
    """Calls ask_once() every `every` seconds (a slow answer delays the next) until
    `stop`, and hands back how long each took, also when an ask fails: the round waits
    for this list, so a failed ask must not hang it."""
    took: list[float] = []
    try:
        while not stop.is_set():
            start = time.monotonic()
            ask_once()
            took.append(time.monotonic() - start)
            stop.wait(max(0.0, every - took[-1]))
    finally:
        out.put(took)


def scraper(port: int, every: float, stop: mp.Event, out: mp.Queue) -> None:
    def scrape() -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
            assert r.status == 200 and r.read().count(b"modsec_observe_requests_total{") > 0

    ask_every(scrape, every, stop, out)


def idle(stop: mp.Event, out: mp.Queue) -> None:
    stop.wait()
    out.put([])


def asker(sock: str, request: bytes, every: float, stop: mp.Event, out: mp.Queue) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        def ask() -> None:
            s.sendall(request)
            data = bytearray()
            while not data.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("query socket closed")
                data += chunk
            answer = json.loads(data)
            assert answer["ok"], answer

        try:
            s.connect(sock)
        except OSError:
            out.put([])
            raise
        ask_every(ask, every, stop, out)


def tailer(sock: str, vhosts: int, ready: mp.Event, stop: mp.Event, out: mp.Queue) -> None:
    delays: list[float] = []
    key = b'"time_us":'
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(sock)
        s.sendall(b'{"cmd":"tail","vhost":"v0000.stall.test"}\n')
        s.settimeout(0.2)
        buffer = b""
        first = True
        while not stop.is_set():
            try:
                chunk = s.recv(1 << 20)
            except socket.timeout:
                continue
            if not chunk:
                break
            now_us = time.time() * 1e6
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if first:  # {"ok":true,"tail":true}
                    first = False
                    ready.set()
                    continue
                at = line.find(key)
                if at >= 0:
                    end = line.find(b",", at)
                    delays.append((now_us - int(line[at + len(key):end])) / 1000.0)
    out.put(delays)


def result_of(proc: mp.Process, out: mp.Queue, what: str):
    """What `proc` put on `out`; an error, not a hang, when it ended without putting it
    (a sender or reader that died: the daemon gone, a failed assertion)."""
    while True:
        try:
            return out.get(timeout=1)
        except queue.Empty:
            if not proc.is_alive():
                try:
                    return out.get(timeout=1)
                except queue.Empty:
                    raise RuntimeError(f"the {what} ended (exit {proc.exitcode}) without "
                                       "its result") from None


def loop_sched_ms(pid: int) -> tuple[float, float]:
    """The ingest loop's (the main thread's) CPU time and time spent runnable but waiting
    for a CPU, in ms (/proc/PID/task/PID/schedstat)."""
    on_cpu, waiting, _ = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    return int(on_cpu) / 1e6, int(waiting) / 1e6


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def scrape_ms(port: int, n: int = 10) -> float:
    took = []
    for _ in range(n):
        start = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
            r.read()
        took.append((time.monotonic() - start) * 1000)
    return statistics.median(took)


def one_round(name: str, build: Path, sndbuf: int | None, args) -> dict:
    daemon = build / "collector" / "modsec-observed"
    cli = build / "collector" / "modsec-observe"
    tmp = Path(tempfile.mkdtemp(prefix="msoqs"))
    ev, q = tmp / "ev.sock", tmp / "q.sock"
    port = free_port()
    proc = subprocess.Popen([str(daemon), "--event-socket", str(ev), "--query-socket", str(q),
                             "--metrics-listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "log", "wb"))
    try:
        wait_listening(port)
        seeded = args.vhosts * args.seed
        seed(str(ev), args.vhosts, args.seed)
        while health(cli, q)["datagrams"] < seeded:
            time.sleep(0.1)
        metrics_ms = scrape_ms(port)
        stop = mp.Event()
        ready = mp.Event()
        outs = [mp.Queue() for _ in range(3)]
        tail = mp.Process(target=tailer, args=(str(q), args.vhosts, ready, stop, outs[0]),
                          daemon=True)
        tail.start()
        if not ready.wait(10):
            raise RuntimeError("the tail reader did not start within 10 s")
        if args.ask == "metrics":
            ask = mp.Process(target=scraper, args=(port, args.every, stop, outs[1]), daemon=True)
        elif args.ask == "none":
            ask = mp.Process(target=idle, args=(stop, outs[1]), daemon=True)
        else:
            request = (json.dumps({"cmd": "events", "limit": args.events_limit})
                       if args.ask == "events" else '{"cmd":"stats"}')
            ask = mp.Process(target=asker,
                             args=(str(q), request.encode() + b"\n", args.every, stop, outs[1]),
                             daemon=True)
        send = mp.Process(target=sender, args=(str(ev), args.vhosts, args.rate, args.seconds,
                                               seeded, args.sockets, sndbuf, outs[2]),
                          daemon=True)
        load0 = os.getloadavg()
        sched0 = loop_sched_ms(proc.pid)
        ask.start()
        send.start()
        sent = result_of(send, outs[2], "sender")
        send.join()
        sched1 = loop_sched_ms(proc.pid)
        deadline = time.monotonic() + 30
        while health(cli, q)["datagrams"] < seeded + sent["sent"] and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)  # the last tail lines
        stop.set()
        delays = result_of(tail, outs[0], "tail reader")
        took = result_of(ask, outs[1], "asker")
        tail.join()
        ask.join()
        h = health(cli, q)
        counted = h["datagrams"] - seeded
        return {
            "build": name, "vhosts": args.vhosts, "rate": args.rate, "seconds": args.seconds,
            "sockets": args.sockets,
            "sndbuf_asked": "default" if sndbuf is None else sndbuf,
            "sndbuf": effective_sndbuf(sndbuf),
            **({"events_limit": args.events_limit} if args.ask == "events" else {}),
            "sent": sent["sent"] + sent["lost"], "lost": sent["lost"],
            "counted": counted, "uncounted": sent["sent"] - counted,
            "send_s": round(sent["send_s"], 2),
            "latency_samples": len(delays),
            "latency_ms": {p: round(percentile(delays, p), 2) for p in (50, 99, 99.9)}
            | {"max": round(max(delays, default=float("nan")), 2)},
            f"{args.ask}_answers": len(took),
            f"{args.ask}_ms": {"median": round(statistics.median(took) * 1000, 1) if took else None,
                               "max": round(max(took, default=0) * 1000, 1)},
            "metrics_scrape_ms_idle": round(metrics_ms, 1),
            # While sending: the loop's CPU time, and its time runnable but not running.
            "loop_cpu_ms": round(sched1[0] - sched0[0]),
            "loop_waited_for_cpu_ms": round(sched1[1] - sched0[1]),
            "loadavg_start": [round(x, 2) for x in load0],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        }
    finally:
        stop_collector(proc, tmp)


def effective_sndbuf(sndbuf: int | None) -> int:
    """SO_SNDBUF as the kernel sets it for a request of `sndbuf`."""
    s = sender_sockets(1, sndbuf)[0]
    try:
        return s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    finally:
        s.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", action="append", required=True, help="NAME=DIR, repeatable")
    ap.add_argument("--rounds", type=int, default=2, help="per build, alternating")
    ap.add_argument("--vhosts", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=10, help="events per vhost before the run")
    ap.add_argument("--rate", type=int, default=10_000, help="datagrams per second")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--sockets", type=int, default=1, help="sending sockets, used in turn")
    ap.add_argument("--every", type=float, default=0.1, help="seconds between asks")
    ap.add_argument("--ask", choices=("stats", "metrics", "events", "none"), default="stats",
                    help="what is asked every --every seconds: the stats query, /metrics, "
                         "the events query, or nothing")
    ap.add_argument("--events-limit", type=int, default=1000,
                    help="--ask events: how many of the ring's newest events (0: all)")
    ap.add_argument("--sndbuf", default="default",
                    help="SO_SNDBUF asked for by the sender: bytes or 'default', or several "
                         "separated by commas, alternated like the builds")
    args = ap.parse_args()
    sndbufs = [None if v == "default" else int(v) for v in args.sndbuf.split(",")]
    builds = [(b.split("=", 1)[0], Path(b.split("=", 1)[1]).resolve()) for b in args.build]
    old = int(QLEN.read_text())
    changed = False
    if old < PACKAGED_QLEN and os.geteuid() == 0:
        QLEN.write_text(str(PACKAGED_QLEN))
        changed = True
    print(json.dumps({"max_dgram_qlen": int(QLEN.read_text()), "cpus": os.cpu_count()}))
    rows = []
    try:
        for _ in range(args.rounds):
            for name, build in builds:
                for sndbuf in sndbufs:
                    rows.append(one_round(name, build, sndbuf, args))
                    print(json.dumps(rows[-1]), flush=True)
    finally:
        if changed:
            QLEN.write_text(str(old))
    for (name, _), sndbuf in itertools.product(builds, sndbufs):
        asked = "default" if sndbuf is None else sndbuf
        mine = [r for r in rows if r["build"] == name and r["sndbuf_asked"] == asked]
        print(json.dumps({"summary": name, "sockets": args.sockets, "sndbuf_asked": asked,
                          "lost": [r["lost"] for r in mine],
                          "latency_p99_ms": [r["latency_ms"][99] for r in mine],
                          f"{args.ask}_median_ms": [r[f"{args.ask}_ms"]["median"]
                                                    for r in mine]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
