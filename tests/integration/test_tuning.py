"""From DetectionOnly to On with `modsec-observe tune` and `readiness` (issue 13), on a
real Apache + mod_security2 + CRS 3.3.4 and 4.28, the built module and the collector
with its history store.

A DetectionOnly vhost receives benign application traffic that triggers false positives
from many distinct clients (a CMS form posting HTML: 941xxx on ARGS:body; on CRS 4 also
a Matomo-style tracking request with `Expect: 100-continue`: 920450), each client on its
own loopback address (127.0.0.10 ...), and real attacks (SQL injection, XSS, path
traversal) from three others. Then:

- `tune` proposes exclusions for the false positives only, narrowly scoped, and
  `--check-config` runs Apache's configtest with the file included;
- the same vhost switched to `SecRuleEngine On` without the file blocks benign requests
  (the false positives are real) and the attacks;
- with the file included before the CRS: no benign request is blocked, and every attack
  that was blocked without the file is still blocked;
- `readiness` says, before: not ready as the vhost is now (`verdict_now`), ready after the
  exclusions (`verdict`: ready_after_exclusions); after: ready, both.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import crs_params
from sandbox import (APACHE_BIN, APACHE_MODULES, BROWSER_HEADERS, VirtualHost, free_port,
                     short_temp_dir, stop_stack)

VHOST = "app.test"
BENIGN_CLIENTS = [f"127.0.0.{i}" for i in range(10, 40)]   # 30 clients
ATTACKERS = ["127.0.0.201", "127.0.0.202", "127.0.0.203"]

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HTML_BODIES = [
    '<p>See <iframe src="https://www.youtube.com/embed/abc"></iframe></p>',
    '<p>Hello <a href="https://example.com/x">link</a> <img src="/a.png" onload="x"></p>',
    '<p>Hi <b>there</b></p><style>p{color:red}</style>',
]


def benign_requests(crs: str, n: int) -> list[tuple[str, str, dict, bytes | None]]:
    """What client number `n` sends: a CMS post with HTML, a clean page and, on CRS 4,
    a Matomo tracking request with `Expect: 100-continue` (920450)."""
    body = "title=Hello&body=" + urllib.parse.quote(HTML_BODIES[n % len(HTML_BODIES)])
    reqs = [("POST", "/node/add", FORM, body.encode()), ("GET", "/", {}, None)]
    if crs == "4":
        reqs.append(("POST", "/matomo.php", {**FORM, "Expect": "100-continue"},
                     b"idsite=1&rec=1&action_name=Home"))
    return reqs


ATTACKS = [
    ("GET", "/product?id=" + urllib.parse.quote("1' OR '1'='1"), {}, None),
    ("GET", "/search?q=" + urllib.parse.quote("<script>alert(1)</script>"), {}, None),
    ("GET", "/download?file=" + urllib.parse.quote("../../../../etc/passwd"), {}, None),
    ("GET", "/product?id=" + urllib.parse.quote("1 UNION SELECT password FROM users--"), {}, None),
]


def send(port: int, client: str, method: str, path: str, headers: dict,
         body: bytes | None) -> int:
    """One request from the loopback address `client`; its status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(client, 0))
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in {**BROWSER_HEADERS, "Host": VHOST, **headers}.items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def benign_round(port: int, crs: str) -> dict[tuple[str, str, str], int]:
    out = {}
    for n, client in enumerate(BENIGN_CLIENTS):
        for method, path, headers, body in benign_requests(crs, n):
            out[(client, method, path)] = send(port, client, method, path, headers, body)
    return out


def attack_round(port: int) -> dict[tuple[str, str], int]:
    out = {}
    for client in ATTACKERS:
        for method, path, headers, body in ATTACKS:
            out[(client, path)] = send(port, client, method, path, headers, body)
    return out


def cli_json(stack, *args: str, ok_codes=(0,)) -> dict:
    res = stack.collector.cli_run(*args, "--json", timeout=120)
    assert res.returncode in ok_codes, (args, res.returncode, res.stdout, res.stderr)
    return json.loads(res.stdout)


def wait_tune(stack, expected_events: int, timeout: float = 60) -> dict:
    """The tune answer once history holds every flagged request of the first phase."""
    deadline = time.monotonic() + timeout
    while True:
        doc = cli_json(stack, "tune", "--vhost", VHOST, "--window", "1h")
        if doc.get("events", 0) >= expected_events or time.monotonic() > deadline:
            return doc
        time.sleep(0.3)


def transcript(stack, crs: str, name: str, *args: str) -> None:
    """With MSO_TUNING_TRANSCRIPT=DIR: the text output of `modsec-observe ARGS` to
    DIR/NAME-crsN.txt (the real output docs/TUNING.md shows)."""
    out_dir = os.environ.get("MSO_TUNING_TRANSCRIPT")
    if out_dir:
        res = stack.collector.cli_run(*args, timeout=120)
        Path(out_dir, f"{name}-crs{crs}.txt").write_text(
            "$ modsec-observe " + " ".join(args) + "\n" + res.stdout + res.stderr)


def restart_apache(stack, engine: str, modsec_conf: str = "") -> None:
    stack.apache.stop()
    stack.apache.vhosts = [VirtualHost(VHOST, engine)]
    stack.apache.modsec_conf = modsec_conf
    stack.apache.start()


@pytest.mark.parametrize("crs", crs_params("3", "4"))
def test_tune_from_detection_only_to_on(crs, stack_factory):
    state = short_temp_dir("msoit-tune")
    http_port = free_port()
    stack = stack_factory(crs=crs, vhosts=[VirtualHost(VHOST, "DetectionOnly")],
                          collector_args=["--state-dir", str(state),
                                          "--http-listen", f"127.0.0.1:{http_port}"])
    failed = True
    try:
        port = stack.apache.port
        # Phase 1: DetectionOnly, benign traffic from 30 clients, attacks from 3.
        detection_benign = benign_round(port, crs)
        detection_attacks = attack_round(port)
        assert all(s != 403 for s in detection_benign.values())
        assert all(s != 403 for s in detection_attacks.values())
        flagged = len(BENIGN_CLIENTS) * (2 if crs == "4" else 1) + len(ATTACKERS) * len(ATTACKS)
        tune = wait_tune(stack, flagged)
        assert tune["events"] == flagged, (tune["events"], stack.diagnostics())
        assert tune["engine"] == "detection_only"
        assert tune["crs_version"] == crs

        # Every group is shown; the attacks' groups are labelled attacks.
        labels = {(g["rule"], g["target"], g["path"]): g["label"] for g in tune["groups"]}
        for (rule, target, path), label in labels.items():
            if path in ("/product", "/search", "/download"):
                assert label == "likely_attack", (rule, target, path)
        assert labels[("941100", "ARGS:body", "/node/add")] == "likely_false_positive"
        fp = next(g for g in tune["groups"] if g["rule"] == "941100" and g["path"] == "/node/add")
        assert fp["clients"] == len(BENIGN_CLIENTS)
        assert fp["reasons"] and "distinct clients" in fp["reasons"][0]

        # The proposals: the form field on its path, the Expect rule for the host only;
        # nothing for the attacks' rules, paths or targets.
        keys = {x["key"] for x in tune["exclusions"]}
        assert f"{VHOST} 941100 ARGS:body exact /node/add POST" in keys, keys
        if crs == "4":
            assert f"{VHOST} 920450 * any *" in keys, keys
        for x in tune["exclusions"]:
            assert x["host"] == VHOST
            assert x["path"] not in ("/product", "/search", "/download"), x
            assert x["match"] != "any" or x["rule"].startswith("920"), x
        w = tune["what_if"]
        assert w["benign_blocked"] == len(BENIGN_CLIENTS) * (2 if crs == "4" else 1)
        assert w["benign_blocked_after"] == 0, w
        assert w["attacks_caught"] == len(ATTACKERS) * len(ATTACKS)
        assert w["attacks_caught_after"] == w["attacks_caught"], w
        assert any("chain" in c for c in w["caveats"])
        # Per blocking paranoia level (the vhost runs PL 1; CRS logs the level of each
        # finding): at PL 1 the same would-block count as recorded, and none after.
        levels = {x["level"]: x for x in w["paranoia_levels"]}
        assert levels[1]["before"] == w["would_block"], levels
        assert levels[1]["after"] == w["would_block_after"], levels
        assert tune["verdict"] == "ready_after_exclusions", tune["reasons"]

        transcript(stack, crs, "readiness-before", "readiness", "--window", "1h")
        transcript(stack, crs, "tune", "tune", "--vhost", VHOST, "--window", "1h")
        before = cli_json(stack, "readiness", "--window", "1h")
        (entry,) = [v for v in before["vhosts"] if v["vhost"] == VHOST]
        assert entry["verdict"] == "ready_after_exclusions", entry
        assert entry["verdict_now"] == "not_ready", entry
        assert entry["would_block"] == flagged and entry["would_block_after"] == 12

        # The file, checked by Apache (the sandbox's apache2 -f httpd.conf -t).
        out = stack.apache.dir / "exclusions-before-crs.conf"
        res = stack.collector.cli_run(
            "tune", "--vhost", VHOST, "--window", "1h", "--output", str(out),
            "--id-range", "10000-10999", "--check-config", str(stack.apache.conf_path),
            "--apachectl", str(APACHE_BIN), "--json", timeout=120)
        assert res.returncode == 0, (res.stdout, res.stderr)
        written = json.loads(res.stdout)["file"]
        assert written["config_check"]["ok"], written["config_check"]
        assert "-c" in written["config_check"]["command"]
        text = out.read_text()
        assert "BEFORE the CRS" in text and f"Made for CRS {crs}" in text
        assert 'SecRule SERVER_NAME "@streq app.test"' in text
        assert "ctl:ruleRemoveTargetById=941100;ARGS:body" in text
        assert 'SecRule REQUEST_METHOD "@streq POST"' in text
        ids = written["ids"]
        assert all(10000 <= i <= 10999 for i in ids.values())
        # A rerun keeps the ids.
        again = stack.collector.cli_run("tune", "--vhost", VHOST, "--window", "1h",
                                        "--output", str(out), "--id-range", "10000-10999",
                                        "--json", timeout=120)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["file"]["ids"] == ids
        transcript(stack, crs, "tune-output", "tune", "--vhost", VHOST, "--window", "1h",
                   "--output", str(stack.apache.dir / "transcript.conf"), "--id-range",
                   "10000-10999", "--check-config", str(stack.apache.conf_path),
                   "--apachectl", str(APACHE_BIN))
        # A configuration Apache refuses with the file in it (no mod_security2 loaded,
        # so SecRule is unknown) leaves --output as it was and creates no new file.
        bare = stack.apache.dir / "bare.conf"
        bare.write_text(f'ServerRoot "{stack.apache.dir}"\nServerName localhost\n'
                        f'Listen 127.0.0.1:{free_port()}\nPidFile {stack.apache.dir}/bare.pid\n'
                        f'ErrorLog {stack.apache.dir}/bare-error.log\n'
                        f'LoadModule mpm_event_module {APACHE_MODULES}/mod_mpm_event.so\n')
        kept = out.read_text()
        fresh = stack.apache.dir / "never-written.conf"
        for target in (out, fresh):
            refused = stack.collector.cli_run(
                "tune", "--vhost", VHOST, "--window", "1h", "--output", str(target),
                "--check-config", str(bare), "--apachectl", str(APACHE_BIN), "--json",
                timeout=120)
            assert refused.returncode == 1, (refused.stdout, refused.stderr)
            report = json.loads(refused.stdout)["file"]
            assert not report["config_check"]["ok"] and not report["written"], report
            assert "SecRule" in report["config_check"]["output"], report
        assert out.read_text() == kept
        assert not fresh.exists()
        # The same where the configuration already includes --output: the new file is
        # tested in place and the previous one put back.
        included = stack.apache.dir / "included-exclusions.conf"
        included.write_text("# the admin's previous file\n")
        bare_incl = stack.apache.dir / "bare-incl.conf"
        bare_incl.write_text(bare.read_text() + f"Include {included}\n")
        refused = stack.collector.cli_run(
            "tune", "--vhost", VHOST, "--window", "1h", "--output", str(included),
            "--check-config", str(bare_incl), "--apachectl", str(APACHE_BIN), "--json",
            timeout=120)
        assert refused.returncode == 1, (refused.stdout, refused.stderr)
        report = json.loads(refused.stdout)["file"]
        assert report["config_check"]["already_included"], report
        assert not report["config_check"]["ok"] and not report["written"], report
        assert included.read_text() == "# the admin's previous file\n"
        # The dashboard's copy (/api/tune_file) is the same file from the same code: the
        # same exclusions with the same ids (the CLI's first run had no previous file
        # either); only the header differs (its window ends when it was asked, and it
        # says where to get ids kept across reruns).
        url = f"http://127.0.0.1:{http_port}/api/tune_file?vhost={VHOST}&window=1h" \
              "&id_range=10000-10999"
        with urllib.request.urlopen(url, timeout=120) as resp:
            assert resp.status == 200
            dashboard = resp.read().decode()
        body = text.index("\n# mso-exclusion ")
        assert dashboard[dashboard.index("\n# mso-exclusion "):] == text[body:]
        assert "Rendered by the dashboard" in dashboard and f"Made for CRS {crs}" in dashboard

        # Phase 2: On without the exclusions: the false positives block real users.
        restart_apache(stack, "On")
        port = stack.apache.port
        blocked_without = attack_round(port)
        assert all(s == 403 for s in blocked_without.values()), blocked_without
        benign_without = benign_round(port, crs)
        assert sum(s == 403 for s in benign_without.values()) >= len(BENIGN_CLIENTS)

        # Phase 3: On with the file included before the CRS. Phase 2's counts must have
        # arrived first (its children's reports), and be more than the window's rounding
        # (1 s) older than `mark`, so that the window below sees phase 3 only.
        stack.wait_requests({VHOST: stack.apache.access_count(VHOST)})
        time.sleep(2)
        mark = time.time()
        restart_apache(stack, "On", f"Include {out}\n")
        port = stack.apache.port
        benign_with = benign_round(port, crs)
        blocked = {k: s for k, s in benign_with.items() if s == 403}
        assert not blocked, blocked
        attacks_with = attack_round(port)
        for key, status in blocked_without.items():
            if status == 403:
                assert attacks_with[key] == 403, (key, attacks_with[key])

        # readiness over phase 3 only: the attacks are blocked, nothing else.
        deadline = time.monotonic() + 60
        while True:
            window = f"{int(time.time() - mark) + 1}s"
            after = cli_json(stack, "readiness", "--vhost", VHOST, "--window", window)
            (entry,) = after["vhosts"] or [{}]
            if entry.get("requests", 0) >= len(ATTACKERS) * len(ATTACKS) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert entry["engine"] == "on", entry
        assert entry["verdict"] == "ready", entry
        assert entry["verdict_now"] == "ready", entry
        transcript(stack, crs, "readiness-after", "readiness", "--vhost", VHOST, "--window", window)
        if os.environ.get("MSO_TUNING_TRANSCRIPT"):
            shutil.copy(out, Path(os.environ["MSO_TUNING_TRANSCRIPT"], f"file-crs{crs}.conf"))
        assert entry["benign_blocked"] == 0
        failed = False
    finally:
        stop_stack(stack, keep=failed)
        if not failed:
            shutil.rmtree(state, ignore_errors=True)
