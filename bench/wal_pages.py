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

Needs the disk for the database (about 450 bytes per event) in `--dir`.
"""
from __future__ import annotations

import argparse
import collections
import shutil
import sqlite3
import struct
import subprocess
import time
from pathlib import Path

WAL_HEADER = 32
FRAME_HEADER = 24


def wal_commits(wal: bytes) -> tuple[int, list[list[int]]]:
    """(page size, the page numbers of each commit) of the valid frames of a WAL file:
    those carrying the header's salts, up to the last commit frame."""
    _, _, page_size, _, salt1, salt2 = struct.unpack_from(">IIIIII", wal, 0)
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


def snapshot(store_bench: Path, events: int, rate: int, at: int, directory: Path) -> Path:
    """Runs store_bench until its progress passed `at` events (plus 4 s), kills it, and
    returns the WAL's path."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    err = directory / "progress.txt"
    with open(err, "wb") as progress:
        proc = subprocess.Popen([str(store_bench), "--events", str(events), "--rate", str(rate),
                                 "--insert-only", "--keep", "--dir", str(directory)],
                                stdout=subprocess.DEVNULL, stderr=progress)
    try:
        while True:
            lines = err.read_text().splitlines()
            if any(int(l.split()[0]) >= at for l in lines if l.split()[0].isdigit()):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"store_bench ended before {at} events: {lines[-1:]}")
            time.sleep(0.5)
        time.sleep(4)
    finally:
        proc.kill()
        proc.wait()
    return directory / "history.db-wal"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="the build directory (bench/store_bench)")
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--rate", type=int, default=100_000, help="store_bench --rate")
    ap.add_argument("--at", type=int, action="append", required=True,
                    help="events stored before the snapshot; repeatable")
    ap.add_argument("--dir", default="/var/tmp/mso-wal-pages")
    args = ap.parse_args()
    store_bench = Path(args.build) / "bench" / "store_bench"
    for at in args.at:
        wal_path = snapshot(store_bench, args.events, args.rate, at, Path(args.dir))
        page_size, commits = wal_commits(wal_path.read_bytes())
        con = sqlite3.connect(wal_path.with_name("history.db"))
        owner = dict(con.execute("SELECT pageno, name FROM dbstat"))
        stored = con.execute("SELECT count(*) FROM events").fetchone()[0]
        con.close()
        per_tree: collections.Counter[str] = collections.Counter()
        for pages in commits:
            for page in set(pages):
                per_tree[owner.get(page, "(free or new)")] += 1
        n = max(len(commits), 1)
        total = sum(per_tree.values()) / n
        print(f"## {stored:,} events stored: {len(commits)} commits in the WAL, "
              f"{total:,.0f} distinct pages of {page_size} bytes per commit")
        print("| B-tree | pages per commit | share |")
        print("| --- | ---: | ---: |")
        for name, count in per_tree.most_common():
            print(f"| {name} | {count / n:,.0f} | {100 * count / n / total:.1f} % |")
        print(flush=True)
    shutil.rmtree(args.dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
