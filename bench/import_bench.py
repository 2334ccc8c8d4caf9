#!/usr/bin/env python3
"""End-to-end import rate: `modsec-observe import` of a large v2 Native Serial audit log
into a running `modsec-observed` with its history store.

The log is tests/data/audit/v2_native_serial.log repeated to --mb megabytes, each copy's
unique ids rewritten so that every entry is a new request (a repeated id would be a
duplicate and skip the insert). Reports the wall time, MB/s, and the CPU time (user +
system) and peak RSS of the CLI (getrusage of the child) and of the daemon (/proc, over
the import). Numbers go to docs/BENCHMARKS.md.

With --gzip the log is compressed first (gzip level 6, as logrotate's default) and the
`.gz` is imported, so the CLI's figures include zlib's inflate; MB/s are of the
uncompressed log in both cases.

Usage: bench/import_bench.py [--build build] [--mb 200] [--gzip] [--keep]
"""

from __future__ import annotations

import argparse
import gzip
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_util import proc_cpu_s

REPO = Path(__file__).resolve().parents[1]
CAPTURE = REPO / "tests" / "data" / "audit" / "v2_native_serial.log"
A_LINE = re.compile(rb"^(\[[^\]]+\] )(\S+)( .*)$")


def make_log(path: Path, megabytes: int) -> int:
    text = CAPTURE.read_bytes()
    lines = text.splitlines(keepends=True)
    size = 0
    copy = 0
    with open(path, "wb") as out:
        while size < megabytes * 1_000_000:
            after_a = False
            chunk = []
            for line in lines:
                if after_a:
                    m = A_LINE.match(line.rstrip(b"\n"))
                    if m:
                        uid = m.group(2) + b"-%d" % copy
                        line = m.group(1) + uid + m.group(3) + b"\n"
                    after_a = False
                if line.startswith(b"--") and line.rstrip().endswith(b"-A--"):
                    after_a = True
                chunk.append(line)
            data = b"".join(chunk)
            out.write(data)
            size += len(data)
            copy += 1
    return size


def proc_rss_kb(pid: int, key: str = "VmHWM") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--gzip", action="store_true", help="import a .gz of the log")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    build = Path(args.build)
    work = Path(tempfile.mkdtemp(prefix="mso-import-bench-"))
    try:
        log = work / "modsec_audit.log"
        size = make_log(log, args.mb)
        if args.gzip:
            packed = work / "modsec_audit.log.1.gz"
            with open(log, "rb") as src, gzip.open(packed, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            log.unlink()
            log = packed
        state = work / "state"
        state.mkdir()
        daemon = subprocess.Popen(
            [str(build / "collector" / "modsec-observed"), "--event-socket",
             str(work / "ev.sock"), "--query-socket", str(work / "q.sock"), "--state-dir",
             str(state), "--history-days", "0"],  # the capture is dated 2026-12-02
            stdout=subprocess.DEVNULL, stderr=open(work / "daemon.log", "wb"))
        for _ in range(200):
            if (work / "q.sock").exists():
                break
            time.sleep(0.05)
        cpu0 = proc_cpu_s(daemon.pid)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        p = subprocess.run([str(build / "collector" / "modsec-observe"), "--socket",
                            str(work / "q.sock"), "import", "--json", str(log)],
                           capture_output=True, text=True, check=False)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        daemon_cpu = proc_cpu_s(daemon.pid) - cpu0
        daemon_rss = proc_rss_kb(daemon.pid)
        daemon.terminate()
        daemon.wait(timeout=60)
        if p.returncode != 0:
            print(p.stdout, p.stderr, file=sys.stderr)
            return 1
        cli_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        mb = size / 1e6
        print(p.stdout.strip())
        print(f"log: {mb:.1f} MB" + (f" ({log.stat().st_size / 1e6:.1f} MB gzipped)"
                                     if args.gzip else ""))
        print(f"wall: {wall:.2f} s = {mb / wall:.1f} MB/s")
        print(f"CLI CPU: {cli_cpu:.2f} s = {mb / cli_cpu:.1f} MB/s per CPU second; "
              f"peak RSS {after.ru_maxrss / 1024:.1f} MiB")
        print(f"daemon CPU: {daemon_cpu:.2f} s ({daemon_cpu / wall * 100:.0f}% of a core); "
              f"peak RSS {daemon_rss / 1024:.1f} MiB")
        print(f"history.db: {(state / 'history.db').stat().st_size / 1e6:.1f} MB")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
