"""What the Python benchmarks share: a free loopback port, waiting for a collector's
port, its `health`, a thread's CPU time from /proc, stopping it, and the packaged
net.unix.max_dgram_qlen for a run.

Imported by the other Python benchmarks (run from
any directory: Python puts the script's own directory, bench/, on the path)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

QLEN = Path("/proc/sys/net/unix/max_dgram_qlen")
PACKAGED_QLEN = 8192   # packaging/99-modsec-observe.conf


@contextmanager
def packaged_qlen():
    """net.unix.max_dgram_qlen as packaging/99-modsec-observe.conf sets it, for the
    duration of the block (needs root); the machine's value is restored after. Yields
    the value it replaced."""
    old = int(QLEN.read_text())
    QLEN.write_text(str(PACKAGED_QLEN))
    try:
        yield old
    finally:
        QLEN.write_text(str(old))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 20) -> None:
    """Returns once 127.0.0.1:port accepts a connection, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)


def health(cli: Path, sock: Path) -> dict:
    return json.loads(subprocess.run([str(cli), "--socket", str(sock), "health", "--json"],
                                     capture_output=True, text=True, check=True).stdout)


def _stat_cpu_s(stat_file: str) -> float:
    """utime + stime from a /proc .../stat file, in seconds."""
    fields = Path(stat_file).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    """utime + stime of every thread of `pid`, in seconds."""
    return _stat_cpu_s(f"/proc/{pid}/stat")


def thread_cpu_s(pid: int, tid: int) -> float:
    return _stat_cpu_s(f"/proc/{pid}/task/{tid}/stat")


def stop_collector(proc: subprocess.Popen, tmp: Path) -> None:
    """Terminates the collector and removes its temporary directory."""
    proc.terminate()
    proc.wait(timeout=30)
    shutil.rmtree(tmp, ignore_errors=True)
