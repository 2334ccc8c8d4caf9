"""The first look: what `scripts/demo.sh` runs after its build (tests/integration/demo.py),
with --keep as a newcomer would use it: it prints the `stats` table and the dashboard's
URL, leaves everything running, and the dashboard there answers with the demo's vhosts,
its attackers among the top clients; Ctrl-C (SIGINT) stops it cleanly."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sandbox import build_dir, repo_root

DEMO = repo_root() / "tests" / "integration" / "demo.py"


def api(url: str, path: str) -> dict:
    with urllib.request.urlopen(url + "api/" + path, timeout=60) as r:
        return json.loads(r.read())


def test_demo_keep_serves_the_dashboard_until_ctrl_c():
    env = dict(os.environ, MSO_BUILD_DIR=str(build_dir()), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, str(DEMO), "--keep", "--benign", "20",
                             "--attacks", "8"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    out: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while not any(l.startswith("Left running until Ctrl-C") for l in out):
            line = proc.stdout.readline()
            assert line, "demo.py ended early:\n" + "".join(out)
            out.append(line)
            assert time.monotonic() < deadline, "".join(out)
        text = "".join(out)
        # The stats table: both vhosts, shop.test (On) blocked its attacks.
        rows = {m.group(1): m.group(2).split() for m in
                re.finditer(r"^(shop\.test|blog\.test)\s+(\d+\s+\d+\s+\d+\s+\d+)", text, re.M)}
        assert set(rows) == {"shop.test", "blog.test"}, text
        requests, flagged, intercepted = (int(x) for x in rows["shop.test"][1:4])
        assert requests == 28 and flagged == 8 and intercepted == 8, text
        assert int(rows["blog.test"][3]) == 0, text  # DetectionOnly blocks nothing
        url = re.search(r"^Dashboard: (http://127\.0\.0\.1:\d+/)", text, re.M).group(1)
        with urllib.request.urlopen(url, timeout=60) as r:
            assert r.status == 200 and b"modsec-observe" in r.read()
        vhosts = {v["vhost"]: v for v in api(url, "vhosts")["vhosts"]}
        assert set(vhosts) == {"shop.test", "blog.test"}
        assert vhosts["shop.test"]["intercepted"] == 8 and vhosts["blog.test"]["would_block"] == 8
        # "By whom": the attacks came from the demo's attacker addresses.
        top = api(url, "top?list=clients&vhost=shop.test&limit=20")["top"]
        assert {t["value"] for t in top} <= {"127.0.0.66", "127.0.0.77", "127.0.0.88"}, top
        assert top, "no top clients"
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
        out.append(rest)
        assert proc.returncode == 0, "".join(out)
        assert "stopped Apache and the collector" in rest and "FAILED" not in rest
        # Everything it started is gone; the files it kept are named.
        kept = re.search(r"Apache config and logs: (\S+)", rest).group(1)
        assert not (Path(kept) / "run" / "httpd.pid").exists() or not _running(Path(kept))
        for label in ("Apache config and logs", "collector log", "collector state"):
            path = Path(re.search(rf"{label}:\s+(\S+)", rest).group(1))
            shutil.rmtree(path if path.is_dir() else path.parent, ignore_errors=True)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _running(apache_dir: Path) -> bool:
    pid = int((apache_dir / "run" / "httpd.pid").read_text())
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
