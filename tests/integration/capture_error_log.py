#!/usr/bin/python3
"""Capture real ModSecurity alert lines from a sandboxed Apache into tests/data/.

Run as root (Apache then drops to www-data):  /usr/bin/python3 tests/integration/capture_error_log.py
Writes tests/data/crs3_error_log.txt and, when CRS 4 is found, tests/data/crs4_error_log.txt:
the raw error-log lines that contain `ModSecurity:`, nothing else. Which requests were
sent is listed in tests/data/README.md (and in REQUESTS below); every line names its
request by [uri] and [unique_id].
"""

from __future__ import annotations

import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sandbox import ApacheSandbox, crs4_dir, repo_root  # noqa: E402

q = urllib.parse.quote
LONG_NAME = "<script>alert(1)</script>" + "a" * (1100 - len("<script>alert(1)</script>"))

# (kind, vhosts, method, path, extra headers, body, crs versions)
REQUESTS = [
    ("sqli", ["detect.test", "block.test"], "GET", "/?id=" + q("1' OR 1=1--"), {}, None, "34"),
    ("xss", ["detect.test", "block.test"], "GET", "/?q=" + q("<script>alert(1)</script>"),
     {}, None, "34"),
    ("traversal", ["block.test"], "GET", "/?file=../../../../etc/passwd",
     {}, None, "34"),
    ("expect", ["detect.test", "block.test"], "POST", "/",
     {"Expect": "100-continue", "Content-Type": "application/x-www-form-urlencoded"},
     b"a=1", "4"),
    ("proxy-header", ["detect.test", "block.test"], "GET", "/", {"Proxy": "x"}, None, "3"),
    ("scanner-ua", ["detect.test", "block.test"], "GET", "/",
     {"User-Agent": "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)"}, None, "34"),
    ("long-arg-name", ["detect.test"], "GET", "/?" + q(LONG_NAME) + "=1",
     {}, None, "34"),
    ("score-above-threshold", ["block.test"], "GET",
     "/?id=" + q("1' OR 1=1--") + "&q=" + q("<script>alert(1)</script>"), {}, None, "34"),
]


def capture(crs: str, out: Path) -> None:
    sb = ApacheSandbox(crs=crs)
    try:
        sb.start()
        # benign traffic first: it must produce no alert at all
        for host in ("detect.test", "block.test"):
            sb.request(host, "/")
        sent = 2
        sb.wait_access_lines(sent)
        if sb.modsec_lines():
            raise SystemExit(f"CRS {crs}: benign requests were flagged:\n"
                             + "\n".join(sb.modsec_lines()))
        for kind, hosts, method, path, headers, body, versions in REQUESTS:
            if crs not in versions:
                continue
            for host in hosts:
                r = sb.request(host, path, method=method, headers=headers, body=body)
                sent += 1
                print(f"CRS {crs} {kind:22} {host:12} -> {r.status}")
        sb.wait_access_lines(sent)
        time.sleep(0.3)
        lines = sb.modsec_lines()
        bad = sb.unexpected_log_lines()
        if bad:
            raise SystemExit(f"CRS {crs}: unexpected error-log lines:\n" + "\n".join(bad))
        out.write_text("\n".join(lines) + "\n")
        print(f"wrote {len(lines)} lines to {out}")
    finally:
        sb.cleanup()


def main() -> None:
    data = repo_root() / "tests" / "data"
    capture("3", data / "crs3_error_log.txt")
    if crs4_dir() is None:
        print("CRS 4 not found (MSO_CRS4_DIR or ../shared/crs-4.28.0): skipped")
        return
    capture("4", data / "crs4_error_log.txt")


if __name__ == "__main__":
    main()
