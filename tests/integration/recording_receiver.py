"""A tiny HTTP(S) server that records what a client sends it (method, path, headers, raw
body), for looking at what libmodsecurity3's `SecAuditLogType HTTPS` writer really puts
on the wire. Answers every request with `status`; `hold()` makes it keep the next
requests unanswered until `release()` (to show who waits on the answer).

Standard library only (http.server + ssl); runs in a background thread on a free
127.0.0.1 port.
"""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox import free_port


@dataclass
class Recorded:
    method: str
    path: str
    version: str
    headers: list[tuple[str, str]]   # in wire order, names as sent
    body: bytes
    time: float                      # time.monotonic() when the body was read

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class RecordingReceiver:
    def __init__(self, *, cert: Path | None = None, key: Path | None = None,
                 status: int = 200, port: int | None = None) -> None:
        self.port = port or free_port()
        self.status = status
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with receiver._lock:
                    receiver.requests.append(Recorded(
                        self.command, self.path, self.request_version,
                        list(self.headers.items()), body, time.monotonic()))
                receiver._released.wait(timeout=120)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = _any

            def log_message(self, *args) -> None:   # quiet
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if cert and key:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(cert), str(key))
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> "RecordingReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def received(self) -> list[Recorded]:
        with self._lock:
            return list(self.requests)

    def wait_for(self, n: int, timeout: float = 60.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while len(self.received()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received()

    def __enter__(self) -> "RecordingReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
