"""The Prometheus endpoint end to end: real Apache + mod_security2 + CRS 3.3.4 +
mod_modsec_observe -> real modsec-observed --metrics-listen -> GET /metrics.

Known traffic goes to two vhosts (one blocking, one DetectionOnly); the exported counters
must equal `modsec-observe stats --json` exactly, the text must pass `promtool check
metrics` (its parser and its lint), and anything but GET /metrics must be a 404.
promtool comes from Debian's prometheus package, extracted by scripts/common.sh; without
it the promtool check is skipped, which fails in strict mode (scripts/test.sh, see
conftest.py).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from sandbox import VirtualHost, free_port, stop_stack

K = 6   # benign requests per vhost
N = 4   # SQL injections per vhost
SQLI_PATH = "/?id=" + urllib.parse.quote("1' OR 1=1--")
VHOSTS = [VirtualHost("shop.test", "On"), VirtualHost("blog.test", "DetectionOnly")]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def promtool() -> str | None:
    for candidate in (os.environ.get("MSO_PROMTOOL"),
                      "/opt/mso-tools/prometheus/usr/bin/promtool",
                      shutil.which("promtool")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """Samples by (name, labels). Label values are unescaped."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(
            (k, re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), v))
            for k, v in _LABEL.findall(m.group(2) or ""))
        key = (m.group(1), labels)
        assert key not in out, f"duplicate series: {line!r}"
        out[key] = float(m.group(3))
    return out


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def fetch(port: int, path: str = "/metrics", method: str = "GET") -> tuple[int, str, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=b"x=1" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


@pytest.fixture(scope="module")
def stack(stack_factory):
    s = stack_factory(crs="3", vhosts=VHOSTS, metrics_port=free_port())
    ok = False
    try:
        for v in VHOSTS:
            for _ in range(K):
                assert s.apache.request(v.name, "/").status == 200
            for _ in range(N):
                s.apache.request(v.name, SQLI_PATH)
        s.wait_requests({v.name: K + N for v in VHOSTS})
        yield s
        ok = True
    finally:
        stop_stack(s, keep=not ok)


def test_counters_equal_stats(stack):
    stats = stack.vhost_stats()
    status, content_type, text = fetch(stack.collector.metrics_port)
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    samples = parse(text)
    assert stats.keys() == {"shop.test", "blog.test"}
    for vhost, v in stats.items():
        assert v["requests"] == K + N
        for key, name in [("requests", "modsec_observe_requests_total"),
                          ("flagged", "modsec_observe_flagged_total"),
                          ("intercepted", "modsec_observe_intercepted_total"),
                          ("events_lost", "modsec_observe_events_lost_total"),
                          ("truncated_findings", "modsec_observe_truncated_findings_total")]:
            assert sample(samples, name, vhost=vhost) == v[key], (vhost, key)
        for code, count in v["status"].items():
            assert sample(samples, "modsec_observe_responses_total",
                          vhost=vhost, status=code) == count
        assert v["rules"], f"no rules matched on {vhost}"
        for rule in v["rules"]:
            labels = {"vhost": vhost, "rule_id": rule["id"], "severity": rule["severity"]}
            assert sample(samples, "modsec_observe_rule_hits_total", **labels) == rule["hits"]
            assert sample(samples, "modsec_observe_rule_matches_total",
                          **labels) == rule["matches"]
        exported = {dict(k[1])["rule_id"] for k in samples
                    if k[0] == "modsec_observe_rule_hits_total" and ("vhost", vhost) in k[1]}
        assert exported == {r["id"] for r in v["rules"]}
        assert sample(samples, "modsec_observe_rule_series_dropped", vhost=vhost) == 0
    assert sample(samples, "modsec_observe_intercepted_total", vhost="shop.test") == N
    assert sample(samples, "modsec_observe_intercepted_total", vhost="blog.test") == 0
    # Each vhost's configured SecRuleEngine, as `stats` says it.
    assert sample(samples, "modsec_observe_vhost_engine", vhost="shop.test", engine="on") == 1
    assert sample(samples, "modsec_observe_vhost_engine", vhost="blog.test",
                  engine="detection_only") == 1
    assert {v: s["engine"] for v, s in stats.items()} == {"shop.test": "on",
                                                           "blog.test": "detection_only"}
    assert sample(samples, "modsec_observe_flagged_total", vhost="blog.test") == N


def test_score_histograms(stack):
    stats = stack.vhost_stats()
    samples = parse(fetch(stack.collector.metrics_port)[2])
    for vhost, v in stats.items():
        name = "modsec_observe_inbound_anomaly_score"
        count = sample(samples, name + "_count", vhost=vhost)
        assert count == v["requests"] - v["events_without_scores"] - v["events_lost"]
        assert sample(samples, name + "_bucket", vhost=vhost, le="+Inf") == count
        # Clean requests score 0; each SQL injection scores at least the threshold, 5.
        assert sample(samples, name + "_bucket", vhost=vhost, le="0") == K
        assert sample(samples, name + "_sum", vhost=vhost) >= 5 * N
        buckets = sorted((float(dict(k[1])["le"]), value) for k, value in samples.items()
                         if k[0] == name + "_bucket" and ("vhost", vhost) in k[1])
        assert [c for _, c in buckets] == sorted(c for _, c in buckets)


def test_collector_health(stack):
    samples = parse(fetch(stack.collector.metrics_port)[2])
    health = stack.health()
    assert sample(samples, "modsec_observe_collector_vhosts") == health["vhosts"] == 2
    assert sample(samples, "modsec_observe_collector_ring_events") == health["ring_events"]
    assert 0 < sample(samples, "modsec_observe_collector_datagrams_total") <= health["datagrams"]
    assert sample(samples, "modsec_observe_collector_malformed_datagrams_total",
                  reason="not_json") == 0
    assert sample(samples, "modsec_observe_collector_bad_queries_total") == 0
    assert sample(samples, "process_resident_memory_bytes") > 1024 * 1024
    assert sample(samples, "process_start_time_seconds") > 1.6e9


def test_only_get_metrics_is_served(stack):
    port = stack.collector.metrics_port
    for path in ("/", "/metrics/", "/metricsx", "/../metrics", "/favicon.ico"):
        assert fetch(port, path)[0] == 404, path
    assert fetch(port, "/metrics", method="POST")[0] == 404
    assert fetch(port, "/metrics?x=1")[0] == 200


def test_promtool_accepts_output(stack):
    tool = promtool()
    if tool is None:
        pytest.skip("promtool not found (scripts/common.sh extracts it to /opt/mso-tools; "
                    "or set MSO_PROMTOOL)")
    text = fetch(stack.collector.metrics_port)[2]
    res = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(), (
        f"promtool check metrics ({res.returncode}):\n{res.stdout}{res.stderr}")


def test_sigterm_stops_collector_with_endpoint(stack):
    """Last: stops the collector. SIGTERM must end the daemon promptly, also while a
    client holds a metrics connection with half a request."""
    port = stack.collector.metrics_port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as held:
        held.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        # The client keeps sending a byte of its header now and then, so the server's
        # read timeout never ends the connection: a daemon that waited for it would not
        # exit at all, whatever the machine's speed, and the wait below would fail.
        trickling = threading.Event()

        def trickle() -> None:
            while not trickling.wait(0.5):
                try:
                    held.sendall(b"a")
                except OSError:
                    return

        keeper = threading.Thread(target=trickle, daemon=True)
        keeper.start()
        try:
            proc = stack.collector.proc
            assert proc is not None
            proc.terminate()
            assert proc.wait(timeout=60) == 0
        finally:
            trickling.set()
            keeper.join()
    stack.collector.proc = None
    assert "stopped" in stack.collector.log.read_text()


@pytest.mark.parametrize("value, status, message", [
    ("127.0.0.1", 2, "expected HOST:PORT"),
    ("localhost:9145", 2, "is not an IPv4 address"),
    ("::1:9145", 2, "is not an IPv4 address"),
    ("[::1]9145", 2, "expected [IPV6]:PORT"),
    ("127.0.0.1:0", 2, "invalid port"),
    ("127.0.0.1:65536", 2, "invalid port"),
    ("in use", 1, "Address already in use"),
])
def test_bad_listen_values(binaries, tmp_path, value, status, message):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        if value == "in use":
            value = f"127.0.0.1:{busy.getsockname()[1]}"
        res = subprocess.run([str(binaries.daemon), "--event-socket", str(tmp_path / "e.sock"),
                              "--query-socket", str(tmp_path / "q.sock"),
                              "--metrics-listen", value],
                             capture_output=True, text=True, timeout=10, check=False)
    assert res.returncode == status, res.stderr
    assert "--metrics-listen: " in res.stderr and message in res.stderr, res.stderr
    assert not (tmp_path / "e.sock").exists() and not (tmp_path / "q.sock").exists()
