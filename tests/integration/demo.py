#!/usr/bin/python3
"""Show modsec-observe working: collector + a sandboxed Apache (mod_security2, OWASP CRS,
mod_modsec_observe) with two virtual hosts, a mix of benign and attack traffic, then the
`modsec-observe stats` table. Everything runs on 127.0.0.1 from temp dirs under /tmp and
is stopped at the end (with --keep: when you press Ctrl-C); the logs are kept so you can look at them.
The collector also serves the dashboard on a free loopback port; its URL is printed.

    sudo /usr/bin/python3 tests/integration/demo.py [--crs 3|4] [--mpm event|prefork] [--keep]

Run by scripts/demo.sh after the build. Uses MSO_BUILD_DIR (default <repo>/build).
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sandbox import (VirtualHost, build_dir, crs4_dir, free_port, repo_root,  # noqa: E402
                     short_temp_dir, start_stack, stop_stack)

q = urllib.parse.quote

ATTACKS = [
    ("SQL injection", "GET", "/?id=" + q("1' OR 1=1--"), {}),
    ("XSS", "GET", "/?q=" + q("<script>alert(1)</script>"), {}),
    ("path traversal", "GET", "/?file=../../../../etc/passwd", {}),
    ("scanner", "GET", "/", {"User-Agent": "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)"}),
    ("remote command", "GET", "/?cmd=" + q(";cat /etc/passwd"), {}),
]
BENIGN = ["/", "/index.html", "/?page=2&sort=name", "/?q=shoes"]
# Who sends what (loopback addresses, so "by whom" has an answer): visitors from ten
# addresses, attacks mostly from two, now and then from a third.
VISITORS = [f"127.0.0.{10 + i}" for i in range(10)]
ATTACKERS = ["127.0.0.66", "127.0.0.66", "127.0.0.66", "127.0.0.77", "127.0.0.77", "127.0.0.88"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crs", choices=["3", "4"], default="3",
                    help="3: Debian's CRS 3.3.4 (default); 4: ../shared/crs-4.28.0")
    ap.add_argument("--mpm", choices=["event", "prefork"], default="event")
    ap.add_argument("--benign", type=int, default=60, help="benign requests per vhost")
    ap.add_argument("--attacks", type=int, default=12, help="attack requests per vhost")
    ap.add_argument("--keep", action="store_true",
                    help="leave Apache, the collector and the dashboard running until Ctrl-C")
    args = ap.parse_args()
    if args.crs == "4" and crs4_dir() is None:
        print("CRS 4 not found (set MSO_CRS4_DIR or put crs-4.28.0 in ../shared/)")
        return 2

    b = build_dir()
    paths = dict(module=b / "mod_modsec_observe" / "mod_modsec_observe.so",
                 daemon=b / "collector" / "modsec-observed",
                 cli=b / "collector" / "modsec-observe",
                 snippet=repo_root() / "conf" / "modsec_observe_rules.conf")
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        print("missing (build first: cmake -S . -B build -G Ninja && ninja -C build):\n  "
              + "\n  ".join(missing))
        return 2

    vhosts = [VirtualHost("shop.test", "On"), VirtualHost("blog.test", "DetectionOnly")]
    print(f"starting modsec-observed and Apache (CRS {args.crs}, mpm_{args.mpm}) ...")
    http_port = free_port()
    state = short_temp_dir("msodemo-s")
    stack = start_stack(crs=args.crs, mpm=args.mpm, vhosts=vhosts, **paths,
                        collector_args=["--state-dir", str(state),
                                        "--http-listen", f"127.0.0.1:{http_port}",
                                        # as installed: the tests' pin of the ring is not
                                        # the demo's (sandbox.ring_for_tests)
                                        "--events-ring", "default"])
    ok = False
    try:
        port = stack.apache.port
        print(f"Apache on http://127.0.0.1:{port}/: shop.test (SecRuleEngine On), "
              f"blog.test (SecRuleEngine DetectionOnly)")
        rnd = random.Random(7)
        sent: dict[str, int] = {}
        statuses: dict[str, dict[int, int]] = {}
        plan = []
        for v in vhosts:
            plan += [(v.name, "GET", rnd.choice(BENIGN), {}, rnd.choice(VISITORS))
                     for _ in range(args.benign)]
            plan += [(v.name, *rnd.choice(ATTACKS)[1:], rnd.choice(ATTACKERS))
                     for _ in range(args.attacks)]
        rnd.shuffle(plan)
        for host, method, path, headers, client in plan:
            status = stack.apache.request(host, path, method=method, headers=headers,
                                          client=client).status
            sent[host] = sent.get(host, 0) + 1
            statuses.setdefault(host, {}).setdefault(status, 0)
            statuses[host][status] += 1
        for host in sent:
            print(f"  sent {sent[host]:4} requests to {host}: statuses "
                  + ", ".join(f"{s}: {n}" for s, n in sorted(statuses[host].items())))
        print("waiting for the per-vhost counters to be flushed ...")
        stack.wait_requests(sent)
        print(f"\n$ modsec-observe --socket {stack.collector.query_socket} stats\n")
        res = stack.cli("stats")
        print(res.stdout, end="")
        if res.returncode != 0:
            print(res.stderr, end="")
            return 1
        bad = stack.apache.unexpected_log_lines()
        if bad:
            print(f"\nwarning: {len(bad)} unexpected line(s) in Apache's error log, e.g.:\n  "
                  + "\n  ".join(bad[:5]))
            return 1
        print(f"\nDashboard: http://127.0.0.1:{http_port}/  (overview, per-vhost plots, "
              f"events, live view)"
              + ("" if args.keep else "; stops with the demo: run it with --keep to open it"))
        ok = True
        if args.keep:
            print(f"\nLeft running until Ctrl-C. Try:\n"
                  f"  {paths['cli']} --socket {stack.collector.query_socket} top\n"
                  f"  curl -H 'Host: shop.test' 'http://127.0.0.1:{port}/?id=1%27%20OR%201=1--'\n"
                  f"The dashboard listens on loopback only; from another machine:\n"
                  f"  ssh -L {http_port}:127.0.0.1:{http_port} THIS_HOST, then open "
                  f"http://127.0.0.1:{http_port}/ there")
            def interrupt(signum, frame):
                raise KeyboardInterrupt

            # Also SIGTERM, and SIGINT when started where it is ignored (a background job).
            signal.signal(signal.SIGINT, interrupt)
            signal.signal(signal.SIGTERM, interrupt)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                for sig in (signal.SIGINT, signal.SIGTERM):  # a second one: still clean up
                    signal.signal(sig, signal.SIG_IGN)
                print()
        return 0
    finally:
        stop_stack(stack, keep=True, quiet=True)
        print(f"\nstopped Apache and the collector. Files kept:\n"
              f"  Apache config and logs: {stack.apache.dir} (httpd.conf, logs/error.log, "
              f"logs/access.log)\n"
              f"  collector log:          {stack.collector.log}\n"
              f"  collector state:        {state} (state.json, history.db)"
              + ("" if ok else "\n(demo FAILED; see the logs above)"))


if __name__ == "__main__":
    sys.exit(main())
