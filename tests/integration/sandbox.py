"""A throw-away Apache + mod_security2 + OWASP CRS, and optionally the collector.

`ApacheSandbox` generates a complete ServerRoot in a fresh short temp dir under /tmp
(httpd.conf, ModSecurity base config, CRS include list, one DocumentRoot per virtual
host), listens on a free 127.0.0.1 port and runs `/usr/sbin/apache2 -f CONF -DFOREGROUND`
as a child process. Nothing from the system Apache configuration is used: no
apache2.conf, no apache2ctl, no service. `Collector` runs `modsec-observed` on short
socket paths in a temp dir. Both stop on `stop()` (SIGTERM, then SIGKILL of their own
process group) and are usable as context managers, so a failing test never leaves a
process behind.

Used by the pytest suite (conftest.py), by `demo.py` and by `capture_error_log.py`.
Only the Python standard library is needed.
"""

from __future__ import annotations

import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

APACHE_BIN = Path("/usr/sbin/apache2")
APACHE_MODULES = Path("/usr/lib/apache2/modules")
CRS3_SETUP = Path("/etc/modsecurity/crs/crs-setup.conf")
CRS3_RULES = Path("/usr/share/modsecurity-crs/rules")
CRS3_EXCLUSIONS_BEFORE = Path("/etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf")
CRS3_EXCLUSIONS_AFTER = Path("/etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf")
UNICODE_MAPPING = Path("/etc/modsecurity/unicode.mapping")

# Headers a current browser sends; with them a plain GET must not trigger any CRS rule.
BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.5",
}

# Modules the generated configuration needs, in load order (mpm first).
BASE_MODULES = ["authz_core", "unique_id", "security2", "log_config", "mime", "dir",
                "alias", "env", "setenvif", "headers"]

# An error-log line with one of these levels is a problem unless it is a ModSecurity alert.
_BAD_LEVEL = re.compile(r"\[(?:[a-z0-9_]+:)?(warn|error|crit|alert|emerg)\]")
_MODSEC_ALERT = re.compile(r"\[security2:error\] .*\bModSecurity: ")
# A crashed child is logged at notice level (AH00051/AH00052 "exit signal ..."), not error.
_CRASH = re.compile(r"\bexit signal\b|AH0005[12]|AH00060|\bcore dump")


def repo_root() -> Path:
    env = os.environ.get("MSO_SOURCE_DIR")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    env = os.environ.get("MSO_BUILD_DIR")
    return Path(env).resolve() if env else repo_root() / "build"


def crs4_dir() -> Path | None:
    """CRS 4.28 beside the repository (`../shared/crs-4.28.0`), or `MSO_CRS4_DIR`."""
    env = os.environ.get("MSO_CRS4_DIR")
    candidate = Path(env) if env else repo_root().parent / "shared" / "crs-4.28.0"
    if (candidate / "rules").is_dir() and (candidate / "crs-setup.conf.example").is_file():
        return candidate.resolve()
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def short_temp_dir(prefix: str) -> Path:
    """A fresh directory under /tmp, short enough for Unix socket paths (108 bytes),
    traversable by www-data (Apache's children) and by the collector."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    return d


def spool_temp_dir(prefix: str = "msoit-s") -> Path:
    """A `ModSecObserveSpool` directory the Apache children (www-data when run as root)
    can write."""
    d = short_temp_dir(prefix)
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("www-data")
            os.chown(d, pw.pw_uid, pw.pw_gid)
        except KeyError:
            pass
    d.chmod(0o770)
    return d


def _varint(blob: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        b = blob[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def _unzigzag(v: int) -> int:
    return (v >> 1) ^ -(v & 1)


def stored_rules(db) -> dict[int, set[str]]:
    """Event row id -> the rule ids history.db's rule index (rule_postings, schema 3; the
    format is docs/STORE.md's) holds for it, decoded here so that the tests read the file
    with nothing of ours. `db` is an open sqlite3 connection."""
    rules: dict[int, set[str]] = {}
    for rule, blob in db.execute(
            "SELECT s.text, p.entries FROM rule_postings p JOIN strings s ON s.id = p.rule_id"):
        pos, event_id = 0, 0
        while pos < len(blob):
            _, pos = _varint(blob, pos)          # the time's delta
            delta, pos = _varint(blob, pos)
            event_id += _unzigzag(delta)
            rules.setdefault(event_id, set()).add(rule)
    return rules


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _www_data_ids() -> tuple[int, int] | None:
    try:
        pw = pwd.getpwnam("www-data")
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid


def _builtin_modules() -> set[str]:
    out = subprocess.run([str(APACHE_BIN), "-l"], capture_output=True, text=True,
                         check=False).stdout
    return {m.strip()[len("mod_"):-len(".c")] for m in out.splitlines()
            if m.strip().startswith("mod_") and m.strip().endswith(".c")}


def _stop_process(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, wait, then SIGKILL the process group we created for it."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class VirtualHost:
    name: str
    engine: str = "DetectionOnly"   # SecRuleEngine: On | DetectionOnly | Off | "" (none)
    extra: str = ""                  # further directives inside <VirtualHost>
    # Files to create in the DocumentRoot: relative path -> content.
    files: dict[str, str | bytes] = field(default_factory=dict)


def default_vhosts() -> list[VirtualHost]:
    return [VirtualHost("detect.test", "DetectionOnly"), VirtualHost("block.test", "On")]


class ApacheSandbox:
    """A real Apache with mod_security2 and CRS 3.3.4 (Debian) or CRS 4.x, on loopback.

    crs: "3" or "4" (CRS 4 from `crs4_dir()` unless `crs4_path` is given).
    module: path of mod_modsec_observe.so to load, or None for plain Apache + ModSecurity.
    observe_conf: directives for the module at server level (e.g. ModSecObserveSocket).
    snippet: a ModSecurity file to Include after the CRS (conf/modsec_observe_rules.conf).
    audit_json: log every transaction to `logs/modsec_audit.json` (SecAuditEngine On,
      SecAuditLogFormat JSON, Serial, parts ABIJDEFHKZ), one JSON object per line; see
      `audit_entries()`. Overrides `audit_log`.
    extra_modules: further modules to load (names as in BASE_MODULES, e.g. "include").
    modsec_conf: ModSecurity directives added after the base configuration, before the CRS.
    modsecurity: False for plain Apache without mod_security2 and the CRS (a benchmark's
      ceiling); the vhosts' `engine` is then ignored.
    pid_log: `pid_log` says which child served each request (vhost and pid per line), so
      a test can tell which requests a crashed child had served.
    Every sandbox keeps the core of a crashing child in `cores_dir` (CoreDumpDirectory, no
    core size limit; the kernel's core_pattern must name a file, not a pipe), and
    unexpected_log_lines() adds the crashing thread's backtrace (gdb) to a crash's line.
    """

    def __init__(self, *, crs: str = "3", paranoia: int = 1, mpm: str = "event",
                 vhosts: list[VirtualHost] | None = None, module: Path | None = None,
                 observe_conf: str = "", snippet: Path | None = None,
                 crs4_path: Path | None = None, log_level: str = "warn",
                 audit_log: bool = False, extra_conf: str = "",
                 base_dir: Path | None = None, audit_json: bool = False,
                 extra_modules: list[str] | None = None, modsec_conf: str = "",
                 modsecurity: bool = True, pid_log: bool = False) -> None:
        if crs not in ("3", "4"):
            raise ValueError(f"crs must be '3' or '4', not {crs!r}")
        if mpm not in ("event", "prefork", "worker"):
            raise ValueError(f"unknown mpm {mpm!r}")
        self.crs = crs
        self.paranoia = paranoia
        self.mpm = mpm
        self.vhosts = vhosts if vhosts is not None else default_vhosts()
        self.module = Path(module) if module else None
        self.observe_conf = observe_conf
        self.snippet = Path(snippet) if snippet else None
        self.crs4_path = Path(crs4_path) if crs4_path else crs4_dir()
        self.log_level = log_level
        self.audit_log = audit_log
        self.extra_conf = extra_conf
        self.audit_json = audit_json
        self.extra_modules = list(extra_modules or [])
        self.modsec_conf = modsec_conf
        self.modsecurity = modsecurity
        self.keep_pid_log = pid_log
        self.dir = Path(base_dir) if base_dir else short_temp_dir("msoit-a")
        self.cores_dir = self.dir / "cores"
        self._backtraces: dict[tuple[Path, int], str] = {}  # crash_backtraces(), by core
        self.pid_log = self.dir / "logs" / "pid.log"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.conf_path = self.dir / "httpd.conf"
        self.error_log = self.dir / "logs" / "error.log"
        self.access_log = self.dir / "logs" / "access.log"
        self.stderr_log = self.dir / "logs" / "stderr.log"
        self.audit_json_log = self.dir / "logs" / "modsec_audit.json"
        if crs == "4" and self.crs4_path is None:
            raise FileNotFoundError("CRS 4 not found: set MSO_CRS4_DIR or place it at "
                                    "<repo>/../shared/crs-4.28.0")

    # ---------------------------------------------------------------- config

    def _crs_conf(self) -> str:
        pl = self.paranoia
        if self.crs == "3":
            tuning = (f'SecAction "id:900000,phase:1,nolog,pass,t:none,'
                      f'setvar:tx.paranoia_level={pl}"\n')
            (self.dir / "crs-tuning.conf").write_text(tuning)
            lines = [f"Include {CRS3_SETUP}", f"Include {self.dir / 'crs-tuning.conf'}"]
            if CRS3_EXCLUSIONS_BEFORE.exists():
                lines.append(f"Include {CRS3_EXCLUSIONS_BEFORE}")
            lines.append(f"Include {CRS3_RULES}/*.conf")
            if CRS3_EXCLUSIONS_AFTER.exists():
                lines.append(f"Include {CRS3_EXCLUSIONS_AFTER}")
            return "\n".join(lines) + "\n"
        assert self.crs4_path is not None
        shutil.copy(self.crs4_path / "crs-setup.conf.example", self.dir / "crs-setup.conf")
        tuning = (f'SecAction "id:900000,phase:1,nolog,pass,t:none,'
                  f'setvar:tx.blocking_paranoia_level={pl}"\n')
        (self.dir / "crs-tuning.conf").write_text(tuning)
        return (f"Include {self.dir / 'crs-setup.conf'}\n"
                f"Include {self.dir / 'crs-tuning.conf'}\n"
                f"Include {self.crs4_path}/rules/*.conf\n")

    def _modsecurity_conf(self) -> str:
        d = self.dir
        audit = (f"SecAuditEngine RelevantOnly\n"
                 f'SecAuditLogRelevantStatus "^(?:5|4(?!04))"\n'
                 f"SecAuditLogParts ABDEFHIJZ\nSecAuditLogType Serial\n"
                 f"SecAuditLog {d / 'logs' / 'modsec_audit.log'}\n"
                 if self.audit_log else "SecAuditEngine Off\n")
        if self.audit_json:
            audit = (f"SecAuditEngine On\nSecAuditLogFormat JSON\nSecAuditLogType Serial\n"
                     f"SecAuditLogParts ABIJDEFHKZ\n"
                     f"SecAuditLog {self.audit_json_log}\n")
        # Modelled on Debian's /etc/modsecurity/modsecurity.conf-recommended.
        return f"""SecRuleEngine DetectionOnly
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" \\
  "id:'200000',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" \\
  "id:'200001',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyInMemoryLimit 131072
SecRequestBodyLimitAction Reject
SecRule REQBODY_ERROR "!@eq 0" \\
  "id:'200002',phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{{reqbody_error_msg}}',severity:2"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" \\
  "id:'200003',phase:2,t:none,log,deny,status:400,msg:'Multipart request body failed strict validation'"
SecRule MULTIPART_UNMATCHED_BOUNDARY "!@eq 0" \\
  "id:'200004',phase:2,t:none,log,deny,msg:'Multipart parser detected a possible unmatched boundary.'"
SecPcreMatchLimit 100000
SecPcreMatchLimitRecursion 100000
SecRule TX:/^MSC_/ "!@streq 0" \\
  "id:'200005',phase:2,t:none,deny,msg:'ModSecurity internal error flagged: %{{MATCHED_VAR_NAME}}'"
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html text/xml
SecResponseBodyLimit 524288
SecResponseBodyLimitAction ProcessPartial
SecTmpDir {d / 'modsec' / 'tmp'}
SecDataDir {d / 'modsec' / 'data'}
{audit}SecArgumentSeparator &
SecCookieFormat 0
SecUnicodeMapFile {UNICODE_MAPPING} 20127
SecStatusEngine Off
{self.modsec_conf}"""

    def _httpd_conf(self) -> str:
        d = self.dir
        builtin = _builtin_modules()
        loads = [f"LoadModule mpm_{self.mpm}_module {APACHE_MODULES}/mod_mpm_{self.mpm}.so"]
        for m in BASE_MODULES + [m for m in self.extra_modules if m not in BASE_MODULES]:
            if m not in builtin and (self.modsecurity or m != "security2"):
                loads.append(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so")
        if self.module:
            loads.append(f"LoadModule modsec_observe_module {self.module}")
        user = "User www-data\nGroup www-data\n" if _running_as_root() else ""
        vhosts = []
        for v in self.vhosts:
            docroot = d / "htdocs" / v.name
            vhosts.append(f"""<VirtualHost 127.0.0.1:{self.port}>
    ServerName {v.name}
    DocumentRoot {docroot}
    {f"SecRuleEngine {v.engine}" if self.modsecurity and v.engine else ""}
    <Directory {docroot}>
        Require all granted
    </Directory>
{v.extra}
</VirtualHost>
""")
        snippet = f"Include {self.snippet}\n" if self.snippet else ""
        return f"""# Generated by tests/integration/sandbox.py; nothing from /etc/apache2 is used.
ServerRoot {d}
ServerName localhost
Listen 127.0.0.1:{self.port}
{chr(10).join(loads)}
{user}PidFile {d / 'run' / 'httpd.pid'}
DefaultRuntimeDir {d / 'run'}
Mutex file:{d / 'run'} default
ErrorLog {self.error_log}
LogLevel {self.log_level}
LogFormat "%v %{{local}}p %{{UNIQUE_ID}}e %a \\"%r\\" %>s %b" mso
CustomLog {self.access_log} mso
{self._crash_conf()}Timeout 20
KeepAlive On
TypesConfig /etc/mime.types
DirectoryIndex index.html
<Directory />
    AllowOverride None
    Require all denied
</Directory>
{self._modsecurity_conf() if self.modsecurity else ""}
{self._crs_conf() if self.modsecurity else ""}{snippet}{self.observe_conf}
{self.extra_conf}
{chr(10).join(vhosts)}"""

    def write_config(self) -> None:
        for sub in ("logs", "run", "modsec/tmp", "modsec/data"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        ids = _www_data_ids() if _running_as_root() else None
        for sub in ("modsec", "modsec/tmp", "modsec/data"):
            if ids:
                os.chown(self.dir / sub, *ids)
        for v in self.vhosts:
            docroot = self.dir / "htdocs" / v.name
            docroot.mkdir(parents=True, exist_ok=True)
            (docroot / "index.html").write_text(
                f"<!DOCTYPE html>\n<html><head><title>{v.name}</title></head>"
                f"<body><p>Hello from {v.name}.</p></body></html>\n")
            for rel, content in v.files.items():
                target = docroot / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    target.write_text(content)
                target.chmod(0o755 if rel.endswith((".cgi", ".sh")) else 0o644)
                for parent in target.parents:
                    if parent == docroot:
                        break
                    parent.chmod(0o755)
        for p in [self.dir / "htdocs", *(self.dir / "htdocs").iterdir()]:
            p.chmod(0o755)
        self.conf_path.write_text(self._httpd_conf())

    # ----------------------------------------------------------- lifecycle

    def _crash_conf(self) -> str:
        self.cores_dir.mkdir(parents=True, exist_ok=True)
        self.cores_dir.chmod(0o777)  # the children write there as www-data
        conf = f"CoreDumpDirectory {self.cores_dir}\n"
        if self.keep_pid_log:
            conf += f"LogFormat \"%v %P\" msopid\nCustomLog {self.pid_log} msopid\n"
        return conf

    def start(self, timeout: float = 30.0) -> "ApacheSandbox":
        last_error = ""
        for _attempt in range(3):   # a free port can be taken between probe and bind
            self.port = free_port()
            self.write_config()
            check = subprocess.run([str(APACHE_BIN), "-t", "-f", str(self.conf_path)],
                                   capture_output=True, text=True, check=False)
            if check.returncode != 0:
                raise RuntimeError(f"apache2 -t failed for {self.conf_path}:\n"
                                   f"{check.stdout}{check.stderr}")
            with open(self.stderr_log, "ab") as err:
                self.proc = subprocess.Popen(
                    # No core size limit for its crashing children (a shell that
                    # execs Apache, so the pid is Apache's; no preexec_fn with threads).
                    ["/bin/sh", "-c", 'ulimit -c unlimited && exec "$0" "$@"',
                     str(APACHE_BIN), "-f", str(self.conf_path), "-DFOREGROUND"],
                    stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                    start_new_session=True)
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
        raise RuntimeError(f"apache2 did not start (dir {self.dir}):\n{last_error}")

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

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is not None:
            _stop_process(self.proc, timeout)
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "ApacheSandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------- traffic

    def request(self, host: str, path: str = "/", method: str = "GET",
                headers: dict[str, str] | None = None, body: bytes | None = None,
                browser: bool = True, timeout: float = 20.0,
                client: str | None = None) -> Response:
        """One request on its own connection, from `client` (another 127.0.0.0/8
        address) when given. `path` goes on the wire as given, so percent-encode what
        must be encoded (spaces, quotes) yourself."""
        hdrs = dict(BROWSER_HEADERS) if browser else {}
        hdrs["Host"] = host
        if headers:
            hdrs.update(headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                          source_address=(client, 0) if client else None)
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
        """Error-log lines from byte offset `start` (see `error_log_size`)."""
        if not self.error_log.exists():
            return []
        with open(self.error_log, "rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace").splitlines()

    def error_log_size(self) -> int:
        return self.error_log.stat().st_size if self.error_log.exists() else 0

    def modsec_lines(self, start: int = 0) -> list[str]:
        """ModSecurity's per-request alert lines (not its start-up notices)."""
        return [l for l in self.error_log_lines(start) if _MODSEC_ALERT.search(l)]

    def unexpected_log_lines(self, start: int = 0, stop_crashes_ok: bool = False) -> list[str]:
        """warn/error/crit/alert/emerg lines that are not ModSecurity alert messages,
        and crashed children (logged at notice level), followed by the backtrace of each
        core left (crash_backtraces()) when a child crashed. `stop_crashes_ok`: crashes
        whose cores all show one of Apache's KNOWN_STOP_CRASHES are left out (and
        printed), for tests that stop Apache and check its log afterwards."""
        lines = [l for l in self.error_log_lines(start)
                 if (_BAD_LEVEL.search(l) and not _MODSEC_ALERT.search(l)) or _CRASH.search(l)]
        if not any(_CRASH.search(l) for l in lines):
            return lines
        if stop_crashes_ok:
            died, unexplained = self.stop_crashes()
            if not unexplained:
                known = [l for l in lines if (m := _CHILD_SIGNALLED.search(l))
                         and int(m.group(1)) in died]
                print("\nApache's own stop crash (sandbox.KNOWN_STOP_CRASHES), tolerated:\n"
                      + "\n".join(known))
                return [l for l in lines if l not in known]
        return lines + self.crash_backtraces()

    def crash_backtraces(self) -> list[str]:
        """For each core in `cores_dir`: "backtrace of core PATH:" and gdb's backtrace of
        the crashing thread: the one with a signal handler on its stack (Apache's handler
        re-raises the signal, and prefork's SIGTERM handler may itself fault), else the
        thread the core names."""
        out = []
        for core in sorted(self.cores_dir.glob("core*")):
            key = (core, core.stat().st_mtime_ns)
            if key in self._backtraces:  # a test may ask twice; gdb takes seconds
                out.append(self._backtraces[key])
                continue
            try:
                gdb = subprocess.run(["gdb", "-q", "-batch", "-ex", "bt 40", "-ex",
                                      "thread apply all bt 40", str(APACHE_BIN), str(core)],
                                     capture_output=True, text=True, timeout=180)
                blocks = re.split(r"\n(?=Thread \d+ \()", gdb.stdout)
                frames = [[l for l in b.splitlines() if l.startswith("#")] for b in blocks]
                handled = [f for f in frames[1:] if any("<signal handler called>" in l for l in f)]
                chosen = handled[0] if handled else frames[0]
                text = "\n".join(dict.fromkeys(chosen))  # gdb prints frame #0 twice
            except (OSError, subprocess.TimeoutExpired) as e:
                text = f"(gdb failed: {e})"
            out.append(f"backtrace of core {core}:\n{text}")
            self._backtraces[key] = out[-1]
        return out

    def stop_crashes(self) -> tuple[list[int], list[str]]:
        """Children that died of a signal, and the backtraces (crash_backtraces()) that are
        none of Apache's KNOWN_STOP_CRASHES. Several children crashing at once may leave
        one core (the kernel's core_pattern `core` names them alike): the one left is
        checked for all. No core at all leaves the crashes unexplained."""
        died = [int(m.group(1)) for l in self.error_log_lines()
                if (m := _CHILD_SIGNALLED.search(l))]
        if not died:
            return [], []
        backtraces = self.crash_backtraces()
        if not backtraces:
            pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
            return died, [f"children {died} crashed and left no core in {self.cores_dir} "
                          f"(kernel core_pattern {pattern!r})"]
        return died, [b for b in backtraces if known_stop_crash(b) is None]

    def access_log_lines(self) -> list[str]:
        if not self.access_log.exists():
            return []
        return self.access_log.read_text(errors="replace").splitlines()

    def audit_entries(self) -> list[dict]:
        """The JSON audit log (`audit_json=True`), one object per transaction. ModSecurity
        writes each entry as one line; a line that is not JSON raises."""
        if not self.audit_json_log.exists():
            return []
        entries = []
        for n, line in enumerate(self.audit_json_log.read_text(errors="replace")
                                 .splitlines(), 1):
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise RuntimeError(f"{self.audit_json_log}:{n}: not JSON ({e}): "
                                       f"{line[:300]}") from None
        return entries

    def access_count(self, vhost: str) -> int:
        return sum(1 for l in self.access_log_lines() if l.split(" ", 1)[0] == vhost)

    def wait_access_lines(self, n: int, timeout: float = 60.0) -> None:
        """Apache writes the access log after the response: wait until n lines exist."""
        deadline = time.monotonic() + timeout
        while len(self.access_log_lines()) < n and time.monotonic() < deadline:
            time.sleep(0.05)


def ring_for_tests(args: list[str]) -> list[str]:
    """A test collector's arguments `args` as the daemon gets them. With the history
    store on (--state-dir without --no-history) the daemon keeps 1,000 events in its ring
    unless told otherwise, but tests count their events in the ring (`events --limit 0`:
    every event it holds) and some send more: they keep the 10,000 the daemon keeps
    without a store (unless a --config file may say: the command line would win over it).
    A test of the default itself gives `--events-ring default`, which is taken out."""
    if "--events-ring" in args:
        i = args.index("--events-ring")
        if i + 1 < len(args) and args[i + 1] == "default":
            return args[:i] + args[i + 2:]
        return list(args)
    if "--state-dir" in args and "--no-history" not in args and "--config" not in args:
        return [*args, "--events-ring", "10000"]
    return list(args)


class Collector:
    """`modsec-observed` on short socket paths in its own temp dir; with `metrics_port`,
    also serving Prometheus metrics on 127.0.0.1:`metrics_port` (`fetch_metrics()`)."""

    def __init__(self, daemon: Path, cli: Path | None = None,
                 base_dir: Path | None = None, extra_args: list[str] | None = None,
                 metrics_port: int | None = None) -> None:
        self.daemon = Path(daemon)
        self.cli = Path(cli) if cli else self.daemon.with_name("modsec-observe")
        self.dir = Path(base_dir) if base_dir else short_temp_dir("msoit-c")
        self.owns_dir = base_dir is None
        self.event_socket = self.dir / "ev.sock"
        self.query_socket = self.dir / "q.sock"
        self.log = self.dir / "collector.log"
        self.extra_args = extra_args or []
        self.metrics_port = metrics_port
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> "Collector":
        args = [str(self.daemon), "--event-socket", str(self.event_socket),
                "--query-socket", str(self.query_socket)]
        if _running_as_root() and _www_data_ids():
            args += ["--event-socket-group", "www-data", "--event-socket-mode", "0660"]
        args += ring_for_tests(self.extra_args)
        if "--history-days" not in self.extra_args:
            # The captured audit logs (tests/data/audit) carry their capture dates (2 Dec
            # 2026): under the default 30 days an import of them would be refused as
            # older than the store keeps from 2027-01-01 on. Keep any age.
            args += ["--history-days", "0"]
        if self.metrics_port:
            args += ["--metrics-listen", f"127.0.0.1:{self.metrics_port}"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if (self.event_socket.exists() and self.query_socket.exists()
                    and (not self.metrics_port or self._metrics_accepts())):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"modsec-observed did not start ({' '.join(args)}):\n"
                           f"{self.log.read_text(errors='replace')}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None:
            _stop_process(self.proc, timeout)
            self.proc = None

    def restart(self, timeout: float = 60.0) -> "Collector":
        """Stop (SIGTERM, as systemd does) and start again with the same sockets, log and
        arguments (so the same --state-dir)."""
        self.stop(timeout)
        return self.start(timeout)

    def send_signal(self, sig: int) -> None:
        """Signal the running daemon (e.g. signal.SIGHUP to reload its --config)."""
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError("modsec-observed is not running")
        self.proc.send_signal(sig)

    def log_text(self, start: int = 0) -> str:
        """The daemon's stderr from byte offset `start` (all starts of this Collector)."""
        with open(self.log, "rb") as f:
            f.seek(start)
            return f.read().decode(errors="replace")

    def _metrics_accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.metrics_port), timeout=0.2):
                return True
        except OSError:
            return False

    def fetch_metrics(self, path: str = "/metrics", timeout: float = 10.0) -> tuple[int, str, str]:
        """GET http://127.0.0.1:<metrics_port><path>: (status, content type, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return (resp.status, resp.getheader("Content-Type", ""),
                    resp.read().decode("utf-8"))
        finally:
            conn.close()

    def remove_dir(self) -> None:
        """Removes the temp dir this Collector made (sockets, log); a base_dir given to it
        is its caller's to remove."""
        if self.owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Collector":
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        self.stop()
        if exc_type is None:  # kept, with its log, when the block failed
            self.remove_dir()

    def cli_run(self, *args: str, socket_path: Path | None = None,
                timeout: float = 60.0) -> subprocess.CompletedProcess:
        sock = socket_path or self.query_socket
        return subprocess.run([str(self.cli), "--socket", str(sock), *args],
                              capture_output=True, text=True, timeout=timeout, check=False)


# Flush interval for tests: counters arrive within a fraction of a second.
FLUSH_MS = 200


class Stack:
    """A running collector + Apache, with helpers to query the collector."""

    def __init__(self, collector: Collector, apache: ApacheSandbox) -> None:
        self.collector = collector
        self.apache = apache

    def cli(self, *args: str):
        return self.collector.cli_run(*args)

    def stats(self) -> dict:
        doc = self._json_cli("stats", "--json")
        if not isinstance(doc.get("vhosts"), list):
            raise RuntimeError(f"stats --json: no vhosts list in {doc}")
        return doc

    def vhost_stats(self) -> dict[str, dict]:
        return {v["vhost"]: v for v in self.stats()["vhosts"]}

    def health(self) -> dict:
        return self._json_cli("health", "--json")

    def events(self, *filters: str) -> list[dict]:
        """`modsec-observe events --json --limit 0 [filters]`: every event in the
        collector's ring (newest first)."""
        doc = self._json_cli("events", "--json", "--limit", "0", *filters)
        if not isinstance(doc.get("events"), list):
            raise RuntimeError(f"events --json: no events list in {doc}")
        return doc["events"]

    def _json_cli(self, *args: str) -> dict:
        res = self.cli(*args)
        if res.returncode != 0:
            raise RuntimeError(f"modsec-observe {' '.join(args)} failed ({res.returncode}): "
                               f"{res.stderr}{res.stdout}")
        try:
            doc = json.loads(res.stdout)
        except json.JSONDecodeError as e:
            raise RuntimeError(f"modsec-observe {' '.join(args)} printed invalid JSON "
                               f"({e}):\n{res.stdout}") from None
        if not isinstance(doc, dict):
            raise RuntimeError(f"modsec-observe {' '.join(args)}: not an object: {doc}")
        return doc

    def wait_requests(self, expected: dict[str, int], timeout: float = 60.0) -> dict[str, dict]:
        """Poll until every vhost in `expected` reports that many requests; then wait two
        more flush intervals and read again, so an over-count also shows."""
        deadline = time.monotonic() + timeout
        got: dict[str, dict] = {}
        while time.monotonic() < deadline:
            got = self.vhost_stats()
            if all(got.get(v, {}).get("requests") == n for v, n in expected.items()):
                break
            time.sleep(0.1)
        time.sleep(2 * FLUSH_MS / 1000)
        return self.vhost_stats()

    def diagnostics(self) -> str:
        parts = [f"apache dir: {self.apache.dir}", f"collector dir: {self.collector.dir}"]
        if self.collector.log.exists():
            parts.append("--- collector log (tail)\n" + "".join(
                self.collector.log.read_text(errors="replace").splitlines(True)[-20:]))
        # Apache's own lines (not ModSecurity's alerts): a child's lost last counts, a
        # killed child, a refused send.
        apache = [l for l in self.apache.error_log_lines() if "[security2:" not in l]
        if apache:
            parts.append("--- apache error log (tail, without ModSecurity's alerts)\n" +
                         "\n".join(apache[-20:]))
        return "\n".join(parts)


# A child that died of a signal (while Apache runs: AH00051; while it stops: AH00052).
_CHILD_SIGNALLED = re.compile(r"AH0005[12]: child pid (\d+) exit signal (.+?) \(\d+\)")
# Crashes of Apache's own on `-k stop`, told by the crashing thread's backtrace; each was
# seen with and without the module (2026-12-04, beside CPU hogs):
# - mpm_event: on SIGTERM the child's main thread runs signal_threads(ST_UNGRACEFUL) ->
#   close_worker_sockets(), which reads each busy worker's socket (apr_os_sock_get) while
#   that worker may be ending the connection and destroying its pool, the socket with it
#   (7 in 200 stops with four hogs; twice in CI). The same race also faults one call later,
#   in close_socket_at()'s apr_socket_close() of that socket (its pool's cleanup list is
#   gone: apr_pool_cleanup_run -> apr_pool_cleanup_kill), told by the disassembly of
#   Debian's mod_mpm_event: the return address follows the call of apr_socket_close, after
#   apr_os_sock_get and apr_socket_timeout_set (once in CI, 2026-12-06, with the exiting
#   workers destroying their allocators on other threads).
# - mpm_prefork: SIGTERM's handler (just_die -> clean_child_exit) destroys the child's pool
#   at once, from inside whatever the child was doing; when that was an APR pool operation
#   (mod_security2 clearing a pool for Apache's dummy wake-up request) the destroy faults
#   (3 in 40 stops under load with the module, 1 in 40 without it; once in CI).
KNOWN_STOP_CRASHES = {
    "mpm_event close_worker_sockets": re.compile(
        r"#\d+ +0x\S+ in apr_os_sock_get \(\) from \S*libapr-1\.so[^\n]*\n"
        r"#\d+ +0x\S+ in \?\? \(\) from \S*mod_mpm_event\.so"),
    "mpm_event close_worker_sockets (the close)": re.compile(
        r"^#0 +0x\S+ in apr_pool_cleanup_kill \(\) from \S*libapr-1\.so[^\n]*\n"
        r"#1 +0x\S+ in apr_pool_cleanup_run \(\) from \S*libapr-1\.so[^\n]*\n"
        r"#2 +0x\S+ in \?\? \(\) from \S*mod_mpm_event\.so", re.M),
    "mpm_prefork just_die": re.compile(
        r"^#0 +0x\S+ in apr_pool_destroy \(\) from \S*libapr-1\.so[^\n]*\n"
        r"(?:#\d+ +0x\S+ in apr_pool_destroy \(\)[^\n]*\n)*"
        r"(?:#\d+ +0x\S+ in \?\? \(\) from \S*mod_mpm_prefork\.so[^\n]*\n)+"
        r"#\d+ +<signal handler called>", re.M),
}


def known_stop_crash(backtrace: str) -> str | None:
    """The name of the KNOWN_STOP_CRASHES entry `backtrace` shows, or None."""
    return next((name for name, p in KNOWN_STOP_CRASHES.items() if p.search(backtrace)), None)


def start_stack(*, module: Path, daemon: Path, cli: Path, snippet: Path | None, crs: str = "3",
                mpm: str = "event", vhosts: list[VirtualHost] | None = None,
                events: str = "flagged", start_collector: bool = True,
                collector_args: list[str] | None = None, metrics_port: int | None = None,
                observe_extra: str = "", matched_data: str | None = "full",
                **apache_args) -> Stack:
    """Start the collector, then Apache with the module sending to it. On failure both
    are stopped before the exception propagates. `collector_args` go to modsec-observed
    (e.g. ["--events-ring", "50000"]); further keyword arguments to ApacheSandbox
    (paranoia, audit_json, extra_modules, extra_conf, log_level, ...). `metrics_port`:
    serve Prometheus metrics there (--metrics-listen 127.0.0.1:PORT). `observe_extra`:
    further server-level module directives (e.g. ModSecObserveSpool). `matched_data`:
    ModSecObserveMatchedData ("full" so tests can compare findings' data with the logs;
    None leaves the module's default, truncate:32)."""
    collector = Collector(daemon, cli, extra_args=collector_args, metrics_port=metrics_port)
    observe_conf = (f"ModSecObserveSocket {collector.event_socket}\n"
                    f"ModSecObserveFlushInterval {FLUSH_MS}\n"
                    f"ModSecObserveEvents {events}\n" + observe_extra)
    if matched_data is not None:
        observe_conf += f"ModSecObserveMatchedData {matched_data}\n"
    apache = ApacheSandbox(crs=crs, mpm=mpm, vhosts=vhosts, module=module,
                           observe_conf=observe_conf, snippet=snippet, **apache_args)
    stack = Stack(collector, apache)
    try:
        if start_collector:
            collector.start()
        apache.start()
    except BaseException:
        stop_stack(stack, keep=True)
        raise
    return stack


def stop_stack_checked(stack: Stack, keep: bool) -> list[str]:
    """stop_stack(), and what Apache logged while stopping that it should not have
    (unexpected_log_lines(), Apache's own stop crashes left out). The temp dirs are kept
    when there is any, or when `keep`; they are read before they are removed."""
    before = stack.apache.error_log_size()
    stop_stack(stack, keep=True, quiet=True)
    bad = stack.apache.unexpected_log_lines(before, stop_crashes_ok=True)
    stop_stack(stack, keep=keep or bool(bad))  # both already stopped: the dirs only
    return bad


def stop_stack(stack: Stack, keep: bool, quiet: bool = False) -> None:
    """Stop Apache, then the collector; remove their temp dirs unless `keep`
    (or MSO_KEEP_TMP=1)."""
    try:
        stack.apache.stop()
    finally:
        stack.collector.stop()
    if keep or os.environ.get("MSO_KEEP_TMP") == "1":
        if not quiet:
            print(f"\nkept for inspection: {stack.apache.dir} {stack.collector.dir}")
    else:
        shutil.rmtree(stack.apache.dir, ignore_errors=True)
        shutil.rmtree(stack.collector.dir, ignore_errors=True)
