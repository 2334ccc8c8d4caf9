"""The request corpus the nginx + ModSecurity v3 tests send (test_nginx_v3.py,
test_console_v3.py), and what nginx's error log says about each transaction: the truth
the posted entries are compared with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nginx_sandbox import NginxSandbox

SQLI = "id=1%27%20OR%201%3D1--"
XSS = "q=%3Cscript%3Ealert%281%29%3C%2Fscript%3E"
SCANNER = {"User-Agent": "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)"}


@dataclass
class Sent:
    host: str
    method: str
    target: str            # request target, unique per request (`n=`)
    clean: bool            # a request no rule should flag
    status: int = 0


def corpus() -> list[tuple[str, str, str, dict[str, str], bytes | None]]:
    """(host, method, path, headers, body): flagged requests on both engines, a deny by
    a non-CRS rule, raw Latin-1 and invalid UTF-8 in a body, a large entry, clean ones."""
    big = "+".join(["union+select+password+from+users"] * 150)
    out = []
    for host in ("detect.test", "block.test"):
        out += [
            (host, "GET", f"/index.html?{SQLI}", {}, None),
            (host, "GET", f"/missing.html?{XSS}", {}, None),
            (host, "GET", "/index.html", SCANNER, None),
            (host, "POST", "/index.html", {"Content-Type": "application/json"}, b'{"a":'),
            (host, "GET", f"/index.html?{SQLI}&{XSS}", {}, None),
            (host, "GET", "/index.html", {}, None),                      # clean
        ]
    out += [
        ("block.test", "GET", "/index.html?file=../../../../etc/passwd", {}, None),
        ("block.test", "POST", "/index.html",
         {"Content-Type": "application/x-www-form-urlencoded"},
         b"name=caf\xe9&x=\xff\xfe%27%20OR%201%3D1--"),
        ("detect.test", "GET", f"/index.html?q={big}", {}, None),
    ]
    return out


def send_corpus(nginx: NginxSandbox) -> list[Sent]:
    sent = []
    for n, (host, method, path, headers, body) in enumerate(corpus()):
        target = f"{path}{'&' if '?' in path else '?'}n={n}"
        s = Sent(host, method, target, path == "/index.html" and not headers and not body)
        s.status = nginx.request(host, target, method=method, headers=headers, body=body).status
        sent.append(s)
    return sent


_REQUEST = re.compile(r', server: ([^,]+), request: "([A-Z]+) (\S+) HTTP/[\d.]+"')
_UID = re.compile(r'\[unique_id "([^"]+)"\]')
_ID = re.compile(r'\[id "(\d+)"\]')


@dataclass
class Truth:
    """What nginx's error log says about one transaction. nginx cuts error-log lines at
    2,048 bytes: a long request loses the `server:` and `request:` tail of every line,
    and then host and target stay None."""
    host: str | None
    target: str | None
    rules: set[str]
    denied: bool


def error_log_truth(nginx: NginxSandbox) -> dict[str, Truth]:
    out: dict[str, Truth] = {}
    for line in nginx.modsec_lines():
        uid = _UID.search(line)
        assert uid, f"alert line without unique_id: {line[:300]}"
        t = out.setdefault(uid.group(1), Truth(None, None, set(), False))
        req = _REQUEST.search(line)
        if req:
            t.host, t.target = req.group(1), req.group(3)
        rid = _ID.search(line)
        if rid:
            t.rules.add(rid.group(1))
        t.denied = t.denied or "ModSecurity: Access denied" in line
    return out
