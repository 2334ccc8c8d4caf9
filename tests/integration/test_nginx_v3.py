"""What real nginx + libmodsecurity 3.0.9 (`libnginx-mod-http-modsecurity`) + CRS send with
`SecAuditLogType HTTPS`, received by a recording HTTPS server (recording_receiver.py) with
a test CA, and whether our v3 JSON parser reads it as nginx's own error log tells it.

- The wire: one `POST /v3/<token>` per audit entry, `Content-Type: application/json`,
  `User-Agent: ModSecurity3`, `ModSec-unique-id` (the server id, not the transaction's),
  `ModSec-status` (the library version), no authentication; the body one JSON entry and
  a newline.
- Every request with an alert in the error log is posted once, with the same unique id
  and the same set of rule ids.
- `modsec-observe import` of the posted bodies stores each with the error log's rule ids,
  the server's Host and engine mode, the status the client got, and "intercepted" exactly
  for the requests the error log says were denied.
- TLS: the peer is verified (an untrusted CA or a certificate without 127.0.0.1 gets
  nothing); http:// URLs work too.
- The writer is synchronous in the nginx worker: while the receiver holds its answer, a
  clean request on another connection is not served; a refused connection loses the
  entry with nothing in nginx's error log.

MSO_V3_CAPTURE_DIR=DIR writes the CRS 3 bodies and the error log's facts there (how
tests/data/audit/v3_https/ was made).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import crs_params
from nginx_sandbox import NginxSandbox, nginx_available
from recording_receiver import RecordingReceiver
from sandbox import Collector, free_port, short_temp_dir, stored_rules
from tls_ca import make_test_ca
from v3_corpus import SQLI, Sent, Truth, error_log_truth, send_corpus

pytestmark = pytest.mark.skipif(nginx_available() is not None,
                                reason=str(nginx_available()))

TOKEN = "3q2-test-token_x"


@dataclass
class Capture:
    crs: str
    nginx: NginxSandbox
    posts: list
    sent: list[Sent]
    truth: dict[str, Truth]
    started: float   # time.time() before the first request
    ended: float     # and after the last post arrived


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_test_ca(tmp_path_factory.mktemp("ca"))


def capture(crs: str, tls) -> Capture:
    with RecordingReceiver(cert=tls.server_cert, key=tls.server_key) as rx:
        nginx = NginxSandbox(crs=crs, audit_log=rx.url(f"/v3/{TOKEN}"), ca_bundle=tls.ca_cert)
        try:
            nginx.start()
            started = time.time()
            sent = send_corpus(nginx)
            truth = error_log_truth(nginx)
            posts = rx.wait_for(len(truth))
            time.sleep(0.5)   # a surplus post would show now
            posts = rx.received()
            ended = time.time()
            assert nginx.unexpected_log_lines() == [], nginx.unexpected_log_lines()
        finally:
            nginx.stop()
    return Capture(crs, nginx, posts, sent, truth, started, ended)


@pytest.fixture(scope="module", params=crs_params("3", "4"))
def captured(request, tls):
    c = capture(request.param, tls)
    yield c
    if request.param == "3" and os.environ.get("MSO_V3_CAPTURE_DIR"):
        write_samples(c, Path(os.environ["MSO_V3_CAPTURE_DIR"]))
    shutil.rmtree(c.nginx.dir, ignore_errors=True)


def write_samples(c: Capture, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "posts.jsonl").write_bytes(b"".join(p.body for p in c.posts))
    statuses = {(s.host, s.target): s.status for s in c.sent}
    expected = {uid: {"host": t.host, "rules": sorted(t.rules), "denied": t.denied,
                      "status": statuses.get((t.host, t.target)),
                      "engine": {"block.test": "on", "detect.test": "detection_only"}
                      .get(t.host or "")}
                for uid, t in c.truth.items()}
    (out / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    (out / "headers.json").write_text(json.dumps(
        [{"method": p.method, "path": p.path, "version": p.version, "headers": p.headers,
          "body_bytes": len(p.body)} for p in c.posts], indent=1) + "\n")


def entry(post) -> dict:
    """The posted JSON; libmodsecurity copies request bytes raw (not valid UTF-8)."""
    return json.loads(post.body.decode("utf-8", "replace"))


def body_uid(post) -> str:
    return entry(post)["transaction"]["unique_id"]


# ------------------------------------------------------------------------ the wire

def test_each_entry_is_one_json_post_to_the_configured_path(captured):
    assert captured.posts, "nothing was posted"
    for p in captured.posts:
        assert (p.method, p.path, p.version) == ("POST", f"/v3/{TOKEN}", "HTTP/1.1")
        assert p.header("Content-Type") == "application/json"
        assert p.header("User-Agent") == "ModSecurity3"
        assert p.header("Authorization") is None
        assert p.header("ModSec-status") == "3090100"           # libmodsecurity 3.0.9
        doc = entry(p)
        assert p.header("ModSec-unique-id") == doc["transaction"]["server_id"]
        assert int(p.header("Content-Length")) == len(p.body)
        assert p.body.endswith(b"}\n") and p.body.count(b"\n") == 1
        assert doc["transaction"]["producer"]["connector"].startswith("ModSecurity-nginx")
    # The Latin-1 / invalid UTF-8 request body is posted as raw bytes.
    raw = [p for p in captured.posts if b"\xff\xfe" in p.body]
    assert len(raw) == 1
    with pytest.raises(UnicodeDecodeError):
        raw[0].body.decode("utf-8")


def test_every_flagged_request_is_posted_once_with_its_rule_ids(captured):
    uids = [body_uid(p) for p in captured.posts]
    assert len(uids) == len(set(uids)), "an entry was posted twice"
    assert set(uids) == set(captured.truth), "posted entries differ from the error log"
    for p in captured.posts:
        doc = entry(p)["transaction"]
        ids = {m["details"]["ruleId"] for m in doc["messages"]}
        assert ids == captured.truth[doc["unique_id"]].rules, doc["unique_id"]
    # Every request but the clean ones was flagged and posted.
    # and nothing else: the corpus' flagged requests, the clean ones not.
    assert len(captured.truth) == sum(1 for s in captured.sent if not s.clean)
    flagged = {(t.host, t.target) for t in captured.truth.values()}
    for s in captured.sent:
        if s.clean:
            assert (s.host, s.target) not in flagged, s


def test_the_parser_reads_what_nginx_posted(captured, binaries):
    state = short_temp_dir("msoit-imp")
    c = Collector(binaries.daemon, binaries.cli, extra_args=["--state-dir", str(state)])
    bodies = c.dir / "posts.jsonl"
    bodies.write_bytes(b"".join(p.body for p in captured.posts))
    c.start()
    try:
        p = subprocess.run([str(c.cli), "--socket", str(c.query_socket), "import", "--json",
                            "--source", "nginx", str(bodies)],
                           capture_output=True, text=True, timeout=120, check=False)
        assert p.returncode == 0, p.stderr + p.stdout
        summary = json.loads(p.stdout)
        assert summary["imported"] == len(captured.posts), summary
        assert summary["malformed"] == 0 and summary["errors"] == [], summary
        stored = stored_events(state / "history.db")
    finally:
        c.stop()
        shutil.rmtree(c.dir, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
    statuses = {(s.host, s.target): s.status for s in captured.sent}
    assert set(stored) == set(captured.truth)
    for uid, t in captured.truth.items():
        e = stored[uid]
        assert e["rules"] == t.rules, uid
        assert (e["verdict"] == 2) == t.denied, (uid, t, e)
        # time_stamp: nginx's local time (UTC here), whole seconds, read by ModSecurity with
        # time(), which glibc answers from the kernel's coarse clock: up to a tick (a few
        # ms) behind this test's time.time(), so a request sent just after a second began
        # can carry the second before (seen: started at ...464.003, stamped ...463).
        assert int(captured.started) - 1 <= e["time_us"] // 1_000_000 <= captured.ended, (uid, e)
        if t.host is None:   # the error log's lines were cut
            continue
        assert e["vhost"] == t.host, uid
        assert e["mode"] == (1 if t.host == "block.test" else 2), uid
        assert e["status"] == statuses[(t.host, t.target)], uid
        assert e["path"] == t.target.split("?")[0], uid


def stored_events(db_path: Path) -> dict[str, dict]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute(
            "SELECT e.id, e.unique_id, coalesce(vh.text, ''), e.engine_mode, e.status, "
            "e.verdict, e.path, e.query, e.time_us FROM events e "
            "LEFT JOIN strings vh ON vh.id = e.vhost_id").fetchall()
        rules = stored_rules(db)
    finally:
        db.close()
    return {uid: {"vhost": vhost, "mode": mode, "status": status, "verdict": verdict,
                  "path": path, "query": query, "time_us": time_us,
                  "rules": rules.get(row, set())}
            for row, uid, vhost, mode, status, verdict, path, query, time_us in rows}


# ---------------------------------------------------------------------------- TLS

@pytest.mark.parametrize("case", ["untrusted-ca", "wrong-name"])
def test_the_peer_certificate_is_verified(tls, case):
    cert, key = ((tls.server_cert, tls.server_key) if case == "untrusted-ca"
                 else (tls.wrong_name_cert, tls.wrong_name_key))
    # untrusted-ca: nginx trusts only the other CA; wrong-name: the right CA, but the
    # certificate names collector.invalid, not 127.0.0.1.
    bundle = tls.other_ca_cert if case == "untrusted-ca" else tls.ca_cert
    with RecordingReceiver(cert=cert, key=key) as rx:
        with NginxSandbox(audit_log=rx.url(f"/v3/{TOKEN}"), ca_bundle=bundle) as nginx:
            assert nginx.request("block.test", f"/index.html?{SQLI}").status == 403
            assert nginx.rule_ids_by_unique_id(), "the request was not flagged"
            time.sleep(2)
            assert rx.received() == []
            # Refused silently: no line about the failed upload in nginx's error log.
            assert nginx.unexpected_log_lines() == []
        shutil.rmtree(nginx.dir, ignore_errors=True)


def test_plain_http_urls_work():
    with RecordingReceiver() as rx:
        with NginxSandbox(audit_log=rx.url(f"/v3/{TOKEN}")) as nginx:
            nginx.request("block.test", f"/index.html?{SQLI}")
            posts = rx.wait_for(1)
            assert len(posts) == 1 and set(nginx.rule_ids_by_unique_id()) == {body_uid(posts[0])}
        shutil.rmtree(nginx.dir, ignore_errors=True)


# ---------------------------------------------------------------- synchronous writer

def test_the_worker_waits_for_the_collectors_answer():
    """One worker: while the receiver holds its answer to an entry, nginx serves no other
    request; the held entry's own response was already sent (the audit log is written in
    the log phase)."""
    with RecordingReceiver() as rx:
        with NginxSandbox(audit_log=rx.url(f"/v3/{TOKEN}"), workers=1) as nginx:
            rx.hold()
            assert nginx.request("block.test", f"/index.html?{SQLI}").status == 403
            rx.wait_for(1)
            done = threading.Event()
            result = {}

            def clean() -> None:
                result["status"] = nginx.request("detect.test", "/index.html").status
                done.set()

            t = threading.Thread(target=clean, daemon=True)
            t.start()
            assert not done.wait(3), "a clean request was served while the upload waited"
            rx.release()
            assert done.wait(60)
            assert result["status"] == 200
        shutil.rmtree(nginx.dir, ignore_errors=True)


def test_a_refused_upload_is_lost_without_a_trace():
    """No listener: the entry is gone (no queue, no retry) and nginx logs nothing about
    it; the next entry, once a listener is back, arrives alone."""
    port = free_port()
    with NginxSandbox(audit_log=f"http://127.0.0.1:{port}/v3/{TOKEN}") as nginx:
        assert nginx.request("block.test", f"/index.html?{SQLI}&n=lost").status == 403
        assert len(nginx.rule_ids_by_unique_id()) == 1
        # The upload runs in the log phase, after the response; nginx's one worker serves
        # the next request only once it has ended, so the listener below cannot catch it.
        assert nginx.workers == 1
        assert nginx.request("block.test", "/index.html?n=clean").status == 200
        assert nginx.unexpected_log_lines() == []
        with RecordingReceiver(port=port) as rx:
            assert nginx.request("block.test", f"/index.html?{SQLI}&n=kept").status == 403
            posts = rx.wait_for(1)
            time.sleep(2)   # a late retry of the first entry would show now
            posts = rx.received()
            assert len(posts) == 1
            assert entry(posts[0])["transaction"]["request"]["uri"].endswith("n=kept")
    shutil.rmtree(nginx.dir, ignore_errors=True)
