"""What the Python benchmarks share: a free loopback port, waiting for a collector's
port, its `health`, a thread's CPU time from /proc, and stopping it.

Imported by console_bench.py, dashboard_bench.py and dashboard_render.py (run from
any directory: Python puts the script's own directory, bench/, on the path)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


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
