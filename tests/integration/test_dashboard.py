"""The dashboard end to end, in a real browser: real Apache + mod_security2 + CRS 3.3.4 +
mod_modsec_observe -> real modsec-observed --http-listen (with history) -> Debian's
chromium driven by playwright-core (tests/browser/dashboard.mjs).

Known traffic goes to a blocking vhost and to a vhost that receives hostile requests
(script in the path, the user agent, an argument and so the matched data). The browser
script walks every view and compares what it shows with the API's answers; this file
checks its report: no failed check, no console error, hostile text shown and never run.
Screenshots land in $MSO_BUILD_DIR/dashboard-screenshots. The HTTP rules that need no
browser (methods, headers, the loopback rule) are checked here directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from sandbox import (Collector, VirtualHost, build_dir, free_port, repo_root, short_temp_dir,
                     stop_stack)
from test_tuning import VHOST as TUNING_VHOST
from test_tuning import benign_round

BROWSER_DIR = repo_root() / "tests" / "browser"
CHROMIUM = os.environ.get("MSO_CHROMIUM", "/usr/bin/chromium")
SHOP, HOSTILE = "shop.test", "hostile.test"
# test_tuning's benign false positives from 30 clients: a vhost with proposals.
TUNED = TUNING_VHOST
VHOSTS = [VirtualHost(SHOP, "On"), VirtualHost(HOSTILE, "DetectionOnly"),
          VirtualHost("quiet.test", "DetectionOnly"), VirtualHost(TUNED, "DetectionOnly")]
SQLI = "/search?id=" + urllib.parse.quote("1' OR 1=1--")
SQLI_RULE = "942100"
IMG = "<img src=x onerror=window.__xss=1>"
SCRIPT = '"><script>window.__xss=1</script>'
# (path as sent, extra headers): each carries a payload a careless view would run.
HOSTILE_REQUESTS = [
    # The path alone may not be flagged: an SQL injection in the arguments makes sure.
    ("/" + urllib.parse.quote(IMG) + "?id=" + urllib.parse.quote("1' OR 1=1--"), {}),
    ("/agent?id=" + urllib.parse.quote("1' OR 1=1--"), {"User-Agent": SCRIPT}),
    ("/arg?q=" + urllib.parse.quote(IMG), {}),
    ("/arg2?q=" + urllib.parse.quote(SCRIPT), {}),
    # A hostile argument name carrying the injection: a hostile target of SQLI_RULE.
    ("/name?" + urllib.parse.quote(IMG) + "=" + urllib.parse.quote("1' OR 1=1--"), {}),
]


def fetch(port: int, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=b"x=1" if method in ("POST", "PUT") else None)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def wait_api(port: int, path: str, ready, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = fetch(port, path)
        doc = json.loads(body) if status == 200 else {}
        if (status == 200 and ready(doc)) or time.monotonic() > deadline:
            return doc
        time.sleep(0.3)


@pytest.fixture(scope="module")
def stack(stack_factory):
    state = short_temp_dir("msoit-d")
    port = free_port()
    s = stack_factory(crs="3", vhosts=VHOSTS, collector_args=[
        "--state-dir", str(state), "--http-listen", f"127.0.0.1:{port}"])
    s.http_port = port
    ok = False
    try:
        for _ in range(5):
            assert s.apache.request(SHOP, "/").status == 200
            assert s.apache.request(SHOP, SQLI).status == 403
        assert s.apache.request("quiet.test", "/").status == 200
        for path, headers in HOSTILE_REQUESTS:
            s.apache.request(HOSTILE, path, headers=headers)
        benign = benign_round(s.apache.port, "3")  # 30 flagged form posts, 30 clean pages
        assert all(status != 403 for status in benign.values())
        s.wait_requests({SHOP: 10, HOSTILE: len(HOSTILE_REQUESTS), "quiet.test": 1,
                         TUNED: len(benign)})
        # Paging needs history: wait until the writer has every event.
        wait_api(port, "/api/health",
                 lambda d: d["history"]["written"] >= 5 + len(HOSTILE_REQUESTS) + len(benign) // 2)
        yield s
        ok = True
    finally:
        stop_stack(s, keep=not ok)
        if ok:
            shutil.rmtree(state, ignore_errors=True)


def test_api_answers_like_the_socket(stack):
    status, headers, body = fetch(stack.http_port, f"/api/stats?vhost={SHOP}")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body)["vhosts"] == [stack.vhost_stats()[SHOP]]
    status, _, body = fetch(stack.http_port, "/api/events?status=42")
    assert status == 400
    assert json.loads(body)["error"] == '"status" must be an HTTP status code from 100 to 999'
    status, _, body = fetch(stack.http_port, "/api/nosuch")
    assert status == 400 and "unknown" in json.loads(body)["error"]


def test_timeseries_of_a_list_equals_the_answers_per_vhost(stack):
    """`vhosts` (the Overview's sparklines, one request a page): the series of the listed
    vhosts only, each as its own `vhost` request answers; a listed vhost without one has
    empty points. From memory (the last hour) and from history (48 hours of minutes)."""
    names = [SHOP, HOSTILE, "quiet.test", "nobody.test", SHOP]
    listed_query = "&".join("vhosts=" + urllib.parse.quote(n) for n in names)

    def answer(query: str) -> dict:
        status, _, body = fetch(stack.http_port, "/api/timeseries?" + query)
        assert status == 200, body
        return json.loads(body)

    for window, source in (("3600", None), ("172800", "history")):
        suffix = f"&window={window}&resolution=minute"
        # Counter reports may still land between the requests: compare a settled state.
        for _ in range(20):
            listed = answer(listed_query + suffix)
            each = {n: answer(f"vhost={urllib.parse.quote(n)}" + suffix) for n in set(names)}
            if answer(listed_query + suffix) == listed:
                break
            time.sleep(0.5)
        assert listed.get("from") == source and all(a.get("from") == source for a in each.values())
        assert sorted(s["vhost"] for s in listed["series"]) == sorted(set(names)), listed
        for name, one in each.items():
            mine = [s for s in listed["series"] if s["vhost"] == name]
            if one["series"]:
                assert mine == one["series"], name
            else:  # an unknown vhost; in history also one without points in the window
                assert mine == [{"vhost": name, "resolution": "minute", "points": []}], name
        assert each[SHOP]["series"][0]["points"], each[SHOP]
        assert each["nobody.test"]["series"] == []

    status, _, body = fetch(stack.http_port, f"/api/timeseries?vhost={SHOP}&vhosts={SHOP}")
    assert status == 400
    assert json.loads(body)["error"] == ('"vhost" and "vhosts" cannot be combined '
                                         '(list the one vhost in "vhosts")')
    status, _, body = fetch(stack.http_port, f"/api/timeseries?vhosts={SHOP}&window=1h&window=2h")
    assert status == 400 and json.loads(body)["error"] == '"window" is given more than once'


def test_read_only_and_strict_headers(stack):
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = fetch(stack.http_port, "/api/stats", method)
        assert status == 405, method
        assert headers["allow"] == "GET, HEAD"
    status, headers, body = fetch(stack.http_port, "/")
    assert status == 200 and b'src="/app.js"' in body
    assert headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    status, _, body = fetch(stack.http_port, "/metrics")
    assert status == 200 and b"modsec_observe_requests_total" in body


def directive_lines(text: str) -> list[str]:
    """The lines of an exclusion file that are neither comments, blank, nor part of a
    rule the renderer wrote (`SecRule ` and its indented continuation lines)."""
    return [line for line in text.split("\n")
            if line and not line.startswith(("#", "SecRule ", "    "))]


def test_tune_file_is_the_exclusion_file(stack):
    """/api/tune_file: the exclusion file of the tuned vhost's proposals, as a download;
    the vhost's name in the file name only when it is a safe host name."""
    status, headers, body = fetch(stack.http_port,
                                  f"/api/tune_file?vhost={TUNED}&window=1h&id_range=20000-20999")
    text = body.decode()
    assert status == 200, text
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["content-disposition"] == \
        f'attachment; filename="modsec-observe-exclusions-{TUNED}.conf"'
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert f'SecRule SERVER_NAME "@streq {TUNED}"' in text
    assert "ctl:ruleRemoveTargetById=941100;ARGS:body" in text
    assert '"id:20000,' in text and "Rendered by the dashboard" in text
    assert directive_lines(text) == []
    # HEAD: the headers without the body.
    status, headers, body = fetch(stack.http_port, f"/api/tune_file?vhost={TUNED}", "HEAD")
    assert status == 200 and body == b"" and "attachment" in headers["content-disposition"]
    # Bad parameters: 400 with the reason, nothing rendered.
    for query, reason in [("vhost=" + TUNED + "&id_range=900000-900001", "id_range: expected"),
                          ("vhost=" + TUNED + "&window=lots", "window"),
                          ("window=1h", "tune needs"),
                          ("vhost=" + TUNED + "&nosuch=1", "nosuch")]:
        status, headers, body = fetch(stack.http_port, "/api/tune_file?" + query)
        assert status == 400, (query, body)
        assert reason in json.loads(body)["error"], (query, body)
        assert "content-disposition" not in headers


def test_tune_file_never_carries_request_data_as_a_directive(stack):
    """The hostile vhost's paths and argument names, and a hostile vhost parameter: every
    line of the file is a comment, blank, or a rule the renderer wrote."""
    status, _, body = fetch(stack.http_port, f"/api/tune_file?vhost={HOSTILE}&window=1h")
    assert status == 200 and directive_lines(body.decode()) == []
    evil = '"\r\nSecRuleEngine Off\n<script>x</script>\\'
    status, headers, body = fetch(stack.http_port,
                                  "/api/tune_file?window=1h&vhost=" + urllib.parse.quote(evil))
    text = body.decode()
    assert status == 200, text
    assert headers["content-disposition"] == 'attachment; filename="modsec-observe-exclusions.conf"'
    assert directive_lines(text) == [], text
    assert "SecRuleEngine Off" not in [line.strip() for line in text.split("\n")]


def test_refuses_a_non_loopback_address_without_insecure(binaries, tmp_path):
    base = short_temp_dir("msoit-x")
    args = [str(binaries.daemon), "--event-socket", str(base / "e.sock"),
            "--query-socket", str(base / "q.sock"), "--http-listen", "0.0.0.0:1"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    shutil.rmtree(base, ignore_errors=True)
    assert result.returncode != 0
    assert "--http-listen: 0.0.0.0:1 is not a loopback address" in result.stderr


def test_any_address_with_insecure(binaries):
    """--http-insecure is the way out of the refusal above: the collector starts on
    0.0.0.0 (reached here over loopback) and answers without credentials."""
    port = free_port()
    collector = Collector(binaries.daemon, binaries.cli,
                          extra_args=["--http-listen", f"0.0.0.0:{port}", "--http-insecure"])
    collector.start()
    try:
        health = wait_api(port, "/api/health", lambda a: a.get("ok") is True)
        assert health["ok"] is True
        status, headers, _ = fetch(port, "/")
        assert status == 200 and "frame-ancestors 'none'" in headers["content-security-policy"]
    finally:
        collector.stop()
    collector.remove_dir()  # kept, with its log, when the test failed


def run_browser(config: dict) -> dict:
    """Runs tests/browser/dashboard.mjs with `config`; its report."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing (scripts/common.sh installs chromium)", pytrace=False)
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail("tests/browser/node_modules is missing: run `npm ci` there "
                    "(scripts/common.sh does)", pytrace=False)
    result = subprocess.run(["node", str(BROWSER_DIR / "dashboard.mjs"), json.dumps(config)],
                            cwd=BROWSER_DIR, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_view_in_chromium(stack):
    shots = build_dir() / "dashboard-screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    config = {
        "url": f"http://127.0.0.1:{stack.http_port}",
        "apache_port": stack.apache.port, "vhost": SHOP, "xss_vhost": HOSTILE,
        "xss_texts": [IMG, SCRIPT], "rule": SQLI_RULE, "tuned_vhost": TUNED, "shots": str(shots),
        "chromium": CHROMIUM,
    }
    report = run_browser(config)
    print(json.dumps(report["facts"], indent=1))
    assert report["failures"] == [], "\n".join(report["failures"]) + "\n" + stack.diagnostics()
    assert report["console_errors"] == []
    facts = report["facts"]
    assert set(facts["overview_vhosts"]) == {SHOP, HOSTILE, "quiet.test", TUNED}
    assert facts["overview_sparklines"] == 4
    # Each row's requests, flagged, blocked and would-block as the API's (in the browser).
    assert set(facts["overview_counts"]) == set(facts["overview_vhosts"])
    assert int(facts["overview_counts"][SHOP].split(",")[0]) > 0
    # The Tuning view's six what-if cards and its threshold ladder (rows) as the API's.
    assert facts["tune_what_if"][0] == 6 and facts["tune_what_if"][1] > 0
    # As the vhosts' configuration sets SecRuleEngine (the module says it with its counts).
    assert facts["overview_engines"] == {SHOP: "On", HOSTILE: "DetectionOnly",
                                         "quiet.test": "DetectionOnly", TUNED: "DetectionOnly"}
    # Only the module sends here; its events count is at least every flagged request.
    assert [name for name, _ in facts["overview_sources"]] == ["module"]
    assert int(facts["overview_sources"][0][1].replace(",", "")) >= 10
    assert facts["exclusion_file_link"] == f"/api/tune_file?vhost={TUNED}&window=86400"
    assert facts["exclusion_file_has_rule"] and facts["exclusion_file_as_api"]
    assert facts["exclusion_file_copy"] in ("copied", "selected: press Ctrl+C to copy")
    assert facts["plot_series"] == 5 and facts["plot_painted"] > 0
    assert facts["plot_points"]["points"] == 1441
    assert facts["plot_points_30d"]["points"] == 721  # the picker's 30 days, hourly
    assert facts["vhost_engine"] == "SecRuleEngine On"  # SHOP's, as its configuration sets it
    assert "img" in facts["live_hostile_row"]  # the hostile path, shown (as text)
    assert facts["score_series"] == 3
    # The histogram's counts as the API's (checked in the browser): 10 requests on SHOP.
    assert facts["score_histogram_plotted"][1].split(",")[0] == "10"
    # Paranoia level 1 (the sandbox's): only PL 1's rules raise a score.
    assert facts["score_levels"] == [1] and facts["score_level_series"] == [3]
    assert facts["score_levels_quiet"] == "No score raised at PL 2, 3, 4."
    assert "module" in facts["health_sources"]
    assert facts["events_pages"] == [2, 2]
    # Each filter gave the API's list (checked in the browser); these narrowed it, so the
    # comparison was not of two full lists.
    assert {"path", "status", "intercepted", "grep"} <= set(facts["events_filters_narrowing"])
    # since=1d keeps every request of the test; until 2000-01-01 none.
    assert facts["events_since_until"][0] > 0 and facts["events_since_until"][1] == 0
    # Live: pausing and the filters are in the URL; filtered, only the matching request
    # of the three sent (another vhost, another rule) shows; a bookmark opens paused.
    assert facts["live_paused_hash"] == "#/live?paused=1"
    assert facts["live_resumed_hash"] == "#/live"
    assert facts["live_filter_hash"] == f"#/live?vhost={SHOP}&rule={SQLI_RULE}"
    assert facts["live_filtered_rows"] == 1
    assert facts["live_bookmark"] == facts["live_filter_hash"] + "&paused=1"
    assert facts["live_reloaded"] == {"vhost": SHOP, "rule": SQLI_RULE, "button": "Resume",
                                      "status": "paused"}
    assert facts["live_after_resume_hash"] == facts["live_filter_hash"]
    # 5 on shop.test, and the three hostile requests that carry the same injection.
    assert facts["events_by_rule"] == 8
    assert facts["xss_events"] == len(HOSTILE_REQUESTS)
    assert any("img" in path for path in facts["xss_paths"])  # the path payload was kept
    # The Rule view: both vhosts the rule matched on, the hostile path and target as text.
    assert set(facts["rule_vhosts"]) == {SHOP, HOSTILE}
    assert facts["rule_hits_in_window"] == 8
    assert facts["rule_hostile_path"] and facts["rule_hostile_target"]
    # Paths × targets: cells shown (each equal to the API's pair, checked in the browser),
    # the hostile target among the matrix's column heads, as text.
    assert facts["rule_pair_cells"] > 0 and facts["rule_hostile_pair_target"]
    # The Vhost view's four top lists as the API's (checked in the browser), none empty.
    assert set(facts["top_lists"]) == {"clients", "paths", "agents", "targets"}
    assert all(n > 0 for n in facts["top_lists"].values()), facts["top_lists"]
    # The event detail's fields as the API's (each finding's cells too, in the browser).
    assert facts["detail_fields"] == ["client", "status", "source", "engine", "verdict",
                                      "inbound score"]
    # Each malformed address was answered with its error (checked in the browser).
    assert len(facts["bad_addresses"]) == 8
    for name in ("overview", "vhost", "events", "event", "rule", "rule-hostile", "live", "health"):
        assert (shots / f"{name}.png").stat().st_size > 0


def test_overview_pages_a_thousand_vhosts(binaries):
    """1,000 vhosts (counter reports sent straight to the event socket, no Apache): the
    overview shows 50 a page, pages without repeats, and sorts across every page."""
    with dashboard_collector(binaries, history=False) as (collector, port):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            for i in range(1000):
                report = {"v": 1, "type": "counters", "vhost": f"site{i:04}.test", "port": 80,
                          "pid": 1, "requests": 1 + i % 7 + (500 if i == 123 else 0),
                          "status": {"200": 1 + i % 7 + (500 if i == 123 else 0)},
                          "events_lost": 0}
                s.sendto(json.dumps(report).encode(), str(collector.event_socket))
        doc = wait_api(port, "/api/vhosts", lambda d: len(d["vhosts"]) == 1000)
        assert len(doc["vhosts"]) == 1000
        shots = build_dir() / "dashboard-screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        config = {"mode": "overview_paging", "url": f"http://127.0.0.1:{port}",
                  "expect_vhosts": 1000, "busiest": "site0123.test", "shots": str(shots),
                  "chromium": CHROMIUM}
        report = run_browser(config)
        print(json.dumps(report["facts"], indent=1))
        assert report["failures"] == [] and report["console_errors"] == [], report
        assert report["facts"]["page_rows"] == 50
        # A sparkline per visible row, from one timeseries request listing exactly the
        # visible rows' vhosts.
        assert report["facts"]["spark_canvases"] == 50
        assert report["facts"]["spark_requests"] == 1
        assert report["facts"]["spark_vhosts"] == 50


def test_views_without_history(stack_factory):
    """--no-history: every view loads in chromium without an error, a console error or a
    refused API request; the vhost's lists and the rule's paths count since the start
    (and say so), Tuning says it needs the store, events and their detail come from memory."""
    state = short_temp_dir("msoit-n")
    port = free_port()
    s = stack_factory(crs="3", vhosts=[VirtualHost(SHOP, "On")], collector_args=[
        "--state-dir", str(state), "--no-history", "--http-listen", f"127.0.0.1:{port}"])
    ok = False
    try:
        for _ in range(3):
            assert s.apache.request(SHOP, SQLI).status == 403
        assert s.apache.request(SHOP, "/").status == 200
        s.wait_requests({SHOP: 4})
        shots = build_dir() / "dashboard-screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        config = {"mode": "no_history", "url": f"http://127.0.0.1:{port}",
                  "apache_port": s.apache.port, "vhost": SHOP, "rule": SQLI_RULE,
                  "shots": str(shots), "chromium": CHROMIUM}
        report = run_browser(config)
        print(json.dumps(report["facts"], indent=1))
        assert report["failures"] == [], "\n".join(report["failures"]) + "\n" + s.diagnostics()
        assert report["console_errors"] == []
        facts = report["facts"]
        assert facts["history_enabled"] is False
        assert facts["refused"] == []
        assert facts["overview_sparklines"] == 1
        for window in ("24h", "30d"):
            assert f"count since the collector started, not over {window}" in \
                facts[f"vhost_{window}_note"]
            assert facts[f"vhost_{window}_clients"] == 1  # 127.0.0.1
        assert facts["rule_where"] == "Where it matched (since the collector started)"
        assert facts["rule_sections"] == [SHOP]
        assert facts["events_rows"] == 3 and facts["event_findings"] > 0
        for key in ("tuning_note", "tuning_vhost_note"):
            assert "keeps no history (--no-history" in facts[key]
        ok = True
    finally:
        stop_stack(s, keep=not ok)
        if ok:
            shutil.rmtree(state, ignore_errors=True)


@contextlib.contextmanager
def dashboard_collector(binaries, history: bool = True):
    """A collector alone (no Apache) serving the dashboard, with history in a state dir of
    its own unless `history` is False: (collector, HTTP port) once the dashboard answers
    (its start waits for the sockets only). Its files are removed when the test passed."""
    state = short_temp_dir("msoit-d") if history else None
    port = free_port()
    collector = Collector(binaries.daemon, binaries.cli, extra_args=[
        *(["--state-dir", str(state)] if state else []),
        "--http-listen", f"127.0.0.1:{port}"]).start()
    ok = False
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                fetch(port, "/api/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, collector.log_text()
                time.sleep(0.2)
        yield collector, port
        ok = True
    finally:
        collector.stop()
        if ok:
            shutil.rmtree(collector.dir, ignore_errors=True)
            if state:
                shutil.rmtree(state, ignore_errors=True)


def module_event_template() -> bytes:
    """A CRS 3 module event (942100 on block.test), stamped now."""
    template = (repo_root() / "tests/fuzz/corpus/event_decoder/crs3-request-1-event.json"
                ).read_bytes().strip()
    return template.replace(b'"time_us":1763739600123456',
                            b'"time_us":%d' % int(time.time() * 1e6))


# Names a sensor or an import chooses, each a payload: a vhost label sent by a sensor (here
# in a module datagram), and an import's vhost label and source name.
SENSOR_VHOST = IMG + ".sensor"
IMPORT_VHOST = SCRIPT + ".import"
IMPORT_SOURCE = "import:" + IMG


def test_hostile_vhost_labels_and_source_names_are_text(binaries, tmp_path):
    """Vhost labels and source names come from sensors and imports, not from this Apache:
    a label and a source name that are payloads are shown as text on the Overview (vhosts
    and sources), the Vhost, Rule, Events, Event, Tuning, Health and Live views (with a
    path that is a payload too), and never run."""
    with dashboard_collector(binaries) as (collector, port):
        stamped = module_event_template().replace(b'"vhost":"block.test"',
                                                  b'"vhost":' + json.dumps(SENSOR_VHOST).encode())
        head, tail = stamped.split(b'"unique_id":"aR9xAAAB"', 1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            for i in range(3):
                s.sendto(head + b'"unique_id":"n%07d"' % i + tail, str(collector.event_socket))
        # One v2 JSON audit-log entry of now, imported under the hostile label and source.
        entry = json.loads((repo_root() / "tests/data/audit/v2_json_serial.log")
                           .read_bytes().splitlines()[0])
        entry["transaction"]["time"] = time.strftime("%d/%b/%Y:%H:%M:%S.000000 +0000",
                                                     time.gmtime())
        entry["transaction"]["transaction_id"] = "hostile-import-1"
        log = tmp_path / "audit.log"
        log.write_text(json.dumps(entry) + "\n")
        imported = subprocess.run([str(binaries.cli), "--socket", str(collector.query_socket),
                                   "import", "--json", "--vhost", IMPORT_VHOST,
                                   "--source", IMPORT_SOURCE, str(log)],
                                  capture_output=True, text=True, timeout=120)
        assert imported.returncode == 0, imported.stderr
        assert json.loads(imported.stdout)["imported"] == 1, imported.stdout
        health = wait_api(port, "/api/health", lambda d: d["history"]["written"] >= 4)
        assert health["history"]["written"] == 4, health["history"]
        shots = build_dir() / "dashboard-screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        live = (head + b'"unique_id":"nlive"' + tail).replace(
            b'"path":"/"', b'"path":' + json.dumps("/live" + IMG).encode())
        config = {"mode": "hostile_names", "url": f"http://127.0.0.1:{port}",
                  "sensor_vhost": SENSOR_VHOST, "import_vhost": IMPORT_VHOST,
                  "import_source": IMPORT_SOURCE, "rule": SQLI_RULE, "shots": str(shots),
                  "event_socket": str(collector.event_socket), "live_datagram": live.decode(),
                  "chromium": CHROMIUM}
        report = run_browser(config)
        print(json.dumps(report["facts"], indent=1))
        assert report["failures"] == [] and report["console_errors"] == [], report
        facts = report["facts"]
        # Each view named the hostile strings literally (text equal to the payload).
        assert facts["overview_vhosts"] == [SENSOR_VHOST]
        assert facts["overview_history_sources"] == [IMPORT_SOURCE]
        assert facts["vhost_title"] == SENSOR_VHOST
        assert facts["rule_sections"] == sorted([SENSOR_VHOST, IMPORT_VHOST])
        assert facts["events_vhosts"] == [IMPORT_VHOST]
        assert facts["event_fields"]["vhost"] == f"{IMPORT_VHOST}:{entry['transaction']['local_port']}"
        assert facts["event_fields"]["source"] == IMPORT_SOURCE
        assert SENSOR_VHOST in facts["tuning_vhosts"]
        assert facts["health_has_sources"]
        # Live: the label and the path, as text.
        assert facts["live_row"][1] == SENSOR_VHOST
        assert facts["live_row"][3].startswith("GET /live" + IMG + "?")


def test_rule_view_says_since_when_its_lists_count(binaries):
    """A rule with more than 100,000 hits in the window (module datagrams straight to the
    event socket, no Apache): history counts its paths and targets over the newest hits
    only, and the Rule view says since when, as the API's `top_since`."""
    head, tail = module_event_template().split(b'"unique_id":"aR9xAAAB"', 1)
    with dashboard_collector(binaries) as (collector, port):
        total, batch = 100_500, 10_000
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            for first in range(0, total, batch):
                for i in range(first, min(total, first + batch)):
                    s.sendto(head + b'"unique_id":"t%07d"' % i + tail, str(collector.event_socket))
                # Paced by the history writer (its queue holds 100,000).
                wait_api(port, "/api/health",
                         lambda d, n=min(total, first + batch): d["history"]["written"] >= n,
                         timeout=300)
        health = wait_api(port, "/api/health", lambda d: d["history"]["written"] >= total)
        assert health["history"]["written"] == total and health["history"]["queue_full"] == 0
        shots = build_dir() / "dashboard-screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        config = {"mode": "top_since", "url": f"http://127.0.0.1:{port}", "vhost": "block.test",
                  "rule": SQLI_RULE, "shots": str(shots), "chromium": CHROMIUM}
        report = run_browser(config)
        print(json.dumps(report["facts"], indent=1))
        assert report["failures"] == [] and report["console_errors"] == [], report
        facts = report["facts"]
        assert facts["api_hits"] == total and facts["api_top_since"]
        assert facts["notes"] == [f"Paths and targets of the hits since {facts['api_top_since']} "
                                  "(the newest ones)."]
        assert facts["paths"] == 1


def test_users_file_and_tls_guard_every_path(binaries):
    """--http-users with --http-tls-cert/key: HTTPS with the test CA's certificate (a
    client that does not trust the CA is refused); every path needs a user of the htpasswd
    file (401 with a Basic challenge otherwise, nothing answered); SIGHUP re-reads the
    file; and the file lets the dashboard listen beyond loopback without --http-insecure."""
    import base64
    import signal
    import ssl

    from test_console_mlogc import htpasswd, make_tls

    base = short_temp_dir("msoit-u")
    users = base / "users"
    htpasswd(users, {"admin": "first secret"})
    ca, cert, key = make_tls(base)
    trusting = ssl.create_default_context(cafile=str(ca))
    port = free_port()
    collector = Collector(binaries.daemon, binaries.cli,
                          extra_args=["--http-listen", f"0.0.0.0:{port}",
                                      "--http-users", str(users), "--http-tls-cert", str(cert),
                                      "--http-tls-key", str(key)]).start()

    def get(path: str, user: str | None = None, password: str = "",
            context: ssl.SSLContext = trusting) -> tuple[int, dict]:
        req = urllib.request.Request(f"https://127.0.0.1:{port}{path}")
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=60, context=context) as resp:
                resp.read()
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}

    ok = False
    try:
        # The collector's start waits for its sockets, not the dashboard: wait for it.
        deadline = time.monotonic() + 60
        while True:
            try:
                get("/")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, collector.log_text()
                time.sleep(0.2)
        assert "serving the dashboard on https://" in collector.log_text()
        # A client that does not trust the test CA gets no answer at all.
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            get("/", "admin", "first secret", context=ssl.create_default_context())
        for path in ("/", "/api/health", "/metrics", "/app.js"):
            status, headers = get(path)
            assert status == 401, path
            assert headers["www-authenticate"] == 'Basic realm="modsec-observe", charset="UTF-8"'
            assert get(path, "admin", "wrong")[0] == 401, path
            assert get(path, "nobody", "first secret")[0] == 401, path
            assert get(path, "admin", "first secret")[0] == 200, path
        # A new password in the file, then SIGHUP: the old one stops working.
        htpasswd(users, {"admin": "second secret"})
        mark = len(collector.log_text())
        collector.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while "reload: dashboard users" not in collector.log_text(mark):
            assert time.monotonic() < deadline, collector.log_text(mark)
            time.sleep(0.2)
        assert get("/api/health", "admin", "first secret")[0] == 401
        assert get("/api/health", "admin", "second secret")[0] == 200
        ok = True
    finally:
        collector.stop()
        if ok:
            shutil.rmtree(base, ignore_errors=True)
            collector.remove_dir()
