#!/usr/bin/python3
"""A minimal stand-in for the ModSecurity console that mlogc uploads audit entries to.

mlogc (Debian's libapache2-mod-security2, /usr/bin/mlogc) sends each audit-log entry as
`PUT <ConsoleURI>` with HTTP Basic auth, `X-Content-Hash` and `X-ForensicLog-Summary`
headers and the raw entry as the body; 200 means stored (see ../../shared/docs/peers.md
or mlogc/mlogc.c in ModSecurity). This receiver answers 200 to such PUTs on 127.0.0.1,
counts entries and bytes, and keeps nothing. `GET /stats` returns the counts as JSON.
Requests it cannot accept (wrong path, method, credentials) get 4xx and are counted.

Used by apache_bench.py for configuration (e); also runnable on its own:
    bench/mlogc_receiver.py --port 8888 --user bench --password bench
Only the Python standard library is needed.
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECEIVER_PATH = "/rpc/auditLogReceiver"


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries = 0
        self.bytes = 0
        self.rejected = 0

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {"entries": self.entries, "bytes": self.bytes, "rejected": self.rejected}


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, user: str, password: str) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.expected_auth = f"Basic {token}"
        self.counts = Counts()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # mlogc (libcurl) keeps its connections open
    server: Receiver

    def _read_body(self) -> int:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return total
                total += len(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0") or "0")
        return len(self.rfile.read(length)) if length > 0 else 0

    def _answer(self, status: int, body: bytes = b"", ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
        size = self._read_body()
        ok = (self.path == RECEIVER_PATH
              and self.headers.get("Authorization") == self.server.expected_auth)
        with self.server.counts.lock:
            if ok:
                self.server.counts.entries += 1
                self.server.counts.bytes += size
            else:
                self.server.counts.rejected += 1
        self._answer(200 if ok else 403)

    def do_GET(self) -> None:  # noqa: N802
        if self.path != "/stats":
            self._answer(404)
            return
        self._answer(200, json.dumps(self.server.counts.snapshot()).encode(),
                     "application/json")

    def log_message(self, fmt: str, *args) -> None:   # quiet: one line per entry is noise
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="bench")
    ap.add_argument("--password", default="bench")
    args = ap.parse_args()
    server = Receiver(args.port, args.user, args.password)
    print(f"mlogc receiver on http://127.0.0.1:{server.server_port}{RECEIVER_PATH}",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
