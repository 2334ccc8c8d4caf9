#!/usr/bin/python3
"""Time to first render of the dashboard's Vhost view over 30 days, in headless chromium.

A collector cannot be fed 30 days of traffic in a benchmark, so its state file is: the
built `modsec-observed` (`--state-dir`, `--no-history`) receives `--events` flagged
requests for one vhost (a CRS 3 event of the fuzz corpus) and writes its snapshot on
SIGTERM; this script then fills that vhost's time series in the snapshot with a point
per hour for 30 days and a point per minute for 24 hours (every point with requests,
flagged, blocked and a rule's hits), and starts the collector again on it with
`--http-listen`. Memory then answers the whole view (no history: the lists count since
the start). Debian's chromium, driven by playwright-core from tests/browser/node_modules
(`npm ci` there), opens `#/vhost/NAME?window=30d` (and `24h`) in a fresh page per run and
times navigation to the view being ready (`main[data-ready="true"]`: every request
answered and every plot drawn).

With `--history N` the collector keeps history as well, seeded with N flagged events of
the same vhost spread evenly over the last 30 days (imported over the query socket's
`import` stream, so they keep their times): the window's counts, rules and lists then
come from the store, as on a collector that has run for a month.

    bench/dashboard_render.py [--build build] [--runs 5] [--history N]
                              [--chromium /usr/bin/chromium]

Prints each run as a JSON line, then the median per window (docs/BENCHMARKS.md).
"""
from __future__ import annotations

import argparse
import json
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_util import free_port, stop_collector

REPO = Path(__file__).resolve().parent.parent
EVENT = (REPO / "tests/fuzz/corpus/event_decoder/crs3-request-1-event.json").read_bytes().strip()
VHOST = "block.test"  # the template's
PLAYWRIGHT = REPO / "tests/browser/node_modules/playwright-core/index.mjs"

# Runs in node: opens each window `runs` times, each in a fresh page; one JSON line per run.
DRIVER = """
const [url, vhost, runs, chromiumPath, playwright] = process.argv.slice(1);
const { chromium } = await import(playwright);
const browser = await chromium.launch({ executablePath: chromiumPath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
for (const window of ["30d", "24h"]) {
  for (let i = 0; i < Number(runs); i++) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const started = Date.now();
    await page.goto(`${url}/#/vhost/${encodeURIComponent(vhost)}?window=${window}`);
    await page.waitForSelector('main[data-ready="true"]', { timeout: 120000 });
    const ms = Date.now() - started;
    const points = await page.evaluate(() => document.querySelectorAll("#timeseries canvas").length);
    const error = await page.$eval("main p.error", (e) => e.textContent).catch(() => null);
    console.log(JSON.stringify({ window, run: i + 1, first_render_ms: ms, plot: points === 1, error, errors }));
    await page.close();
  }
}
await browser.close();
"""


def collector(daemon: Path, tmp: Path, extra: list[str]) -> subprocess.Popen:
    return subprocess.Popen([str(daemon), "--event-socket", str(tmp / "ev.sock"),
                             "--query-socket", str(tmp / "q.sock"), "--state-dir",
                             str(tmp / "state"), *extra],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "log", "ab"))


def seed_history(tmp: Path, events: int, now: int) -> dict:
    """Imports `events` copies of EVENT spread over the last 30 days; what the syncs'
    answers counted (docs/protocol.md, `import`)."""
    template = json.loads(EVENT)
    template["engine_mode"] = "detection_only"
    span_us = (30 * 86400 - 3600) * 1_000_000
    start_us = now * 1_000_000 - span_us
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(tmp / "q.sock"))
        reader = s.makefile("rb")
        s.sendall(b'{"cmd": "import", "source": "import:bench"}\n')
        answer = json.loads(reader.readline())
        if not answer.get("ok"):
            raise SystemExit(f"import refused: {answer}")
        batch, counted = [], {"inserted": 0, "duplicates": 0, "lost": 0, "malformed": 0}
        for i in range(events):
            template["time_us"] = start_us + span_us * i // max(1, events)
            template["unique_id"] = f"h{i:09d}"
            batch.append(json.dumps(template, separators=(",", ":")).encode())
            if len(batch) == 10_000 or i == events - 1:
                s.sendall(b"\n".join(batch) + b'\n{"cmd": "sync"}\n')
                answer = json.loads(reader.readline())
                for key in counted:
                    counted[key] += answer.get(key, 0)
                batch = []
        return counted


def wait_for(what, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the collector")
        time.sleep(0.1)


def health(cli: Path, tmp: Path) -> dict:
    return json.loads(subprocess.run([str(cli), "--socket", str(tmp / "q.sock"), "health",
                                      "--json"], capture_output=True, text=True).stdout or "{}")


def thirty_days(doc: dict, now: int) -> int:
    """Fills VHOST's series with 30 days of hours and 24 hours of minutes; the points."""
    v = next(x for x in doc["vhosts"] if x["name"] == VHOST)

    def point(start: int, i: int, scale: int) -> list:
        requests = scale * (50 + (i * 37) % 200)
        flagged = requests // 10
        return [start, requests, flagged, flagged // 3, flagged // 5, [["942100", flagged]]]

    hour = now - now % 3600
    minute = now - now % 60
    v["hours"] = [point(hour - (719 - i) * 3600, i, 60) for i in range(720)]
    v["minutes"] = [point(minute - (1439 - i) * 60, i, 1) for i in range(1440)]
    return len(v["hours"]) + len(v["minutes"])


def view_answers(port: int, window_s: int) -> list[dict]:
    """The API requests the Vhost view makes for `window_s` (views.js), each with its
    answer's size in bytes and where it came from (`from`: memory or history)."""
    resolution = "hour" if window_s > 86400 else "minute"
    paths = [f"timeseries?vhost={VHOST}&window={window_s}&resolution={resolution}",
             f"stats?vhost={VHOST}&window={window_s}&rules_limit=20",
             f"stats?vhost={VHOST}&rules_limit=1&score_levels=true"]
    paths += [f"top?list={k}&vhost={VHOST}&window={window_s}&limit=10&max_age=10"
              for k in ("clients", "paths", "agents", "targets")]
    out = []
    for path in paths:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/{path}", timeout=120) as r:
            body = r.read()
        out.append({"request": path, "bytes": len(body), "from": json.loads(body).get("from")})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--history", type=int, default=0, metavar="N",
                    help="keep history, seeded with N events over 30 days (default: none, "
                         "--no-history)")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    daemon = Path(args.build) / "collector" / "modsec-observed"
    cli = Path(args.build) / "collector" / "modsec-observe"
    tmp = Path(tempfile.mkdtemp(prefix="msodr"))
    keep = [] if args.history else ["--no-history"]
    proc = collector(daemon, tmp, keep)
    try:
        wait_for(lambda: (tmp / "ev.sock").exists())
        head, tail = EVENT.split(b'"unique_id":"aR9xAAAB"', 1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            for i in range(args.events):
                s.sendto(head + b'"unique_id":"r%07d"' % i + tail, str(tmp / "ev.sock"))
        wait_for(lambda: health(cli, tmp).get("datagrams", 0) >= args.events)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        state = tmp / "state" / "state.json"
        doc = json.loads(state.read_text())
        points = thirty_days(doc, int(time.time()))
        state.write_text(json.dumps(doc))
        port = free_port()
        proc = collector(daemon, tmp, keep + ["--http-listen", f"127.0.0.1:{port}"])

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_for(listening)
        seeded = {}
        if args.history:
            started = time.monotonic()
            seeded = seed_history(tmp, args.history, int(time.time()))
            seeded["import_s"] = round(time.monotonic() - started, 1)
            stored = health(cli, tmp).get("history", {})
            print(json.dumps({"seeded": seeded, "history_written": stored.get("written")}))
        # The snapshot loaded (a refused one would be set aside and the view empty).
        url = (f"http://127.0.0.1:{port}/api/timeseries?vhost={VHOST}&window=2592000"
               "&resolution=hour")
        with urllib.request.urlopen(url, timeout=60) as r:
            loaded = sum(len(x["points"]) for x in json.loads(r.read())["series"])
        if loaded < 700:
            print(f"the snapshot did not load: {loaded} hour points")
            return 1
        run = subprocess.run(["node", "--input-type=module", "-e", DRIVER, f"http://127.0.0.1:{port}",
                              VHOST, str(args.runs), args.chromium, PLAYWRIGHT.as_uri()],
                             capture_output=True, text=True, timeout=1200)
        if run.returncode != 0:
            print(run.stderr)
            return 1
        results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
        for r in results:
            print(json.dumps(r))
        for window_s in (30 * 86400, 86400):
            for answer in view_answers(port, window_s):
                print(json.dumps(answer))
        summary = {"series_points": points, "hour_points_answered": loaded, "runs": args.runs,
                   "history_events": args.history}
        for window in ("30d", "24h"):
            ms = [r["first_render_ms"] for r in results if r["window"] == window]
            summary[f"median_ms_{window}"] = round(statistics.median(ms))
            summary[f"min_ms_{window}"] = min(ms)
            summary[f"max_ms_{window}"] = max(ms)
        bad = [r for r in results if r["error"] or r["errors"] or not r["plot"]]
        summary["failed_runs"] = len(bad)
        print(json.dumps(summary))
        return 0 if not bad else 1
    finally:
        stop_collector(proc, tmp)


if __name__ == "__main__":
    raise SystemExit(main())
