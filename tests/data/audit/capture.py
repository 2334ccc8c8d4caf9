#!/usr/bin/python3
"""Capture real ModSecurity audit logs into tests/data/audit/ for the importer's tests.

Run as root (Apache then drops to www-data):  /usr/bin/python3 tests/data/audit/capture.py
Starts sandboxed servers on free 127.0.0.1 ports (tests/integration/sandbox.py for Apache;
an nginx of its own here), sends the requests of REQUESTS to each, stops them and copies
the audit logs as they are, plus `expected.json`: for each file, the rule ids per unique id
as the server's *error log* lists them (an independent source: the parsers read the audit
log), the status from the access log, and the engine mode of the vhost. README.md says
what each file is.

Apache 2.4 + mod_security2 2.9.7 + CRS 3.3.4 (Debian), SecAuditEngine RelevantOnly:
  v2_native_serial.log             Native Serial, parts ABIJDEFHZ (no C, no K)
  v2_native_serial_kc_newyork.log  Native Serial, parts ABCIJDEFHKZ, TZ=America/New_York
                                   (3 requests: SMALL)
  v2_native_concurrent/            Native Concurrent: index + storage/ (ABCIJDEFHZ)
  v2_json_serial.log               JSON Serial, parts ABCIJDEFHZ
  v2_json_serial_k.log             JSON Serial, parts ABIJDEFHKZ (1 request)
  v2_json_concurrent/              JSON Concurrent: index + storage/ (ABIJDEFHZ)
nginx + libnginx-mod-http-modsecurity (libmodsecurity 3.0.9) + CRS 3.3.4, if installed:
  v3_json.log, v3_native.log       Serial, parts ABIJDEFHZ
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "integration"))
from sandbox import (CRS3_EXCLUSIONS_AFTER, CRS3_EXCLUSIONS_BEFORE, CRS3_RULES,  # noqa: E402
                     CRS3_SETUP, UNICODE_MAPPING, ApacheSandbox, VirtualHost, free_port,
                     short_temp_dir)

q = urllib.parse.quote
BOUNDARY = "----msoCaptureBoundary7MA4YWxkTrZu0gW"
MULTIPART = (f"--{BOUNDARY}\r\n"
             'Content-Disposition: form-data; name="comment"\r\n\r\n'
             "1' UNION SELECT password FROM users--\r\n"
             f"--{BOUNDARY}\r\n"
             'Content-Disposition: form-data; name="upload"; filename="a.txt"\r\n'
             "Content-Type: text/plain\r\n\r\n"
             "hello\r\n"
             f"--{BOUNDARY}--\r\n").encode()
# Latin-1 bytes, an invalid UTF-8 sequence and a NUL-free attack in a urlencoded body.
NON_UTF8 = b"name=caf\xe9\xff\xfe&q=%3Cscript%3Ealert(1)%3C/script%3E"

# (name, vhost, method, path, extra headers, body)
REQUESTS = [
    ("clean", "block.test", "GET", "/", {}, None),
    ("sqli-detect", "detect.test", "GET", "/?id=" + q("1' OR 1=1--"), {}, None),
    ("sqli-block", "block.test", "GET", "/?id=" + q("1' OR 1=1--"), {}, None),
    ("xss-404", "detect.test", "GET", "/missing.php?q=" + q("<script>alert(1)</script>"),
     {}, None),
    ("multipart", "block.test", "POST", "/upload",
     {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, MULTIPART),
    ("non-utf8", "detect.test", "POST", "/form",
     {"Content-Type": "application/x-www-form-urlencoded"}, NON_UTF8),
    ("quote-in-uri", "detect.test", "GET", '/a"b\\c?file=../../../../etc/passwd', {}, None),
    ("scanner-ua", "block.test", "GET", "/",
     {"User-Agent": "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)"}, None),
]

ENGINE = {"detect.test": "detection_only", "block.test": "on"}
_ID = re.compile(r'\[id "(\d+)"\]')
_UID = re.compile(r'\[unique_id "([^"]+)"\]')


# The subset sent where part K (the matched rules' source, ~30 KB per entry with CRS)
# would make the file large.
SMALL = {"sqli-block", "multipart", "non-utf8"}


def send_all(send, only: set[str] | None = None) -> None:
    for name, host, method, path, headers, body in REQUESTS:
        if only and name not in only:
            continue
        status = send(host, path, method, headers, body)
        print(f"  {name:14} {host:12} -> {status}")


def alerts_by_uid(error_log: Path) -> dict[str, list[str]]:
    """Rule ids per unique id, in log order, from the ModSecurity lines of an error log."""
    out: dict[str, list[str]] = {}
    for line in error_log.read_text(errors="replace").splitlines():
        if "ModSecurity: " not in line:
            continue
        uid = _UID.search(line)
        rid = _ID.search(line)
        if uid:
            out.setdefault(uid.group(1), []).append(rid.group(1) if rid else "")
    return out


# ------------------------------------------------------------------- Apache (v2)

def apache_capture(name: str, audit_conf: str, out: Path, tz: str | None = None,
                   only: set[str] | None = None) -> dict:
    vhosts = [VirtualHost("detect.test", "DetectionOnly"), VirtualHost("block.test", "On")]
    old_tz = os.environ.get("TZ")
    if tz:
        os.environ["TZ"] = tz
    sb = ApacheSandbox(crs="3", vhosts=vhosts, log_level="warn",
                       extra_conf='LogFormat "%{UNIQUE_ID}e %>s %v" mso_uid\n'
                                  "CustomLog logs/uid.log mso_uid\n")
    storage = sb.dir / "audit"
    storage.mkdir(parents=True)
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("www-data")
        os.chown(storage, pw.pw_uid, pw.pw_gid)
    sb.modsec_conf = audit_conf.format(dir=sb.dir, storage=storage)
    print(f"{name}: {sb.dir}")
    try:
        sb.start()

        def send(host, path, method, headers, body):
            return sb.request(host, path, method=method, headers=headers, body=body).status
        send_all(send, only)
        sb.wait_access_lines(len(only or REQUESTS))
        time.sleep(0.5)
    finally:
        sb.stop()
        if tz:
            if old_tz is None:
                del os.environ["TZ"]
            else:
                os.environ["TZ"] = old_tz
    bad = sb.unexpected_log_lines()
    if bad:
        raise SystemExit(f"{name}: unexpected error-log lines:\n" + "\n".join(bad))
    status = {}
    for line in (sb.dir / "logs" / "uid.log").read_text().splitlines():
        uid, code, vhost = line.split(" ")
        status[uid] = (int(code), vhost)
    alerts = alerts_by_uid(sb.error_log)
    expected = {uid: {"rules": ids, "status": status[uid][0], "host": status[uid][1],
                      "engine": ENGINE[status[uid][1]]}
                for uid, ids in alerts.items()}
    if (sb.dir / "logs" / "audit.log").exists():
        shutil.copy(sb.dir / "logs" / "audit.log", out)
    else:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir()
        shutil.copy(sb.dir / "logs" / "audit.index", out / "index")
        shutil.copytree(storage, out / "storage")
    shutil.rmtree(sb.dir, ignore_errors=True)
    return expected


SERIAL = """SecAuditEngine RelevantOnly
SecAuditLogRelevantStatus "^(?:5|4(?!04))"
SecAuditLogType Serial
SecAuditLogParts {parts}
SecAuditLogFormat {fmt}
SecAuditLog {{dir}}/logs/audit.log
"""
CONCURRENT = """SecAuditEngine RelevantOnly
SecAuditLogRelevantStatus "^(?:5|4(?!04))"
SecAuditLogType Concurrent
SecAuditLogParts {parts}
SecAuditLogFormat {fmt}
SecAuditLogStorageDir {{storage}}
SecAuditLog {{dir}}/logs/audit.index
"""


# -------------------------------------------------------------------- nginx (v3)

NGINX_MODULE = Path("/usr/lib/nginx/modules/ngx_http_modsecurity_module.so")


def nginx_capture(fmt: str, out: Path) -> dict:
    d = short_temp_dir("msoit-n")
    port = free_port()
    (d / "logs").mkdir()
    (d / "tmp").mkdir()
    (d / "html").mkdir()
    (d / "html" / "index.html").write_text("<html><body>hello</body></html>\n")
    # Static files, not `return 200`: `return` answers in nginx's rewrite phase, before
    # ModSecurity's access-phase handler reads the body (phase 2 would never run); a POST
    # to a static file reads the body, runs phase 2 and then answers 405.
    (d / "html" / "upload").write_text("ok\n")
    (d / "html" / "form").write_text("ok\n")
    crs = [f"Include {CRS3_SETUP}"]
    if CRS3_EXCLUSIONS_BEFORE.exists():
        crs.append(f"Include {CRS3_EXCLUSIONS_BEFORE}")
    crs.append(f"Include {CRS3_RULES}/*.conf")
    if CRS3_EXCLUSIONS_AFTER.exists():
        crs.append(f"Include {CRS3_EXCLUSIONS_AFTER}")
    base = f"""SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^application/json" \\
  "id:'200001',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRule REQBODY_ERROR "!@eq 0" \\
  "id:'200002',phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{{reqbody_error_msg}}',severity:2"
SecResponseBodyAccess Off
SecTmpDir {d / 'tmp'}
SecDataDir {d / 'tmp'}
SecAuditEngine RelevantOnly
SecAuditLogRelevantStatus "^(?:5|4(?!04))"
SecAuditLogParts ABIJDEFHZ
SecAuditLogType Serial
SecAuditLogFormat {fmt}
SecAuditLog {d / 'logs' / 'audit.log'}
SecArgumentSeparator &
SecCookieFormat 0
SecUnicodeMapFile {UNICODE_MAPPING} 20127
SecStatusEngine Off
"""
    for engine, vhost in (("DetectionOnly", "detect"), ("On", "block")):
        (d / f"{vhost}.conf").write_text(f"{base}SecRuleEngine {engine}\n" + "\n".join(crs)
                                         + "\n")
    servers = "".join(f"""
    server {{
        listen 127.0.0.1:{port};
        server_name {vhost}.test;
        root {d / 'html'};
        modsecurity on;
        modsecurity_rules_file {d / f'{vhost}.conf'};
        location / {{ try_files $uri $uri/ =404; }}
    }}""" for vhost in ("detect", "block"))
    conf = d / "nginx.conf"
    conf.write_text(f"""load_module {NGINX_MODULE};
daemon off;
master_process on;
worker_processes 1;
pid {d / 'nginx.pid'};
error_log {d / 'logs' / 'error.log'} info;   # ModSecurity's warnings are info
events {{ worker_connections 64; }}
http {{
    access_log {d / 'logs' / 'access.log'};
    client_body_temp_path {d / 'tmp'};
    proxy_temp_path {d / 'tmp'};
    fastcgi_temp_path {d / 'tmp'};
    uwsgi_temp_path {d / 'tmp'};
    scgi_temp_path {d / 'tmp'};
    log_format uid '$status $host $request_uri';
    access_log {d / 'logs' / 'status.log'} uid;
{servers}
}}
""")
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(user + conf.read_text())
    check = subprocess.run(["/usr/sbin/nginx", "-t", "-p", str(d), "-c", str(conf)],
                           capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise SystemExit(f"nginx -t failed:\n{check.stderr}")
    print(f"v3 {fmt}: {d}")
    proc = subprocess.Popen(["/usr/sbin/nginx", "-p", str(d), "-c", str(conf)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(d / "logs" / "stderr.log", "wb"),
                            start_new_session=True)
    try:
        sb = ApacheSandbox.__new__(ApacheSandbox)   # borrow request() only
        sb.port = port
        deadline = time.monotonic() + 30
        while not sb._accepts():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("nginx did not start:\n"
                                 + (d / "logs" / "error.log").read_text(errors="replace"))
            time.sleep(0.05)

        def send(host, path, method, headers, body):
            return sb.request(host, path, method=method, headers=headers, body=body).status
        send_all(send)
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGQUIT)   # graceful: finishes the audit log writes
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    shutil.copy(d / "logs" / "audit.log", out)
    alerts = alerts_by_uid(d / "logs" / "error.log")
    servers = {}
    for line in (d / "logs" / "error.log").read_text(errors="replace").splitlines():
        uid, server = _UID.search(line), re.search(r", server: ([^,]+),", line)
        if uid and server:
            servers[uid.group(1)] = server.group(1)
    expected = {uid: {"rules": ids, "host": servers[uid], "engine": ENGINE[servers[uid]]}
                for uid, ids in alerts.items()}
    shutil.rmtree(d, ignore_errors=True)
    return expected


def main() -> None:
    expected: dict[str, dict] = {}
    v2 = [
        ("v2_native_serial.log", SERIAL.format(parts="ABIJDEFHZ", fmt="Native"), None),
        ("v2_native_serial_kc_newyork.log", SERIAL.format(parts="ABCIJDEFHKZ", fmt="Native"),
         "America/New_York", SMALL),
        ("v2_native_concurrent", CONCURRENT.format(parts="ABCIJDEFHZ", fmt="Native"), None),
        ("v2_json_serial.log", SERIAL.format(parts="ABCIJDEFHZ", fmt="JSON"), None),
        ("v2_json_serial_k.log", SERIAL.format(parts="ABIJDEFHKZ", fmt="JSON"), None,
         {"sqli-block"}),
        ("v2_json_concurrent", CONCURRENT.format(parts="ABIJDEFHZ", fmt="JSON"), None),
    ]
    for name, conf, tz, *only in v2:
        expected[name] = apache_capture(name, conf, HERE / name, tz, only[0] if only else None)
    if NGINX_MODULE.exists() and Path("/usr/sbin/nginx").exists():
        for fmt in ("JSON", "Native"):
            name = f"v3_{fmt.lower()}.log"
            expected[name] = nginx_capture(fmt, HERE / name)
    else:
        print("nginx + libnginx-mod-http-modsecurity not installed: v3 logs not captured")
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
