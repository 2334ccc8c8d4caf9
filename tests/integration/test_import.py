"""`modsec-observe import` against a real collector with a history store: every audit log
captured from the real programs in tests/data/audit (v2 Native Serial, Concurrent index
and storage directory, v2 JSON Serial and Concurrent, v3 JSON and Native, the New York
offset file) is stored with the rule ids, engine mode, Host and times the error logs and
access logs recorded (expected.json); importing again adds nothing; .gz, directories,
an index and stdin work; a truncated and hostile file is reported with byte offsets and
the rest imported; entries older than the store keeps are reported, not stored; the
exit status says what happened. The stored rows are read with
python's sqlite3 module, read-only, beside the running collector (WAL).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sqlite3
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from sandbox import Collector, VirtualHost, free_port, repo_root, short_temp_dir, stored_rules

AUDIT = repo_root() / "tests" / "data" / "audit"
EXPECTED = json.loads((AUDIT / "expected.json").read_text())
# What to import for each capture: its file, or the Concurrent directory (index + storage).
CAPTURES = sorted(EXPECTED)
TIMEOUT = 120.0


def entries_in(capture: str) -> int:
    # nginx: one request's first transaction writes alerts but no audit entry (README).
    return len(EXPECTED[capture]) - (1 if capture.startswith("v3_") else 0)


@pytest.fixture
def collector(binaries):
    state = short_temp_dir("msoit-imp")
    c = Collector(binaries.daemon, binaries.cli, extra_args=["--state-dir", str(state)])
    c.start()
    c.state_dir = state
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(c.dir, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


def run_import(c: Collector, *args: str, stdin: bytes | None = None,
               socket_path: Path | None = None) -> tuple[int, dict | None, str]:
    """(exit status, the --json summary or None, stderr)."""
    sock = socket_path or c.query_socket
    p = subprocess.run([str(c.cli), "--socket", str(sock), "import", "--json", *args],
                       input=stdin, capture_output=True, timeout=TIMEOUT, check=False)
    out = p.stdout.decode(errors="replace")
    try:
        summary = json.loads(out) if out.strip() else None
    except json.JSONDecodeError:
        summary = None
    return p.returncode, summary, p.stderr.decode(errors="replace")


def events_by_uid(c: Collector) -> dict[str, dict]:
    """Every stored event: unique id -> source, vhost, engine mode, time, status, rules."""
    db = sqlite3.connect(f"file:{c.state_dir / 'history.db'}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute(
            "SELECT e.id, e.unique_id, src.text, coalesce(vh.text, ''), e.engine_mode, "
            "e.time_us, e.status FROM events e JOIN strings src ON src.id = e.source_id "
            "LEFT JOIN strings vh ON vh.id = e.vhost_id").fetchall()
        rules = stored_rules(db)
    finally:
        db.close()
    out = {}
    for row_id, uid, source, vhost, mode, time_us, status in rows:
        assert uid not in out, f"{uid} stored twice"
        out[uid] = {"source": source, "vhost": vhost, "mode": mode, "time_us": time_us,
                    "status": status, "rules": rules.get(row_id, set())}
    return out


def health(c: Collector) -> dict:
    p = c.cli_run("health", "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def capture_path(capture: str) -> Path:
    return AUDIT / capture


MODES = {"on": 1, "detection_only": 2}


def unique_id_second(uid: str) -> int:
    """The request's second in a mod_unique_id id: its first 32 bits, big-endian, in
    base64url (or the '@' variant's alphabet)."""
    last = "@-" if "@" in uid else "-_"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + last
    bits = 0
    for ch in uid[:6]:
        bits = (bits << 6) | alphabet.index(ch)
    return bits >> 4


def test_every_capture_is_imported_as_the_servers_logged_it(collector):
    total = 0
    for capture in CAPTURES:
        status, summary, err = run_import(collector, str(capture_path(capture)))
        assert status == 0, f"{capture}: exit {status}\n{err}"
        want = entries_in(capture)
        assert summary["entries"] == want, (capture, summary)
        assert summary["imported"] == want, (capture, summary)
        assert summary["duplicates"] == 0 and summary["malformed"] == 0, (capture, summary)
        assert summary["skipped_files"] == 0 and summary["errors"] == [], (capture, summary)
        total += want
    got = events_by_uid(collector)
    assert len(got) == total
    for capture in CAPTURES:
        source = "import:" + capture
        mine = {uid: e for uid, e in got.items() if e["source"] == source}
        assert len(mine) == entries_in(capture), capture
        for uid, e in mine.items():
            want = EXPECTED[capture][uid]
            assert e["rules"] == set(want["rules"]), (capture, uid)
            assert e["vhost"] == want["host"], (capture, uid)
            if not capture.startswith("v3_native"):  # v3 Native has no engine mode
                assert e["mode"] == MODES[want["engine"]], (capture, uid)
            if "status" in want:
                assert e["status"] == want["status"], (capture, uid)
            # Captured on 2 Dec 2026 (UTC), not the time of the import.
            assert 1_796_169_600_000_000 <= e["time_us"] < 1_796_256_000_000_000, (capture, uid)
            if len(uid) == 27:
                # Apache's: the log's local time (New York's "--0500" too) is the second
                # mod_unique_id put in the id, or the next (the id takes the request's
                # start, ModSecurity its own clock a moment later: seen 0.007 s past).
                late = e["time_us"] // 1_000_000 - unique_id_second(uid)
                assert 0 <= late <= 1, (capture, uid, late)
    h = health(collector)["import"]
    assert h["events"] == total and h["inserted"] == total
    assert h["duplicates"] == 0 and h["malformed"] == 0 and h["lost"] == 0


def test_importing_again_adds_nothing(collector):
    serial = capture_path("v2_native_serial.log")
    status, first, err = run_import(collector, str(serial))
    assert status == 0, err
    assert first["imported"] == 7
    before = events_by_uid(collector)
    # The same file under another source name, and the same requests' entries read again.
    status, again, err = run_import(collector, "--source", "again", str(serial))
    assert status == 0, err
    assert again["entries"] == 7 and again["imported"] == 0 and again["duplicates"] == 7
    assert events_by_uid(collector) == before
    assert health(collector)["import"]["duplicates"] == 7


def test_gz_directory_index_and_stdin(collector, tmp_path):
    # A logrotate-style .gz of a JSON Serial log.
    gz = tmp_path / "modsec_audit.log.1.gz"
    gz.write_bytes(gzip.compress((AUDIT / "v2_json_serial.log").read_bytes()))
    status, s, err = run_import(collector, str(gz))
    assert status == 0, err
    assert s["imported"] == 7
    # The Concurrent index file alone: its entries come from storage/ beside it.
    status, s, err = run_import(collector, str(AUDIT / "v2_native_concurrent" / "index"))
    assert status == 0, err
    assert s["imported"] == 7 and s["files"] == 7
    # The storage directory alone.
    status, s, err = run_import(collector, str(AUDIT / "v2_json_concurrent" / "storage"))
    assert status == 0, err
    assert s["imported"] == 7
    # stdin.
    status, s, err = run_import(collector, "-", stdin=(AUDIT / "v3_json.log").read_bytes())
    assert status == 0, err
    assert s["imported"] == 7
    got = events_by_uid(collector)
    sources = {e["source"] for e in got.values()}
    assert sources == {"import:modsec_audit.log.1.gz", "import:index", "import:storage",
                       "import:stdin"}


def test_vhost_map_labels_hosts(collector, tmp_path):
    labels = tmp_path / "labels"
    labels.write_text("# the module's labels\nDETECT.test  detect-label\n* other\n")
    status, s, err = run_import(collector, "--vhost-map", str(labels),
                                str(capture_path("v3_native.log")))
    assert status == 0, err
    got = events_by_uid(collector)
    for uid, e in got.items():
        host = EXPECTED["v3_native.log"][uid]["host"]
        assert e["vhost"] == ("detect-label" if host == "detect.test" else "other"), uid
    status, s, err = run_import(collector, "--vhost-map", str(labels), "--vhost", "x", "-")
    assert status == 2


def split_native_entries(text: bytes) -> list[bytes]:
    """The entries of a v2 Native Serial log, each from its A line through the blank line
    after its Z line."""
    out, current = [], b""
    for line in text.splitlines(keepends=True):
        if line.startswith(b"--") and line.rstrip().endswith(b"-A--") and current:
            out.append(current)
            current = b""
        current += line
    out.append(current)
    return out


def test_a_hostile_file_is_reported_with_offsets_and_the_rest_imported(collector, tmp_path):
    entries = split_native_entries((AUDIT / "v2_native_serial.log").read_bytes())
    assert len(entries) == 7
    garbage = b"\x00\xff GET /etc/passwd \x1b[2J not an entry\n"
    # An entry cut short at a line's end (no Z part): a crash while it was written.
    cut = entries[1][: entries[1].rindex(b"\n", 0, len(entries[1]) // 2) + 1]
    hostile = entries[0] + garbage + cut + entries[2] + entries[3]
    path = tmp_path / "hostile.log"
    path.write_bytes(hostile)
    status, s, err = run_import(collector, str(path))
    assert status == 3, err
    assert s["imported"] == 3
    assert s["malformed"] >= 2
    offsets = {e["offset"] for e in s["errors"]}
    assert len(entries[0]) in offsets  # the garbage, where it starts
    for e in s["errors"]:
        assert e["file"] == str(path)
    assert f"{path}:{len(entries[0])}:" in err
    assert "\x1b" not in err  # terminal escapes of the file are not passed through
    # A truncated file (cut in its last entry): what is whole is stored.
    trunc = tmp_path / "truncated.log"
    trunc.write_bytes(b"".join(entries[4:])[:-100])
    status, s, err = run_import(collector, str(trunc))
    assert status == 3, err
    assert s["imported"] == 2 and s["malformed"] == 1
    assert len(events_by_uid(collector)) == 5


def test_exit_statuses(collector, tmp_path):
    # A missing file: skipped, counted, exit 3; what exists is imported.
    status, s, err = run_import(collector, str(tmp_path / "missing.log"),
                                str(capture_path("v2_json_serial_k.log")))
    assert status == 3
    assert s["skipped_files"] == 1 and s["imported"] == 1
    assert "missing.log" in err
    # Not an audit log at all.
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    status, s, err = run_import(collector, str(other))
    assert status == 3 and s["skipped_files"] == 1
    # No collector.
    status, s, err = run_import(collector, str(capture_path("v2_json_serial_k.log")),
                                socket_path=tmp_path / "nothing.sock")
    assert status == 1, err
    # Bad usage: a vhost map that does not parse, no path.
    bad = tmp_path / "bad-map"
    bad.write_text("one two three\n")
    status, s, err = run_import(collector, "--vhost-map", str(bad), "-")
    assert status == 2 and f"{bad}:1:" in err
    p = collector.cli_run("import")
    assert p.returncode == 2


def test_entries_older_than_the_store_keeps_are_reported_not_stored(binaries):
    """With --history-days 1, entries captured days ago would be deleted at retention's
    next step: the import reports them (plain progress lines and summary when not on a
    terminal), stores none, and exits 3; health and /metrics count them."""
    state = short_temp_dir("msoit-impold")
    port = free_port()
    c = Collector(binaries.daemon, binaries.cli, metrics_port=port,
                  extra_args=["--state-dir", str(state), "--history-days", "1"])
    c.state_dir = state
    try:
        c.start()
        capture = capture_path("v2_native_serial.log")
        p = subprocess.run([str(c.cli), "--socket", str(c.query_socket), "import", str(capture)],
                           capture_output=True, timeout=TIMEOUT, check=False)
        out, err = p.stdout.decode(), p.stderr.decode()
        assert p.returncode == 3, (out, err)
        # stderr is a pipe: plain progress lines, no bar.
        assert re.search(r"^import: 7 entries, [0-9.]+ MB, [0-9.]+ MB/s$", err, re.M), err
        assert "\r" not in err and "[#" not in err
        assert re.search(r"^7 entries from 1 files \([0-9.]+ MB in [0-9.]+ s\): 0 imported, "
                         r"0 duplicates, 0 malformed$", out, re.M), out
        assert ("7 older than the collector keeps (--history-days 1): not stored; start "
                "modsec-observed with a larger --history-days (0: any age) to keep them") in out
        assert events_by_uid(c) == {}
        h = health(c)["import"]
        assert h["events"] == 7 and h["too_old"] == 7 and h["inserted"] == 0, h
        status, _, metrics = c.fetch_metrics()
        assert status == 200
        assert 'modsec_observe_collector_import_events_total{result="too_old"} 7' in metrics
        status, s, err = run_import(c, str(capture))
        assert status == 3 and s["too_old"] == 7 and s["history_days"] == 1, s
        assert s["imported"] == 0 and s["entries"] == 7, s
    finally:
        c.stop()
        shutil.rmtree(c.dir, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


def test_matched_data_keeps_what_it_is_told(collector):
    """--matched-data as the module's directive: matched data can hold passwords."""
    status, s, err = run_import(collector, "--matched-data", "truncate:8",
                                str(capture_path("v2_native_serial.log")))
    assert status == 0 and s["imported"] == 7, (s, err)
    cut = 0
    for uid in EXPECTED["v2_native_serial.log"]:
        p = collector.cli_run("event", uid, "--json")
        assert p.returncode == 0, p.stderr
        for f in json.loads(p.stdout)["event"]["rules"]:
            assert len(f["data"].encode()) <= 8, f
            cut += f.get("data_truncated", False)
    assert cut > 0
    status, s, err = run_import(collector, "--matched-data", "hash", "-", stdin=b"")
    assert status == 2 and "--matched-data: 'hash' is not full, truncate:N" in err


def test_import_without_history_is_refused(binaries):
    c = Collector(binaries.daemon, binaries.cli, extra_args=["--no-history"])
    with c:
        status, s, err = run_import(c, str(capture_path("v2_json_serial_k.log")))
        assert status == 1
        assert "no history" in err


def differential_requests(s) -> None:
    """Attacks of several rule families on a DetectionOnly and an On vhost, and clean
    requests (no module event; an audit log of every transaction has them)."""
    q = urllib.parse.quote
    sqli = "/?id=" + q("1' OR 1=1--")
    xss = "/search?q=" + q("<script>alert(1)</script>")
    for host, path in [("detect.test", sqli), ("block.test", sqli), ("block.test", xss),
                       ("detect.test", xss), ("detect.test", "/"),
                       ("detect.test", "/?file=" + q("../../../../etc/passwd")),
                       ("block.test", "/?cmd=" + q(";cat /etc/passwd")),
                       ("detect.test", "/?x=" + q("<?php system('id'); ?>")),
                       ("block.test", "/about")]:
        s.apache.request(host, path)
    s.apache.request("detect.test", "/", headers={"User-Agent": "Nikto/2.1.6"})
    s.apache.request("detect.test", "/login", method="POST",
                     headers={"Content-Type": "application/x-www-form-urlencoded"},
                     body=b"user=admin&pass=" + q("x' UNION SELECT password FROM users--")
                     .encode())


@pytest.mark.parametrize("crs,log", [("3", "native"), ("4", "json")],
                         ids=["crs3-native", "crs4-json"])
def test_entries_the_module_sent_add_nothing_and_carry_its_rule_ids(stack_factory, binaries,
                                                                    crs, log):
    """The same requests through Apache with the module and mod_security2's audit log
    (v2 Native Serial of the relevant transactions, or v2 JSON of every one): the log's
    entries the module also sent are duplicates of its events (Dedup::request), and
    imported into a collector of their own they carry the same rule ids, status, vhost
    and engine mode per unique id; the other entries (clean requests) have no rule."""
    state = short_temp_dir("msoit-impm")
    s = stack_factory(crs=crs, vhosts=[VirtualHost("detect.test", "DetectionOnly"),
                                       VirtualHost("block.test", "On")],
                      audit_log=log == "native", audit_json=log == "json",
                      collector_args=["--state-dir", str(state)])
    s.collector.state_dir = state
    other = None
    try:
        differential_requests(s)
        s.apache.wait_access_lines(11)
        # The module sends an event per flagged request: the nine attacks.
        module: dict[str, dict] = {}
        deadline = time.monotonic() + 60
        while len(module) < 9 and time.monotonic() < deadline:
            time.sleep(0.5)
            module = {u: e for u, e in events_by_uid(s.collector).items()
                      if e["source"] == "module"}
        assert len(module) == 9, module
        log_path = (s.apache.dir / "logs" / "modsec_audit.log" if log == "native"
                    else s.apache.audit_json_log)
        status, summary, err = run_import(s.collector, str(log_path))
        assert status == 0, err
        assert summary["duplicates"] == len(module), summary
        clean = summary["entries"] - len(module)
        assert summary["imported"] == clean, summary
        assert clean == (0 if log == "native" else 2), summary
        assert set(module) <= set(events_by_uid(s.collector))
        # The differential: the log alone, in another collector.
        other_state = short_temp_dir("msoit-impo")
        other = Collector(binaries.daemon, binaries.cli,
                          extra_args=["--state-dir", str(other_state)])
        other.start()
        other.state_dir = other_state
        status, summary, err = run_import(other, str(log_path))
        assert status == 0, err
        imported = events_by_uid(other)
        assert set(module) <= set(imported)
        for uid, e in module.items():
            for key in ("rules", "status", "vhost", "mode"):
                assert imported[uid][key] == e[key], (uid, key, imported[uid], e)
        for uid in set(imported) - set(module):
            assert imported[uid]["rules"] == set(), (uid, imported[uid])
    finally:
        if other is not None:
            other.stop()
            shutil.rmtree(other.dir, ignore_errors=True)
            shutil.rmtree(other.state_dir, ignore_errors=True)
        s.apache.stop()
        s.collector.stop()
        shutil.rmtree(state, ignore_errors=True)
