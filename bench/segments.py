"""Segment refresh speed and memory at 100,000 and 1,000,000 customers (10 orders each).

    .venv/bin/python -m bench.segments [--sizes 100000 1000000] [--backends postgresql sqlite]

For each size and backend: load a store, run a full refresh (features, RFM, predictions,
clusters, rules, snapshots), and print the time of each step and the peak memory. Next to
it, a plain pandas computation of the same RFM features from the same rows in memory.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date

import pandas as pd

from bench.bigstore import END, Store, load_postgres, load_sqlite, timed
from models.db import get_engine
from segments.refresh import refresh

AS_OF = date(2026, 11, 20)


def pandas_rfm(store: Store) -> float:
    """The same features (last order, orders, revenue) and quintile scores in pandas."""
    frame = pd.concat(list(store.order_chunks()), ignore_index=True)[
        ["customer_id", "ordered_at", "total"]
    ]
    frame["ordered_at"] = pd.to_datetime(frame.ordered_at)
    started = time.perf_counter()
    g = frame.groupby("customer_id").agg(
        last=("ordered_at", "max"),
        first=("ordered_at", "min"),
        n=("total", "size"),
        revenue=("total", "sum"),
    )
    days = (pd.Timestamp(END) - g["last"]).dt.days
    g["r"] = pd.qcut(days, 5, labels=[5, 4, 3, 2, 1])
    g["f"] = pd.qcut(g.sort_values("first").n.rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    g["m"] = pd.qcut(g.revenue, 5, labels=[1, 2, 3, 4, 5])
    return time.perf_counter() - started


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    for size in args.sizes:
        store = Store(customers=size)
        print(f"== {size:,} customers", flush=True)
        for backend in args.backends:
            with tempfile.TemporaryDirectory() as tmp:
                print(f" {backend}", flush=True)
                if backend == "sqlite":
                    url = timed("load", load_sqlite, f"{tmp}/bench.db", store)
                else:
                    url = timed("load", load_postgres, args.pg, "bench_segments", store)
                engine = get_engine(url)
                with engine.connect() as conn:
                    orders = conn.exec_driver_sql("SELECT count(*) FROM orders").scalar()
                print(f"  orders: {orders:,}")
                result = timed("full refresh", refresh, engine, as_of=AS_OF)
                steps = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
                print(f"  steps: {steps}")
                print(
                    f"  RFM feature step (features + rfm): {result.seconds['features'] + result.seconds['rfm']:.1f} s"
                )
                print(f"  warnings: {result.warnings or 'none'}; segments: {len(result.sizes)}")
                print(f"  peak memory of this process so far: {peak_mb():,.0f} MB", flush=True)
        print(
            f" pandas RFM on the same rows, already in memory: {pandas_rfm(store):.1f} s",
            flush=True,
        )
        print(f" peak memory incl. pandas: {peak_mb():,.0f} MB", flush=True)


if __name__ == "__main__":
    main()
