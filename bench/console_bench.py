#!/usr/bin/python3
"""Entries per second the console receiver stores from concurrent mlogc-like clients.

Starts the built `modsec-observed` with history and `--console-listen` on loopback, then
runs `--clients` processes (default 10), each on one keep-alive HTTP connection sending
`PUT /rpc/auditLogReceiver` with Basic credentials, `X-Content-Hash` and a Native entry of
about `--size` bytes (default 5,000: a captured mod_security2 entry, its unique id made
distinct per upload, padded in part B) until `--entries` in all were answered. Every
answer must be 200; the collector's `health` must count every entry as stored. Prints
entries/s (answered 200 = committed) and the history batches the writer used.

    bench/console_bench.py [--build build] [--clients 10] [--entries 20000] [--size 5000]
                           [--client native|python]
    bench/console_bench.py --beside 200000 [--rounds 3]

`--beside N`: what the receiver costs the module's ingest running beside it. Rounds
alternate, side by side in one run: N module datagrams (a CRS 3 event of the fuzz corpus,
its unique id made distinct) sent as fast as the event socket takes them (a blocking
socket: the sender waits while the collector's queue is full), alone and while the
clients upload without pause; each round times until `health` counts all N. Prints the
datagram rate of each round and the median ratio beside/alone.

`--client native` (the default) runs `build/bench/console_client`: one C++ thread per
client, each request (distinct unique id, its MD5, the headers mlogc sends) encoded before
the clock starts, so the clients take little of the CPU the collector needs.
`--client python` runs the clients as separate processes (so that Python's lock does not
cap the rate); on a 2-core machine they compete with the collector for the CPU, so that
figure is a floor.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import multiprocessing as mp
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_util import (free_port, health, proc_cpu_s, stop_collector, thread_cpu_s,
                        wait_listening)

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = sorted((REPO / "tests/data/audit/v2_native_concurrent/storage").rglob("*-*"))


def template(size: int) -> tuple[bytes, str]:
    entry = next(p for p in TEMPLATE if p.is_file()).read_bytes()
    uid = re.search(rb"^\[[^\]]+\] (\S+) ", entry, re.M).group(1).decode()
    boundary = re.match(rb"--([0-9a-f]{8})-A--", entry).group(1)
    pad = max(0, size - len(entry))
    if pad:
        marker = b"--" + boundary + b"-F--"
        entry = entry.replace(marker, b"X-Pad: " + b"p" * max(0, pad - 9) + b"\n\n" + marker, 1)
    return entry, uid


class Uploader:
    """One mlogc-like client: a keep-alive connection (`TCP_NODELAY`, as curl and so
    mlogc set it) that PUTs the template entry with the unique id made distinct."""

    def __init__(self, port: int, size: int):
        self.body, self.uid = template(size)
        self.auth = "Basic " + base64.b64encode(b"bench:bench").decode()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def put(self, i: int) -> int:
        """Uploads entry number `i`; its answer's status."""
        new_uid = f"{i:0{len(self.uid)}d}"[-len(self.uid):]
        entry = self.body.replace(self.uid.encode(), new_uid.encode())
        headers = {"Authorization": self.auth, "Expect": "",
                   "X-Content-Hash": "md5:" + hashlib.md5(entry).hexdigest() + " ",
                   "Content-Length": str(len(entry))}
        self.conn.request("PUT", "/rpc/auditLogReceiver", body=entry, headers=headers)
        r = self.conn.getresponse()
        r.read()
        return r.status


def client(port: int, first: int, count: int, size: int, out: mp.Queue) -> None:
    up = Uploader(port, size)
    cpu = time.process_time()
    bad = sum(up.put(i) != 200 for i in range(first, first + count))
    up.conn.close()
    out.put((bad, time.process_time() - cpu))


EVENT = (REPO / "tests/fuzz/corpus/event_decoder/crs3-request-1-event.json").read_bytes().strip()


def uploader(port: int, first: int, size: int, stop: mp.Event, out: mp.Queue) -> None:
    """Uploads distinct entries on one connection until `stop`; puts (answered, not 200)."""
    up = Uploader(port, size)
    done = bad = 0
    while not stop.is_set():
        bad += up.put(first + done) != 200
        done += 1
    up.conn.close()
    out.put((done, bad))


def send_datagrams(path: str, first: int, count: int) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    head, tail = EVENT.split(b'"unique_id":"aR9xAAAB"', 1)
    for i in range(first, first + count):
        s.sendto(head + b'"unique_id":"b%07d"' % (i % 10_000_000) + tail, path)
    s.close()


def beside(args, port: int, cli: Path, tmp: Path, pid: int) -> int:
    """Alternating rounds: N datagrams alone, then N while the clients upload."""
    rates: dict[str, list[float]] = {"alone": [], "beside": []}
    loop_us: dict[str, list[float]] = {"alone": [], "beside": []}
    uploaded = bad = 0
    first = 0
    for r in range(args.rounds):
        for mode in ("alone", "beside"):
            stop = mp.Event()
            out: mp.Queue = mp.Queue()
            clients = []
            if mode == "beside":
                clients = [mp.Process(target=uploader,
                                      args=(port, 20_000_000 + (r * 64 + c) * 1_000_000,
                                            args.size, stop, out))
                           for c in range(args.clients)]
                for p in clients:
                    p.start()
                time.sleep(1.0)            # the uploads under way
            base = health(cli, tmp / "q.sock")["datagrams"]
            loop0 = thread_cpu_s(pid, pid)     # the ingest loop is the main thread
            start = time.monotonic()
            sender = mp.Process(target=send_datagrams,
                                args=(str(tmp / "ev.sock"), first, args.beside))
            sender.start()
            first += args.beside
            while health(cli, tmp / "q.sock")["datagrams"] < base + args.beside:
                time.sleep(0.05)
            elapsed = time.monotonic() - start
            loop_cpu = thread_cpu_s(pid, pid) - loop0
            sender.join()
            stop.set()
            for _ in clients:
                d, b = out.get()
                uploaded += d
                bad += b
            for p in clients:
                p.join()
            rates[mode].append(args.beside / elapsed)
            loop_us[mode].append(loop_cpu * 1e6 / args.beside)
            print(json.dumps({"round": r + 1, "mode": mode, "datagrams": args.beside,
                              "seconds": round(elapsed, 2),
                              "datagrams_per_s": round(args.beside / elapsed),
                              "loop_cpu_us_per_datagram": round(loop_us[mode][-1], 2)}),
                  flush=True)
    ratios = sorted(b / a for a, b in zip(rates["alone"], rates["beside"]))
    h = health(cli, tmp / "q.sock")
    print(json.dumps({"rounds": args.rounds, "clients": args.clients,
                      "median_alone": round(statistics.median(rates["alone"])),
                      "median_beside": round(statistics.median(rates["beside"])),
                      "ratio_median": round(ratios[len(ratios) // 2], 3),
                      "ratio_min": round(ratios[0], 3), "ratio_max": round(ratios[-1], 3),
                      "loop_cpu_us_per_datagram_alone": round(statistics.median(loop_us["alone"]), 2),
                      "loop_cpu_us_per_datagram_beside":
                          round(statistics.median(loop_us["beside"]), 2),
                      "entries_uploaded_beside": uploaded, "not_200": bad,
                      "malformed": h["malformed"], "events_lost": h["events_lost"]}))
    return 0 if bad == 0 and h["malformed"] == 0 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--entries", type=int, default=20000)
    ap.add_argument("--size", type=int, default=5000)
    ap.add_argument("--client", choices=("native", "python"), default="native",
                    help="native: build/bench/console_client (C++, requests encoded before "
                         "the clock starts); python: one http.client process per client")
    ap.add_argument("--console-client", metavar="PATH",
                    help="the native client (default: BUILD/bench/console_client)")
    ap.add_argument("--beside", type=int, default=0, metavar="N",
                    help="measure the module's datagram ingest beside the uploads (N per round)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    daemon = Path(args.build) / "collector" / "modsec-observed"
    cli = Path(args.build) / "collector" / "modsec-observe"
    tmp = Path(tempfile.mkdtemp(prefix="msocb"))
    port = free_port()
    sensors = tmp / "sensors"
    sensors.write_text(subprocess.run(["htpasswd", "-nbB", "bench", "bench"], text=True,
                                      capture_output=True, check=True).stdout)
    proc = subprocess.Popen([str(daemon), "--event-socket", str(tmp / "ev.sock"),
                             "--query-socket", str(tmp / "q.sock"), "--state-dir",
                             str(tmp / "state"), "--history-days", "0",  # dated captures
                             "--console-listen", f"127.0.0.1:{port}",
                             "--sensors", str(sensors), "--console-workers",
                             str(max(16, args.clients))],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "log", "wb"))
    try:
        wait_listening(port)
        if args.beside:
            return beside(args, port, cli, tmp, proc.pid)
        per = args.entries // args.clients
        load = os.getloadavg()[0]
        if args.client == "native":
            body, uid = template(args.size)
            (tmp / "entry").write_bytes(body)
            run = subprocess.run([args.console_client or
                                  str(Path(args.build) / "bench" / "console_client"), str(port),
                                  str(args.clients), str(per * args.clients), "10000000",
                                  str(tmp / "entry"), uid, "bench:bench"],
                                 capture_output=True, text=True, check=False)
            if not run.stdout:
                raise SystemExit("console_client: " + run.stderr)
            result = json.loads(run.stdout)
            elapsed = result["seconds"]
            bad = result["not_200"] + result["failed"]
            client_cpu = result["client_cpu_s"]
        else:
            out: mp.Queue = mp.Queue()
            procs = [mp.Process(target=client,
                                args=(port, 10_000_000 + c * per, per, args.size, out))
                     for c in range(args.clients)]
            start = time.monotonic()
            for p in procs:
                p.start()
            results = [out.get() for _ in procs]
            elapsed = time.monotonic() - start
            for p in procs:
                p.join()
            bad = sum(r[0] for r in results)
            client_cpu = round(sum(r[1] for r in results), 3)
        health = json.loads(subprocess.run([str(cli), "--socket", str(tmp / "q.sock"), "health",
                                            "--json"], capture_output=True, text=True,
                                           check=True).stdout)
        stored = health["console"]["sensors"].get("bench", {}).get("stored", 0)
        cpu_s = proc_cpu_s(proc.pid)
        total = per * args.clients
        print(json.dumps({"client": args.client, "clients": args.clients, "entries": total,
                          "entry_bytes": len(template(args.size)[0]),
                          "seconds": round(elapsed, 2),
                          "entries_per_s": round(total / elapsed),
                          "not_200": bad, "stored": stored,
                          "batches": health["history"]["batches"],
                          "collector_cpu_s": round(cpu_s, 2),
                          "collector_cpu_us_per_entry": round(cpu_s * 1e6 / max(total, 1)),
                          "client_cpu_s": client_cpu, "load_before": round(load, 2)}))
        return 0 if bad == 0 and stored == total else 1
    finally:
        stop_collector(proc, tmp)


if __name__ == "__main__":
    raise SystemExit(main())
