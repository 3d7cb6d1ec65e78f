"""Ingest speed: the whole UCI Online Retail file into SQLite and PostgreSQL.

    .venv/bin/python -m bench.ingest [--pg postgresql://postgres@127.0.0.1:5432/test]

Prints rows per second for each backend (first load, then the re-run that loads nothing).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from ingest.run import ingest_file
from models.db import get_engine, normalize_url, upgrade

FILE = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "data"
    / "online_retail_2010-2011_uci352.csv.gz"
)


def run(label: str, url: str) -> None:
    upgrade(url)
    engine = get_engine(url)
    for attempt in ("first load", "re-run"):
        started = time.perf_counter()
        summary = ingest_file(kind="orders", path=FILE, fmt="online-retail", engine=engine)
        seconds = time.perf_counter() - started
        print(
            f"{label:10} {attempt:10} {summary.read:,} rows in {seconds:5.1f} s = {summary.read / seconds:8,.0f} rows/s (loaded {summary.loaded:,}, duplicates {summary.duplicates:,})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL server ('' to skip)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{tmp}/bench.db")
    if args.pg:
        admin = get_engine(args.pg)
        with admin.begin() as conn:
            conn.execute(
                text("DROP SCHEMA IF EXISTS bench_ingest CASCADE; CREATE SCHEMA bench_ingest")
            )
        try:
            run("postgresql", f"{normalize_url(args.pg)}?options=-csearch_path%3Dbench_ingest")
        finally:
            with admin.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS bench_ingest CASCADE"))


if __name__ == "__main__":
    main()
