"""A throw-away nginx + libmodsecurity3 (ModSecurity v3) + OWASP CRS on loopback.

`NginxSandbox` generates a prefix in a fresh short temp dir under /tmp (nginx.conf, one
ModSecurity rules file per server, a document root with a few static files), listens on
a free 127.0.0.1 port and runs `/usr/sbin/nginx -p PREFIX -c CONF -e ERRLOG` in the
foreground (`daemon off`) as a child process, loading Debian's connector module
(`libnginx-mod-http-modsecurity`, libmodsecurity 3.0.9). Nothing of /etc/nginx or of the
system's nginx service is used. Stopped on `stop()` (SIGQUIT, so queued audit writes
finish, then SIGKILL of its own process group), usable as a context manager.

`audit_log`: what `SecAuditLog` says. With a URL, `SecAuditLogType HTTPS` makes
libmodsecurity POST each entry there (JSON) with libcurl (GnuTLS, peer verification on,
the system trust store): `ca_bundle` runs nginx in a private mount namespace
(`unshare --mount`, root only) where that file is bind-mounted over
/etc/ssl/certs/ca-certificates.crt, so a test CA is trusted by nginx and by nothing else.

`ServerBlock.files` are written into the server's root. Requests should name a file
(`/index.html?id=...`), not a directory: nginx answers `/` by an internal redirect to
the index file, which libmodsecurity sees as two transactions; the first logs its alerts
to the error log but sends no audit entry (measured; see docs/protocol.md).

Only the Python standard library is needed; shares its helpers with sandbox.py.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from sandbox import (BROWSER_HEADERS, CRS3_EXCLUSIONS_AFTER, CRS3_EXCLUSIONS_BEFORE,
                     CRS3_RULES, CRS3_SETUP, UNICODE_MAPPING, Response, crs4_dir, free_port,
                     short_temp_dir)

NGINX_BIN = Path("/usr/sbin/nginx")
NGINX_MODSEC_MODULE = Path("/usr/lib/nginx/modules/ngx_http_modsecurity_module.so")
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

# nginx error-log lines: "2026/12/02 05:49:47 [warn] 12#12: *3 [client ...] ModSecurity: ..."
_LEVEL = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[([a-z]+)\]")
_MODSEC = re.compile(r"\bModSecurity: (?:Warning|Access denied)")
_UNIQUE_ID = re.compile(r'\[unique_id "([^"]+)"\]')
_RULE_ID = re.compile(r'\[id "(\d+)"\]')
_BAD_LEVELS = {"warn", "error", "crit", "alert", "emerg"}


def nginx_available() -> str | None:
    """None when nginx and the ModSecurity connector are installed, else why not."""
    if not NGINX_BIN.exists():
        return f"{NGINX_BIN} not found (apt-get install nginx)"
    if not NGINX_MODSEC_MODULE.exists():
        return (f"{NGINX_MODSEC_MODULE} not found "
                "(apt-get install libnginx-mod-http-modsecurity)")
    return None


@dataclass
class ServerBlock:
    name: str
    engine: str = "DetectionOnly"   # SecRuleEngine: On | DetectionOnly
    files: dict[str, str] = field(default_factory=dict)   # extra files in its root


def default_servers() -> list[ServerBlock]:
    return [ServerBlock("detect.test", "DetectionOnly"), ServerBlock("block.test", "On")]


class NginxSandbox:
    """nginx + libmodsecurity3 + CRS 3.3.4 (Debian) or CRS 4.x, on 127.0.0.1.

    crs: "3" or "4" (CRS 4 from `crs4_dir()`). audit_log: the SecAuditLog value (a path,
    or a URL with audit_type "HTTPS"). audit_engine: SecAuditEngine (RelevantOnly logs
    transactions with an alert or a relevant status). modsec_conf: further ModSecurity
    directives after the base configuration, before the CRS. workers: worker processes.
    """

    def __init__(self, *, crs: str = "3", paranoia: int = 1,
                 servers: list[ServerBlock] | None = None, audit_log: str | None = None,
                 audit_type: str = "HTTPS", audit_format: str = "JSON",
                 audit_engine: str = "RelevantOnly", ca_bundle: Path | None = None,
                 modsec_conf: str = "", workers: int = 1,
                 base_dir: Path | None = None) -> None:
        if crs not in ("3", "4"):
            raise ValueError(f"crs must be '3' or '4', not {crs!r}")
        self.crs = crs
        self.paranoia = paranoia
        self.servers = servers if servers is not None else default_servers()
        self.audit_log = audit_log
        self.audit_type = audit_type
        self.audit_format = audit_format
        self.audit_engine = audit_engine
        self.ca_bundle = Path(ca_bundle) if ca_bundle else None
        self.modsec_conf = modsec_conf
        self.workers = workers
        self.crs4_path = crs4_dir()
        if crs == "4" and self.crs4_path is None:
            raise FileNotFoundError("CRS 4 not found: set MSO_CRS4_DIR or place it at "
                                    "<repo>/../shared/crs-4.28.0")
        self.dir = Path(base_dir) if base_dir else short_temp_dir("msoit-n")
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.conf_path = self.dir / "nginx.conf"
        self.error_log = self.dir / "logs" / "error.log"
        self.access_log = self.dir / "logs" / "access.log"
        self.stderr_log = self.dir / "logs" / "stderr.log"

    # ---------------------------------------------------------------- config

    def _crs_conf(self) -> str:
        pl = self.paranoia
        if self.crs == "3":
            (self.dir / "crs-tuning.conf").write_text(
                f'SecAction "id:900000,phase:1,nolog,pass,t:none,'
                f'setvar:tx.paranoia_level={pl}"\n')
            lines = [f"Include {CRS3_SETUP}", f"Include {self.dir / 'crs-tuning.conf'}"]
            if CRS3_EXCLUSIONS_BEFORE.exists():
                lines.append(f"Include {CRS3_EXCLUSIONS_BEFORE}")
            lines.append(f"Include {CRS3_RULES}/*.conf")
            if CRS3_EXCLUSIONS_AFTER.exists():
                lines.append(f"Include {CRS3_EXCLUSIONS_AFTER}")
            return "\n".join(lines) + "\n"
        assert self.crs4_path is not None
        shutil.copy(self.crs4_path / "crs-setup.conf.example", self.dir / "crs-setup.conf")
        (self.dir / "crs-tuning.conf").write_text(
            f'SecAction "id:900000,phase:1,nolog,pass,t:none,'
            f'setvar:tx.blocking_paranoia_level={pl}"\n')
        return (f"Include {self.dir / 'crs-setup.conf'}\n"
                f"Include {self.dir / 'crs-tuning.conf'}\n"
                f"Include {self.crs4_path}/rules/*.conf\n")

    def modsecurity_conf(self, engine: str) -> str:
        """The rules file of a server with SecRuleEngine `engine` (without the CRS)."""
        d = self.dir
        audit = "SecAuditEngine Off\n"
        if self.audit_log:
            audit = (f"SecAuditEngine {self.audit_engine}\n"
                     f'SecAuditLogRelevantStatus "^(?:5|4(?!04))"\n'
                     f"SecAuditLogParts ABIJDEFHZ\n"
                     f"SecAuditLogFormat {self.audit_format}\n"
                     f"SecAuditLogType {self.audit_type}\n"
                     f"SecAuditLog {self.audit_log}\n")
        # Modelled on Debian's /etc/nginx/modsecurity.conf-recommended (libmodsecurity3).
        return f"""SecRuleEngine {engine}
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^application/json" \\
  "id:'200001',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRule REQBODY_ERROR "!@eq 0" \\
  "id:'200002',phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{{reqbody_error_msg}}',severity:2"
SecResponseBodyAccess Off
SecTmpDir {d / 'tmp'}
SecDataDir {d / 'tmp'}
{audit}SecArgumentSeparator &
SecCookieFormat 0
SecUnicodeMapFile {UNICODE_MAPPING} 20127
SecStatusEngine Off
{self.modsec_conf}"""

    def _nginx_conf(self) -> str:
        d = self.dir
        crs = self._crs_conf()
        servers = []
        for s in self.servers:
            rules = d / f"modsec-{s.name}.conf"
            rules.write_text(self.modsecurity_conf(s.engine) + crs)
            servers.append(f"""
    server {{
        listen 127.0.0.1:{self.port};
        server_name {s.name};
        root {d / 'html' / s.name};
        modsecurity on;
        modsecurity_rules_file {rules};
        location / {{ try_files $uri =404; }}
    }}""")
        # As root the workers stay root: they must read the temp dir and its rules.
        user = "user root;\n" if os.geteuid() == 0 else ""
        return f"""# Generated by tests/integration/nginx_sandbox.py; nothing from /etc/nginx is used.
load_module {NGINX_MODSEC_MODULE};
{user}daemon off;
master_process on;
worker_processes {self.workers};
pid {d / 'run' / 'nginx.pid'};
error_log {self.error_log} info;   # libmodsecurity's warnings are logged at warn
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {d / 'tmp' / 'body'};
    proxy_temp_path {d / 'tmp' / 'proxy'};
    fastcgi_temp_path {d / 'tmp' / 'fastcgi'};
    uwsgi_temp_path {d / 'tmp' / 'uwsgi'};
    scgi_temp_path {d / 'tmp' / 'scgi'};
    types {{ text/html html; text/plain txt; }}
    log_format mso '$host $status "$request"';
    access_log {self.access_log} mso;
{"".join(servers)}
}}
"""

    def write_config(self) -> None:
        for sub in ("logs", "run", "tmp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for s in self.servers:
            root = self.dir / "html" / s.name
            root.mkdir(parents=True, exist_ok=True)
            (root / "index.html").write_text(
                f"<!DOCTYPE html>\n<html><head><title>{s.name}</title></head>"
                f"<body><p>Hello from {s.name}.</p></body></html>\n")
            for rel, content in s.files.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(content)
        self.conf_path.write_text(self._nginx_conf())

    # ----------------------------------------------------------- lifecycle

    def _command(self) -> list[str]:
        nginx = [str(NGINX_BIN), "-p", str(self.dir), "-c", str(self.conf_path),
                 "-e", str(self.error_log)]
        if self.ca_bundle is None:
            return nginx
        if os.geteuid() != 0:
            raise PermissionError("ca_bundle needs root (a private mount namespace)")
        # The bind mount exists only in nginx's own mount namespace.
        script = ('mount --bind "$1" "$2" && shift 2 && exec "$@"')
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                str(self.ca_bundle), str(SYSTEM_CA_BUNDLE), *nginx]

    @staticmethod
    def _env() -> dict[str, str]:
        # v3's time_stamp is local time without a zone: UTC makes it comparable (nginx
        # passes TZ on to its workers).
        return {**os.environ, "TZ": "UTC"}

    def start(self, timeout: float = 60.0) -> "NginxSandbox":
        reason = nginx_available()
        if reason:
            raise FileNotFoundError(reason)
        last_error = ""
        for _ in range(3):   # a free port can be taken before nginx binds it
            self.port = free_port()
            self.write_config()
            test = subprocess.run(self._command() + ["-t"], capture_output=True,
                                  text=True, check=False, env=self._env())
            if test.returncode != 0:
                raise RuntimeError(f"nginx -t failed (dir {self.dir}):\n{test.stderr}")
            with open(self.stderr_log, "ab") as err:
                self.proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL,
                                             stdout=err, stderr=err, start_new_session=True,
                                             env=self._env())
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self._accepts():
                    return self
                time.sleep(0.05)
            last_error = self._tail_logs()
            self.stop()
            if "Address already in use" not in last_error:
                break
        raise RuntimeError(f"nginx did not start (dir {self.dir}):\n{last_error}")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def _tail_logs(self) -> str:
        out = []
        for p in (self.stderr_log, self.error_log):
            if p.exists():
                out.append(f"--- {p}\n" + "".join(p.read_text(errors="replace")
                                                  .splitlines(True)[-30:]))
        return "\n".join(out)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGQUIT (graceful: workers finish their requests and audit writes), then
        SIGKILL of the process group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGQUIT)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "NginxSandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------- traffic

    def request(self, host: str, path: str = "/index.html", method: str = "GET",
                headers: dict[str, str] | None = None, body: bytes | None = None,
                browser: bool = True, timeout: float = 60.0) -> Response:
        """One request on its own connection; `path` goes on the wire as given."""
        hdrs = dict(BROWSER_HEADERS) if browser else {}
        hdrs["Host"] = host
        if headers:
            hdrs.update(headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, data, {k.lower(): v for k, v in resp.getheaders()})
        finally:
            conn.close()

    # ---------------------------------------------------------------- logs

    def error_log_lines(self, start: int = 0) -> list[str]:
        if not self.error_log.exists():
            return []
        with open(self.error_log, "rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace").splitlines()

    def error_log_size(self) -> int:
        return self.error_log.stat().st_size if self.error_log.exists() else 0

    def modsec_lines(self, start: int = 0) -> list[str]:
        """libmodsecurity's per-request alert lines ("ModSecurity: Warning." / "Access
        denied")."""
        return [l for l in self.error_log_lines(start) if _MODSEC.search(l)]

    def rule_ids_by_unique_id(self, start: int = 0) -> dict[str, set[str]]:
        """{unique_id: {rule ids}} from the alert lines of the error log."""
        out: dict[str, set[str]] = {}
        for line in self.modsec_lines(start):
            uid, rid = _UNIQUE_ID.search(line), _RULE_ID.search(line)
            if uid:
                out.setdefault(uid.group(1), set()).update([rid.group(1)] if rid else [])
        return out

    def unexpected_log_lines(self, start: int = 0) -> list[str]:
        """Lines at warn level or above that are not libmodsecurity alerts."""
        out = []
        for line in self.error_log_lines(start):
            m = _LEVEL.match(line)
            if m and m.group(1) in _BAD_LEVELS and not _MODSEC.search(line):
                out.append(line)
        return out

    def access_log_lines(self) -> list[str]:
        if not self.access_log.exists():
            return []
        return self.access_log.read_text(errors="replace").splitlines()
