"""The snippet's anomaly scores (conf/modsec_observe_rules.conf) as the module reports
them, for CRS 3.3.4 and CRS 4 at paranoia level 2: thresholds, paranoia levels, the
per-level scores and their totals, for a SQL injection and for a request that only a
PL2 rule scores, next to a request nothing scores (the snippet ran: scores 0, thresholds
and paranoia levels unknown). And the CRS convention the snippet's first check relies
on: every rule that adds to a per-level score carries a severity."""

from __future__ import annotations

import http.client
import re
from pathlib import Path

import pytest

import corpus
from conftest import crs_params
from sandbox import CRS3_RULES, VirtualHost, crs4_dir, stop_stack

SQLI = "/?id=1%27%20OR%201%3D1--"


def get(port: int, path: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": "score.test"})
        conn.getresponse().read()
    finally:
        conn.close()


@pytest.mark.parametrize("crs", crs_params("3", "4"))
@pytest.mark.parametrize("paranoia", [1, 2])
def test_scores_per_crs_version(stack_factory, crs, paranoia):
    stack = stack_factory(crs=crs, paranoia=paranoia, events="all",
                          vhosts=[VirtualHost("score.test", "DetectionOnly",
                                              files=corpus.LEAK_FILES)])
    failed = True
    try:
        for path in (SQLI, "/clean", "/leak/sql.html"):
            get(stack.apache.port, path)
        stack.wait_requests({"score.test": 3})
        events = {e["path"]: e for e in stack.events()}
        by_path = {path: e["scores"] for path, e in events.items()}
        sqli = by_path["/"]
        assert sqli is not None
        assert (sqli["inbound_threshold"], sqli["outbound_threshold"]) == (5, 4), sqli
        assert sqli["blocking_pl"] == paranoia and sqli["detection_pl"] == paranoia, sqli
        assert sqli["inbound_pl"][0] >= 5, sqli            # 942100 and friends, critical
        assert sqli["inbound"] == sum(sqli["inbound_pl"][:paranoia]), sqli
        assert all(v == 0 for v in sqli["inbound_pl"][paranoia:]), sqli
        # The blocking totals as CRS itself reports them (at level 1 the snippet leaves
        # them and the blocking level out, and the module derives them).
        reported = crs_reported_totals(events["/"]["rules"], crs)
        assert reported["inbound"] == sqli["inbound"], (reported, sqli)
        if "outbound" in reported:
            assert reported["outbound"] == sqli["outbound"], (reported, sqli)
        # A response that leaks an SQL error scores outbound (951xxx).
        leak = by_path["/leak/sql.html"]
        assert leak["outbound_pl"][0] >= 4, leak
        assert leak["outbound"] == sum(leak["outbound_pl"][:paranoia]), leak
        reported = crs_reported_totals(events["/leak/sql.html"]["rules"], crs, outbound=True)
        assert reported["outbound"] == leak["outbound"], (reported, leak)
        clean = by_path["/clean"]
        assert clean is not None                          # the snippet ran
        if paranoia == 1:
            assert clean["inbound"] == 0 and clean["inbound_pl"] == [0, 0, 0, 0], clean
            # Exported only for requests that scored: unknown, not 0.
            for key in ("inbound_threshold", "outbound_threshold", "blocking_pl",
                        "detection_pl"):
                assert clean[key] is None, clean
        else:  # a PL2 rule scores the bare request (e.g. a missing Accept header)
            assert clean["inbound"] == sum(clean["inbound_pl"][:2]) > 0, clean
            assert clean["blocking_pl"] == 2, clean
        failed = False
    finally:
        stop_stack(stack, keep=failed)


def crs_reported_totals(findings: list[dict], crs: str,
                        outbound: bool = False) -> dict[str, int]:
    """The blocking totals CRS's reporting rule logged: CRS 4's 980170 (inbound and
    outbound, on every request with a score at the default reporting level), CRS 3.3's
    980130 (inbound, once it reaches the threshold) or with `outbound` 980140 (outbound,
    likewise)."""
    if crs == "4":
        rule, patterns = "980170", {"inbound": r"Inbound Scores: blocking=(\d+)",
                                    "outbound": r"Outbound Scores: blocking=(\d+)"}
    elif outbound:
        rule, patterns = "980140", {"outbound": r"Outbound Anomaly Score Exceeded \(score (\d+)\)"}
    else:
        rule, patterns = "980130", {"inbound": r"Total Inbound Score: (\d+)"}
    messages = [f.get("msg", "") for f in findings if f.get("id") == rule]
    assert len(messages) == 1, (rule, [f.get("id") for f in findings])
    totals = {}
    for key, pattern in patterns.items():
        match = re.search(pattern, messages[0])
        assert match, (rule, messages[0])
        totals[key] = int(match.group(1))
    return totals


# A setvar that adds to a per-level anomaly score (CRS 3: anomaly_score_pl1,
# outbound_anomaly_score_pl1; CRS 4: inbound_/outbound_anomaly_score_pl1; 1 to 4).
_ADDS_TO_LEVEL = re.compile(
    r"setvar:'?tx\.(?:inbound_|outbound_)?anomaly_score_pl[1-4]=\+", re.IGNORECASE)
_SEVERITY = re.compile(r"severity:'?(\w+)", re.IGNORECASE)
_CHAINED = re.compile(r"[\",]\s*chain\s*[,\"]")


def rule_chains(rules_dir: Path):
    """(file, [directive, ...]) for each rule or chain of SecRule/SecAction directives,
    continuation lines joined."""
    for conf in sorted(rules_dir.glob("*.conf")):
        text = conf.read_text(errors="replace").replace("\\\n", " ")
        chain: list[str] = []
        for line in text.splitlines():
            directive = line.strip()
            if not directive.startswith(("SecRule", "SecAction")):
                continue
            chain.append(directive)
            if not _CHAINED.search(directive):
                yield conf.name, chain
                chain = []


@pytest.mark.parametrize("crs", crs_params("3", "4"))
def test_every_crs_scoring_rule_has_a_severity(crs):
    """The snippet (99902) skips the score export when HIGHEST_SEVERITY is 255 (no rule
    with a severity matched). That is exact only while every rule that raises a
    per-level score has a severity on its first directive (ModSecurity records the
    chain starter's severity when the whole chain matches) and it is not EMERGENCY
    (ModSecurity ignores severity 0 there)."""
    rules_dir = CRS3_RULES if crs == "3" else crs4_dir() / "rules"
    scoring, missing = 0, []
    for name, chain in rule_chains(rules_dir):
        if not any(_ADDS_TO_LEVEL.search(d) for d in chain):
            continue
        scoring += 1
        severity = _SEVERITY.search(chain[0])
        if severity is None or severity.group(1).upper() in ("0", "EMERGENCY"):
            missing.append(f"{name}: {chain[0][:120]}")
    assert scoring > 200, f"only {scoring} scoring rules found in {rules_dir}"
    assert not missing, "\n".join(missing)
