"""Purchase predictions and clusters at 100,000 and 1,000,000 customers (10 orders each).

    .venv/bin/python -m bench.predictions [--sizes 100000 1000000] [--backends postgresql sqlite]

For each size and backend: load a store (``bench.bigstore``), compute customer features
(the refresh's first step, timed by ``bench.segments``), then time the SQL purchase
summary, the BG/NBD and Gamma-Gamma fits, scoring every customer, ``predicted_segments``
end to end; reading the cluster features, choosing k by silhouette, KMeans against
MiniBatchKMeans on every customer (time and inertia), and ``cluster_segments`` with a fit
and with reuse. PostgreSQL tables are vacuumed after the load, as autovacuum would.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from typing import Any

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from bench.bigstore import Store, load_postgres, load_sqlite
from bench.memory import peak_mb
from models.db import get_engine
from segments import bgnbd, clustering, gamma_gamma
from segments.features import refresh_features
from segments.predictions import HORIZON_DAYS, MAX_FIT_CUSTOMERS, predicted_segments
from segments.summary import customer_summary

AS_OF = date(2026, 11, 20)


def timed(label: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    print(f"  {label}: {time.perf_counter() - started:.2f} s", flush=True)
    return value


def predictions(engine: Any) -> None:
    s = timed(
        "purchase summary (SQL, streamed to numpy)", customer_summary, engine, calibration_end=AS_OF
    )
    size = min(len(s), MAX_FIT_CUSTOMERS)
    sample = s.subset(np.sort(np.random.default_rng(0).choice(len(s), size, replace=False)))
    bg = timed(f"BG/NBD fit on {size:,}", bgnbd.fit, sample.x, sample.t_x, sample.T)
    gg = timed("Gamma-Gamma fit on their repeat buyers", gamma_gamma.fit, sample.x, sample.monetary)
    print(
        f"  BG/NBD r={bg.r:.3f} alpha={bg.alpha:.1f} a={bg.a:.3g} b={bg.b:.3g}; "
        f"Gamma-Gamma p={gg.p:.2f} q={gg.q:.2f} v={gg.v:.1f}"
    )
    timed("P(alive) for all", bg.p_alive, s.x, s.t_x, s.T)
    timed(
        f"E[purchases in {HORIZON_DAYS} d] for all",
        bg.expected_purchases,
        HORIZON_DAYS,
        s.x,
        s.t_x,
        s.T,
    )
    found = timed("predicted_segments end to end", predicted_segments, engine, as_of=AS_OF)
    print(f"  sizes: { {k: len(v) for k, v in found.items()} }", flush=True)


def clusters(engine: Any) -> None:
    ids, raw = timed("cluster features (read)", clustering.feature_matrix, engine, as_of=AS_OF)
    scaled = StandardScaler().fit_transform(clustering.transform(raw))
    k, score, scores = timed(
        "choose k (silhouette on a sample)", clustering.choose_k, scaled, seed=0
    )
    print(
        f"  k = {k}, silhouette {score:.3f}; all: { {j: round(v, 3) for j, v in scores.items()} }"
    )
    for cls, threads in (
        (KMeans, 1),
        (KMeans, None),
        (MiniBatchKMeans, 1),
        (MiniBatchKMeans, None),
    ):
        with threadpool_limits(threads):
            started = time.perf_counter()
            model = cls(n_clusters=k, n_init="auto", random_state=0).fit(scaled)
        print(
            f"  {cls.__name__} k={k} on {len(ids):,}, threads {threads or 'default'}: "
            f"{time.perf_counter() - started:.2f} s, inertia {model.inertia_:,.0f}",
            flush=True,
        )
    timed("cluster_segments (fit, store)", clustering.cluster_segments, engine, as_of=AS_OF)
    timed("cluster_segments (reuse)", clustering.cluster_segments, engine, as_of=AS_OF, reuse=True)


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
                    url = timed("load", load_postgres, args.pg, "bench_predictions", store)
                engine = get_engine(url)
                if backend == "postgresql":
                    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                        c.exec_driver_sql("VACUUM ANALYZE orders")
                with engine.begin() as conn:
                    timed("customer features (not ours)", refresh_features, conn, as_of=AS_OF)
                predictions(engine)
                clusters(engine)
                print(f"  peak memory of this process so far: {peak_mb():,.0f} MB", flush=True)


if __name__ == "__main__":
    main()
