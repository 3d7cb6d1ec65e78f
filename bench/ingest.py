"""Ingest speed: the whole UCI Online Retail file into a fresh SQLite file and PostgreSQL schema.

    .venv/bin/python -m bench.ingest [--pg postgresql://postgres@127.0.0.1:5432/test | --pg '']

Prints rows per second and seconds for each backend, for the first load and for the
re-run that finds every row already there. The goal is the first load under 30 s on SQLite.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from ingest.run import ingest_file
from models.db import get_engine, normalize_url, upgrade

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
FILE = DATA / "online_retail_2010-2011_uci352.csv.gz"
GOAL_SQLITE_SECONDS = 30.0


def run(label: str, url: str) -> float:
    """Both passes against ``url``; returns the seconds of the first load."""
    upgrade(url)
    engine = get_engine(url)
    first = 0.0
    for attempt in ("first load", "re-run"):
        started, cpu = time.perf_counter(), time.process_time()
        summary = ingest_file(kind="orders", path=FILE, fmt="online-retail", engine=engine)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        first = first or seconds
        print(
            f"{label:10} {attempt:10} {summary.read:,} rows in {seconds:5.1f} s "
            f"(Python CPU {cpu:4.1f} s) = {summary.read / seconds:7,.0f} rows/s "
            f"(loaded {summary.loaded:,}, guest lines {summary.guest_lines:,}, "
            f"duplicates {summary.duplicates:,})",
            flush=True,
        )
    engine.dispose()
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL server ('' to skip); a schema of its own is made and dropped",
    )
    args = parser.parse_args()
    print(f"{FILE.name}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        seconds = run("sqlite", f"sqlite:///{tmp}/bench.db")
    verdict = "within" if seconds < GOAL_SQLITE_SECONDS else "OVER"
    print(f"sqlite first load {seconds:.1f} s: {verdict} the {GOAL_SQLITE_SECONDS:.0f} s goal")
    if args.pg:
        schema = f"bench_ingest_{os.getpid()}"
        admin = get_engine(args.pg)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            run("postgresql", f"{normalize_url(args.pg)}?options=-csearch_path%3D{schema}")
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
