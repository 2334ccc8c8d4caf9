"""Fixtures for the integration tests: the built binaries, and a running stack
(modsec-observed + a sandboxed Apache with mod_security2, CRS and mod_modsec_observe).

A stack is started once per configuration (module scope) and always stopped, also when
a test or the start-up fails. Temp dirs are removed when every test that used them
passed, and kept (and named in the output) otherwise; MSO_KEEP_TMP=1 always keeps them.

Strict mode (MSO_STRICT=1, which scripts/test.sh sets unless MSO_ALLOW_SKIPS=1): a
skipped test fails instead, whatever skipped it (a skip/skipif mark or pytest.skip()),
so a CI machine without nghttp, promtool, chromium or root does not pass by testing less.
The one skip allowed is CRS 4's directory being absent (`CRS4_ABSENT`), which the -ra
summary still names.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sandbox import (Stack, build_dir, crs4_dir, repo_root, start_stack,  # noqa: E402
                     stop_stack)


STRICT = os.environ.get("MSO_STRICT") == "1"
CRS4_ABSENT = ("CRS 4 not found: set MSO_CRS4_DIR or put crs-4.28.0 in <repo>/../shared/ "
               "(CRS 4 tests skipped)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Strict mode: turn every skip but CRS4_ABSENT into a failure of that phase (a skip
    in set-up, where marks act, is then reported as an error)."""
    outcome = yield
    report = outcome.get_result()
    if not STRICT or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if CRS4_ABSENT in reason:
        return
    report.outcome = "failed"
    report.longrepr = (f"skipped, which strict mode (MSO_STRICT=1) fails: "
                       f"{reason.removeprefix('Skipped: ')}\ninstall what the test needs "
                       "(scripts/common.sh), or run with MSO_ALLOW_SKIPS=1")


QLEN = Path("/proc/sys/net/unix/max_dgram_qlen")
RECOMMENDED_QLEN = 8192   # packaging/99-modsec-observe.conf


@pytest.fixture(scope="session", autouse=True)
def unix_datagram_queue():
    """Run with the datagram queue length packaging/99-modsec-observe.conf recommends, as a
    production install would: Linux's default of 10 lets a burst from 8 client threads
    overflow the event socket, and exact counts would then depend on scheduling. Set
    (as root) for the session and restored afterwards."""
    old = int(QLEN.read_text()) if QLEN.exists() else None
    changed = False
    if old is not None and old < RECOMMENDED_QLEN and os.geteuid() == 0:
        try:
            QLEN.write_text(str(RECOMMENDED_QLEN))
            changed = True
        except OSError as e:
            print(f"cannot raise {QLEN} ({e}); bursts may lose events", file=sys.stderr)
    yield
    if changed:
        QLEN.write_text(str(old))


@dataclass(frozen=True)
class Binaries:
    module: Path
    daemon: Path
    cli: Path
    snippet: Path


@pytest.fixture(scope="session")
def binaries() -> Binaries:
    """The built module, collector, CLI and the ModSecurity snippet. CI builds them before
    running the tests, so a missing one is a failure, not a skip."""
    b = build_dir()
    bins = Binaries(module=b / "mod_modsec_observe" / "mod_modsec_observe.so",
                    daemon=b / "collector" / "modsec-observed",
                    cli=b / "collector" / "modsec-observe",
                    snippet=repo_root() / "conf" / "modsec_observe_rules.conf")
    missing = [str(p) for p in (bins.module, bins.daemon, bins.cli, bins.snippet)
               if not p.is_file()]
    if missing:
        pytest.fail("missing build outputs (build first: cmake -S . -B build -G Ninja && "
                    "ninja -C build; or set MSO_BUILD_DIR): " + ", ".join(missing),
                    pytrace=False)
    return bins


def crs_params(*versions: str) -> list:
    """pytest params for CRS versions; CRS 4 is skipped with a reason when absent (the
    one skip strict mode allows)."""
    params = []
    for v in versions:
        marks = []
        if v == "4" and crs4_dir() is None:
            marks.append(pytest.mark.skip(reason=CRS4_ABSENT))
        params.append(pytest.param(v, marks=marks, id=f"crs{v}"))
    return params


@pytest.fixture(scope="session")
def stack_factory(binaries, request):
    """Start stacks; each is stopped by its user or, at the latest, at session end, and
    its temp dirs then removed unless a test of the session failed (they are named)."""
    started: list[Stack] = []

    def make(**kwargs) -> Stack:
        kwargs.setdefault("snippet", binaries.snippet)
        s = start_stack(module=binaries.module, daemon=binaries.daemon, cli=binaries.cli,
                        **kwargs)
        started.append(s)
        return s

    yield make
    keep = request.session.testsfailed > 0
    for s in started:
        stop_stack(s, keep=keep)
