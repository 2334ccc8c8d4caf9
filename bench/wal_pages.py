#!/usr/bin/python3
"""Which tables and indexes the history writer's commits write (issue 11, item 4).

Runs `store_bench --events N --rate R --insert-only --keep` into a fresh directory,
kills it (SIGKILL, so SQLite does not checkpoint and delete the WAL) a few seconds after
its progress line for `--at` events, reads the frames of the commits still in the WAL
(page numbers, from the frame headers), and names each page's B-tree with SQLite's
`dbstat` table on the database as the kill left it (opening it replays the WAL). Prints
the distinct pages per commit, by B-tree: what each batch of events costs in pages
written to the WAL (and again when they are checkpointed into the database).

    bench/wal_pages.py --build build --at 2000000 --at 9000000
    bench/wal_pages.py --build build --request-ms 50 --at 1000000 --at 9000000

`--request-ms N` passes store_bench's option of that name (each event its request's start,
up to N ms before its place in the stream: out of order, as the module sends them). The
counts are distinct pages: a page written twice within a commit counts once.

Needs the disk for the database (about 450 bytes per event) under `--dir`, in a
directory of its own that it removes. Pages that dbstat names no B-tree for are on the
free list.
"""
from __future__ import annotations

import argparse
import collections
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time
from pathlib import Path

WAL_HEADER = 32
FRAME_HEADER = 24
WAL_MAGIC = (0x377F0682, 0x377F0683)


def wal_commits(wal: bytes) -> tuple[int, list[list[int]]]:
    """(page size, the page numbers of each commit) of the valid frames of a WAL file:
    those carrying the header's salts, up to the last commit frame."""
    if len(wal) < WAL_HEADER:
        raise ValueError(f"not a WAL file: {len(wal)} bytes")
    magic, _, page_size, _, salt1, salt2 = struct.unpack_from(">IIIIII", wal, 0)
    if magic not in WAL_MAGIC or page_size < 512 or page_size & (page_size - 1):
        raise ValueError(f"not a WAL file: magic {magic:#x}, page size {page_size}")
    commits: list[list[int]] = []
    current: list[int] = []
    off = WAL_HEADER
    while off + FRAME_HEADER + page_size <= len(wal):
        page, commit_size, s1, s2 = struct.unpack_from(">IIII", wal, off)
        if (s1, s2) != (salt1, salt2):
            break
        current.append(page)
        if commit_size:
            commits.append(current)
            current = []
        off += FRAME_HEADER + page_size
    return page_size, commits


def snapshot(store_bench: Path, events: int, rate: int, at: int, directory: Path,
             request_ms: int = 0) -> Path:
    """Runs store_bench until its progress passed `at` events (plus 4 s), kills it, and
    returns the WAL's path."""
    err = directory / "progress.txt"
    with open(err, "wb") as progress:
        proc = subprocess.Popen([str(store_bench), "--events", str(events), "--rate", str(rate),
                                 "--insert-only", "--keep", "--dir", str(directory)]
                                + (["--request-ms", str(request_ms)] if request_ms else []),
                                stdout=subprocess.DEVNULL, stderr=progress)
    try:
        while True:
            lines = err.read_text().splitlines()
            counts = [int(l.split()[0]) for l in lines if l.split() and l.split()[0].isdigit()]
            if any(n >= at for n in counts):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"store_bench ended before {at} events: {lines[-1:]}")
            time.sleep(0.5)
        time.sleep(4)
        if proc.poll() is not None:
            raise RuntimeError("store_bench finished (and checkpointed its WAL) before the "
                               f"snapshot at {at} events: ask for more --events")
    finally:
        proc.kill()
        proc.wait()
    return directory / "history.db-wal"


def report(wal_path: Path) -> None:
    """Prints the distinct pages per commit of the WAL at `wal_path`, by B-tree."""
    page_size, commits = wal_commits(wal_path.read_bytes())
    con = sqlite3.connect(wal_path.with_name("history.db"))
    owner = dict(con.execute("SELECT pageno, name FROM dbstat"))
    stored = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()
    per_tree: collections.Counter[str] = collections.Counter()
    for pages in commits:
        for page in set(pages):
            per_tree[owner.get(page, "(free list)")] += 1
    n = max(len(commits), 1)
    total = sum(per_tree.values()) / n
    print(f"## {stored:,} events stored: {len(commits)} commits in the WAL, "
          f"{total:,.0f} distinct pages of {page_size} bytes per commit")
    print("| B-tree | pages per commit | share |")
    print("| --- | ---: | ---: |")
    for name, count in per_tree.most_common():
        print(f"| {name} | {count / n:,.0f} | {100 * count / n / total:.1f} % |")
    print(flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="the build directory (bench/store_bench)")
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--rate", type=int, default=100_000, help="store_bench --rate")
    ap.add_argument("--at", type=int, action="append", required=True,
                    help="events stored before the snapshot; repeatable")
    ap.add_argument("--dir", default="/var/tmp", help="where its own directory is made")
    ap.add_argument("--request-ms", type=int, default=0,
                    help="store_bench --request-ms (events in their requests' start order)")
    args = ap.parse_args()
    store_bench = Path(args.build) / "bench" / "store_bench"
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    for at in args.at:
        work = Path(tempfile.mkdtemp(prefix="mso-wal-pages-", dir=args.dir))
        try:
            report(snapshot(store_bench, args.events, args.rate, at, work, args.request_ms))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
