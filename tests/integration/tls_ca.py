"""A throw-away certificate authority for loopback TLS tests, made with `openssl`.

`make_test_ca(dir)` writes ca.pem (the CA), server.pem / server.key (a leaf for
127.0.0.1 and localhost, signed by the CA) and other-ca.pem (an unrelated CA, to show
that an untrusted certificate is refused). Nothing is installed anywhere: a test hands
ca.pem to the client it starts (e.g. NginxSandbox(ca_bundle=...)).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class TlsCa:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    other_ca_cert: Path
    # A certificate signed by the test CA whose names do not include 127.0.0.1.
    wrong_name_cert: Path
    wrong_name_key: Path


def _openssl(*args: str) -> None:
    res = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{res.stderr}")


def _leaf(d: Path, name: str, ca: str, ca_key: str, san: str) -> tuple[Path, Path]:
    key, csr, cert, ext = (d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem",
                           d / f"{name}.ext")
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-subj", f"/CN={name}", "-out", str(csr))
    _openssl("x509", "-req", "-in", str(csr), "-CA", ca, "-CAkey", ca_key,
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", str(ext), "-out", str(cert))
    return cert, key


def make_test_ca(d: Path) -> TlsCa:
    d.mkdir(parents=True, exist_ok=True)
    for name in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", f"/CN=modsec-observe test {name}", "-keyout", str(d / f"{name}.key"),
                 "-out", str(d / f"{name}.pem"),
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ca, ca_key = str(d / "ca.pem"), str(d / "ca.key")
    server_cert, server_key = _leaf(d, "server", ca, ca_key, "IP:127.0.0.1,DNS:localhost")
    wrong_cert, wrong_key = _leaf(d, "wrong-name", ca, ca_key, "DNS:collector.invalid")
    return TlsCa(d / "ca.pem", server_cert, server_key, d / "other-ca.pem", wrong_cert,
                  wrong_key)
