"""The snippet's anomaly scores (conf/modsec_observe_rules.conf) as the module reports
them, for CRS 3.3.4 and CRS 4 at paranoia level 2: thresholds, paranoia levels, the
per-level scores and their totals, for a SQL injection and for a request that only a
PL2 rule scores, next to a request nothing scores (the snippet ran: scores 0, thresholds
and paranoia levels unknown)."""

from __future__ import annotations

import http.client

import pytest

from conftest import crs_params
from sandbox import VirtualHost, stop_stack

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
                          vhosts=[VirtualHost("score.test", "DetectionOnly")])
    failed = True
    try:
        for path in (SQLI, "/clean"):
            get(stack.apache.port, path)
        stack.wait_requests({"score.test": 2})
        by_path = {e["path"]: e["scores"] for e in stack.events()}
        sqli = by_path["/"]
        assert sqli is not None
        assert (sqli["inbound_threshold"], sqli["outbound_threshold"]) == (5, 4), sqli
        assert sqli["blocking_pl"] == paranoia and sqli["detection_pl"] == paranoia, sqli
        assert sqli["inbound_pl"][0] >= 5, sqli            # 942100 and friends, critical
        assert sqli["inbound"] == sum(sqli["inbound_pl"][:paranoia]), sqli
        assert all(v == 0 for v in sqli["inbound_pl"][paranoia:]), sqli
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
