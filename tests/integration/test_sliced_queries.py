"""Queries over every vhost (`stats`, `vhosts`, `rules` without `vhost`) and `events`
from the ring are built a slice at a time between the loop's other work (docs/ARCHITECTURE.md, "Queries in
slices"): behaviour only, never speed.

- answered, well-formed and complete while datagrams keep arriving, and nothing sent is
  lost (the sender blocks when the queue is full, so every datagram must be counted);
- a client's answers keep the order of its request lines when a sliced query is followed
  by others in the same write (per-vhost queries, health, another sliced query);
- a client that closes, or reads nothing for a while, during a sliced answer;
- SIGTERM during a sliced answer: the daemon exits promptly and cleanly.

No Apache: modsec-observed alone, fed raw datagrams (as in test_security.py).
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time

from test_security import daemons, encode, event, query_connection  # noqa: F401 (a fixture)

VHOSTS = 1000
NEWLINE = b"\n"


def vhost(i: int) -> str:
    return f"v{i:04d}.sliced.test"


def seed(d, count: int = VHOSTS) -> None:
    d.send(*(encode(event(vhost(i), unique_id=f"seed{i}")) for i in range(count)))
    h = d.wait_health(lambda h: h["datagrams"] >= count, timeout=30)
    assert h["datagrams"] == count and h["malformed"] == 0, h


def read_lines(s: socket.socket, n: int) -> list[dict]:
    data = b""
    while data.count(b"\n") < n:
        chunk = s.recv(1 << 20)
        assert chunk, f"closed after {data.count(NEWLINE)} of {n} answers"
        data += chunk
    lines = data.split(b"\n")
    assert lines[n:] == [b""], "more than the answers asked for"
    return [json.loads(line) for line in lines[:n]]


def check_stats(answer: dict, at_least: int) -> None:
    assert answer["ok"] is True
    names = [v["vhost"] for v in answer["vhosts"]]
    assert names == sorted(set(names)), "each vhost once, in name order"
    assert len(names) >= at_least
    assert all("requests" in v and "rules" in v for v in answer["vhosts"])


def test_all_vhost_queries_while_datagrams_keep_arriving(daemons):
    d = daemons()
    seed(d)
    stop = threading.Event()
    sent = [0]

    def sender() -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            i = 0
            while not stop.is_set():
                # Existing vhosts and new ones, on both sides of any cursor.
                name = vhost(i % VHOSTS) if i % 2 else f"new{i:06d}.sliced.test"
                s.sendto(encode(event(name, unique_id=f"live{i}")), str(d.event_socket))
                i += 1
            sent[0] = i

    t = threading.Thread(target=sender)
    t.start()
    try:
        with query_connection(d) as s:
            s.settimeout(60)
            for _ in range(3):
                s.sendall(b'{"cmd":"stats"}\n{"cmd":"vhosts"}\n{"cmd":"rules"}\n'
                          b'{"cmd":"events","limit":0}\n')
                stats, vhosts, rules, events = read_lines(s, 4)
                check_stats(stats, VHOSTS)
                assert vhosts["ok"] is True and len(vhosts["vhosts"]) >= VHOSTS
                names = [v["vhost"] for v in vhosts["vhosts"]]
                assert names == sorted(set(names))
                assert rules["ok"] is True
                assert {r["vhost"] for r in rules["rules"]} >= {vhost(i) for i in range(VHOSTS)}
                # The ring as it was when asked, newest first: whole events, each once.
                assert events["ok"] is True and events["from"] == "ring"
                ids = [e["unique_id"] for e in events["events"]]
                assert VHOSTS <= len(ids) <= 10_000 and len(set(ids)) == len(ids)
                live = [int(u[4:]) for u in ids if u.startswith("live")]
                assert live == sorted(live, reverse=True)
                assert all(e["rules"] and e["verdict"] for e in events["events"])
    finally:
        stop.set()
        t.join()
    total = VHOSTS + sent[0]
    h = d.wait_health(lambda h: h["datagrams"] >= total, timeout=30)
    assert h["datagrams"] == total, "a datagram the sender handed over was lost"
    assert h["bad_queries"] == 0


def test_answers_keep_the_order_of_the_lines(daemons):
    d = daemons()
    seed(d, 300)
    with query_connection(d) as s:
        s.settimeout(60)
        s.sendall(b'{"cmd":"stats"}\n'
                  b'{"cmd":"health"}\n'
                  b'{"cmd":"stats","vhost":"v0007.sliced.test"}\n'
                  b'{"cmd":"vhosts"}\n'
                  b'{"cmd":"bogus"}\n'
                  b'{"cmd":"rules","rule":"942100"}\n'
                  b'{"cmd":"stats","rules_limit":1}\n'
                  b'{"cmd":"top","list":"paths"}\n'
                  b'{"cmd":"timeseries"}\n'
                  b'{"cmd":"events","vhost":"v0007.sliced.test"}\n'
                  b'{"cmd":"events","limit":5}\n')
        stats, health, one, vhosts, bogus, rules, lean, top, series, seven, five = read_lines(s, 11)
    check_stats(stats, 300)
    assert "datagrams" in health and isinstance(health["vhosts"], int)
    assert [v["vhost"] for v in one["vhosts"]] == ["v0007.sliced.test"]
    assert len(vhosts["vhosts"]) == 300 and "ports" not in vhosts["vhosts"][0]
    assert bogus["ok"] is False
    assert len(rules["rules"]) == 300 and all(r["id"] == "942100" for r in rules["rules"])
    check_stats(lean, 300)
    assert all(len(v["rules"]) <= 1 for v in lean["vhosts"])
    # One list merged over the 300 vhosts: every seeded request counted once.
    assert top["capacity"] == 64 and top["error_bound"] == 0
    assert sum(e["count"] for e in top["top"]) == sum(v["events"] for v in stats["vhosts"])
    assert sorted(x["vhost"] for x in series["series"]) == [v["vhost"] for v in vhosts["vhosts"]]
    assert [e["unique_id"] for e in seven["events"]] == ["seed7"]
    assert [e["unique_id"] for e in five["events"]] == [f"seed{i}" for i in range(299, 294, -1)]


def test_a_client_that_leaves_or_stalls_during_a_sliced_answer(daemons):
    d = daemons()
    seed(d)
    for _ in range(5):  # ask and leave at once, before the answer is built
        with query_connection(d) as s:
            s.sendall(b'{"cmd":"stats"}\n{"cmd":"stats"}\n')
    # A client that reads nothing for a while: its answer (megabytes) waits for it.
    with query_connection(d) as slow:
        slow.sendall(b'{"cmd":"stats"}\n{"cmd":"health"}\n')
        time.sleep(1.5)
        assert d.health()["vhosts"] == VHOSTS  # others are answered meanwhile
        slow.settimeout(60)
        stats, health = read_lines(slow, 2)
    check_stats(stats, VHOSTS)
    assert health["datagrams"] == VHOSTS
    assert d.proc.poll() is None


def test_sigterm_during_a_sliced_answer_exits_cleanly(daemons):
    d = daemons()
    seed(d)
    clients = []
    for _ in range(4):
        s = query_connection(d)
        s.sendall(b'{"cmd":"stats"}\n{"cmd":"rules"}\n')
        clients.append(s)
    d.proc.send_signal(signal.SIGTERM)
    try:
        assert d.proc.wait(timeout=10) == 0
    finally:
        for s in clients:
            s.close()
    assert "stopped" in d.log_text()
