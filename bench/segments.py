"""Segment refresh speed and memory at 100,000 and 1,000,000 customers (about 10 orders each).

    .venv/bin/python -m bench.segments [--sizes 100000 1000000] [--backends postgresql sqlite]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--fresh] [--no-models]

The store is the one of ``bench.bigstore`` (gamma-Poisson order counts, one line per order,
ten categories). It is loaded once and kept: SQLite files under ``bench/.data/`` and one
PostgreSQL schema per size (``segbench_<size>``); ``--fresh`` reloads. Loading bypasses CSV
ingestion: foreign-key checks off and secondary indexes built after the rows are in (COPY on
PostgreSQL, executemany on SQLite).

For each size and backend, a full refresh (features, RFM, predictions, clusters, rules,
snapshots) runs in a process of its own, so its peak memory (``ru_maxrss``) is its own.
Next to it, in another process, a plain pandas script computes the same RFM scores
(quintile bins of recency, order count and revenue, ties in one bin) from the same orders: once from rows already in memory, once reading them from the database first.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import sqlite3
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable
from sqlmodel import SQLModel

import models  # noqa: F401  (every table on the metadata)
from bench.bigstore import CATEGORIES, END, Store
from bench.memory import peak_mb
from models.db import get_engine, normalize_url, upgrade

AS_OF = date(2026, 11, 20)
DATA = Path(__file__).resolve().parent / ".data"
# Kept stores are named after the tables a refresh reads and writes, so changing them reloads.
USED = (
    "customer", "product", "orders", "order_line", "order_return", "support_ticket",
    "survey_answer", "message", "interaction", "customer_features", "segment_member",
    "segment_snapshot", "clv_fit", "cluster_model",
)  # fmt: skip
TAG = hashlib.sha1(
    "".join(
        str(CreateTable(SQLModel.metadata.tables[name]).compile(dialect=postgresql.dialect()))
        for name in USED
    ).encode()
).hexdigest()[:8]
BULK_TABLES = ("orders", "order_line")


def products() -> pd.DataFrame:
    return pd.DataFrame(
        {"sku": [f"{c[:3].upper()}-1" for c in CATEGORIES], "category": list(CATEGORIES)}
    )


def _orders(chunk: pd.DataFrame) -> pd.DataFrame:
    return chunk[["id", "external_id", "customer_id", "ordered_at", "total", "items"]].assign(
        currency="EUR"
    )


def _lines(chunk: pd.DataFrame) -> pd.DataFrame:
    return chunk.assign(order_id=chunk.id, line_no=1)[
        ["order_id", "line_no", "sku", "quantity", "unit_price"]
    ]


# PostgreSQL ----------------------------------------------------------------------------


def pg_schema(customers: int) -> str:
    return f"segbench_{customers}_{TAG}"


def pg_url(base: str, customers: int) -> str:
    return f"{normalize_url(base)}?options=-csearch_path%3D{pg_schema(customers)}"


def _copy(cursor: Any, table: str, frame: pd.DataFrame) -> None:
    with cursor.copy(
        f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)"
    ) as cp:
        cp.write(frame.to_csv(index=False, header=False))


def load_postgres(base: str, store: Store) -> str:
    schema = pg_schema(store.customers)
    with get_engine(base).begin() as conn:
        old = conn.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :prefix"),
            {"prefix": f"segbench\\_{store.customers}\\_%"},
        ).scalars()
        for name in [*old, schema]:  # stores of older schemas go
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = pg_url(base, store.customers)
    upgrade(url)
    raw = get_engine(url).raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET session_replication_role = replica")  # no FK triggers while loading
        rebuild = []
        for table in BULK_TABLES:
            cur.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'u'",
                (table,),
            )
            for name, definition in cur.fetchall():
                cur.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
                rebuild.append(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
            cur.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                "AND schemaname = current_schema() AND indexname NOT LIKE '%%pkey'",
                (table,),
            )
            for name, definition in cur.fetchall():
                cur.execute(f"DROP INDEX {name}")
                rebuild.append(definition)
        customers = store.customer_frame()
        _copy(cur, "customer", customers.assign(created_at=customers.created_at + "+00"))
        _copy(cur, "product", products())
        for chunk in store.order_chunks():
            chunk["ordered_at"] = chunk.ordered_at + "+00"
            _copy(cur, "orders", _orders(chunk))
            _copy(cur, "order_line", _lines(chunk))
        for statement in rebuild:
            cur.execute(statement)
        for table in ("customer", "orders", "order_line", "product"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        raw.commit()
        raw.dbapi_connection.autocommit = True  # VACUUM runs outside a transaction
        for table in ("customer", "product", "orders", "order_line"):
            cur.execute(f"VACUUM ANALYZE {table}")
    finally:
        raw.close()
    return url


def postgres_ready(base: str, store: Store) -> bool:
    with get_engine(base).connect() as conn:
        found = conn.execute(
            text(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = :s AND table_name = 'orders'"
            ),
            {"s": pg_schema(store.customers)},
        ).first()
    return found is not None and _complete(pg_url(base, store.customers), store)


# SQLite --------------------------------------------------------------------------------


def load_sqlite(path: Path, store: Store) -> str:
    for old in DATA.glob(f"segments-{store.customers}-*.db*"):  # stores of older schemas go
        old.unlink()
    url = f"sqlite:///{path}"
    upgrade(url)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    rebuild = []
    for table in BULK_TABLES:
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (table,),
        ).fetchall():
            conn.execute(f"DROP INDEX {name}")
            rebuild.append(sql)

    def insert(table: str, frame: pd.DataFrame) -> None:
        marks = ", ".join("?" for _ in frame.columns)
        conn.executemany(
            f"INSERT INTO {table} ({', '.join(frame.columns)}) VALUES ({marks})",
            frame.itertuples(index=False, name=None),
        )

    insert("customer", store.customer_frame())
    insert("product", products())
    for chunk in store.order_chunks():
        insert("orders", _orders(chunk))
        insert("order_line", _lines(chunk))
        conn.commit()
    for sql in rebuild:
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return url


def _complete(url: str, store: Store) -> bool:
    """The store was loaded to the end (a load cut short is loaded again)."""
    with get_engine(url).connect() as conn:
        customers = conn.execute(text("SELECT count(*) FROM customer")).scalar()
        lines = conn.execute(text("SELECT count(*) FROM order_line")).scalar()
        orders = conn.execute(text("SELECT count(*) FROM orders")).scalar()
    return customers == store.customers and orders == lines and orders > 0


# The measured runs, each in a process of its own -----------------------------------------


def _child(target: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(target, args)


def run_refresh(url: str, with_models: bool) -> dict[str, Any]:
    # Imported in the spawned child only: the parent never loads it, so peak memory is the run's.
    from segments.refresh import refresh

    started = time.perf_counter()
    result = refresh(get_engine(url), as_of=AS_OF, with_models=with_models)
    return {
        "seconds": time.perf_counter() - started,
        "steps": result.seconds,
        "segments": len(result.sizes),
        "warnings": result.warnings,
        "peak_mb": peak_mb(),
        "orders": _count(url, "orders"),
    }


def _count(url: str, table: str) -> int:
    with get_engine(url).connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)


def quintiles(values: pd.Series, labels: list[int]) -> pd.Series:
    """Quintile bins where a value on an edge falls in the lower bin (``qcut``, with ties)."""
    edges = values.astype(float).quantile([0.2, 0.4, 0.6, 0.8]).to_numpy()
    return pd.Series(np.array(labels)[np.searchsorted(edges, values, side="left")], values.index)


def rfm_pandas(frame: pd.DataFrame) -> pd.DataFrame:
    """Recency, frequency and monetary scores, the plain pandas way."""
    day = frame.ordered_at.dt.normalize()
    g = (
        frame.assign(day=day)
        .groupby("customer_id", sort=False)
        .agg(
            last=("day", "max"),
            n=("total", "size"),
            revenue=("total", "sum"),
        )
    )
    g["revenue"] = g.revenue.round(2)
    days = (pd.Timestamp(END).normalize() - g["last"]).dt.days
    g["r"] = quintiles(days, [5, 4, 3, 2, 1])
    g["f"] = quintiles(g.n, [1, 2, 3, 4, 5])
    g["m"] = quintiles(g.revenue, [1, 2, 3, 4, 5])
    return g


def run_pandas(customers: int, url: str | None) -> dict[str, Any]:
    """Compute-only time on rows in memory; and, with ``url``, the time to read them first."""
    out: dict[str, Any] = {}
    if url:
        started = time.perf_counter()
        with get_engine(url).connect() as conn:
            frame = pd.read_sql(
                text("SELECT customer_id, ordered_at, total FROM orders WHERE total > 0"), conn
            )
        frame["ordered_at"] = pd.to_datetime(frame.ordered_at, utc=True).dt.tz_localize(None)
        out["read_seconds"] = time.perf_counter() - started
    else:
        parts = []
        for chunk in Store(customers=customers).order_chunks():
            parts.append(
                pd.DataFrame(
                    {
                        "customer_id": chunk.customer_id.to_numpy(),
                        "ordered_at": pd.to_datetime(chunk.ordered_at),
                        "total": chunk.total.to_numpy(),
                    }
                )
            )
        frame = pd.concat(parts, ignore_index=True)
        del parts
    started = time.perf_counter()
    scores = rfm_pandas(frame)
    out["compute_seconds"] = time.perf_counter() - started
    out["customers_scored"] = len(scores)
    out["peak_mb"] = peak_mb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--fresh", action="store_true", help="load the stores again")
    parser.add_argument("--no-models", action="store_true", help="skip predictions and clusters")
    parser.add_argument("--load-only", action="store_true", help="prepare the stores, time nothing")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    for size in args.sizes:
        store = Store(customers=size)
        print(f"== {size:,} customers", flush=True)
        for backend in args.backends:
            started = time.perf_counter()
            if backend == "sqlite":
                path = DATA / f"segments-{size}-{TAG}.db"
                url = f"sqlite:///{path}"
                reuse = path.exists() and not args.fresh and _complete(url, store)
                if not reuse:
                    load_sqlite(path, store)
            else:
                url = pg_url(args.pg, size)
                reuse = not args.fresh and postgres_ready(args.pg, store)
                if not reuse:
                    load_postgres(args.pg, store)
            load = "reused" if reuse else f"loaded in {time.perf_counter() - started:.1f} s"
            if args.load_only:
                print(f" {backend:10} store {load}", flush=True)
                continue
            r = _child(run_refresh, url, not args.no_models)
            steps = ", ".join(f"{k} {v:.1f}" for k, v in r["steps"].items())
            print(
                f" {backend:10} store {load}; {r['orders']:,} orders\n"
                f"   full refresh {r['seconds']:.1f} s  (steps, s: {steps})\n"
                f"   RFM step {r['steps']['rfm']:.1f} s; features + RFM "
                f"{r['steps']['features'] + r['steps']['rfm']:.1f} s\n"
                f"   peak memory of the refresh process {r['peak_mb']:,.0f} MB; "
                f"{r['segments']} segments; warnings: {r['warnings'] or 'none'}",
                flush=True,
            )
        if args.load_only:
            continue
        p = _child(run_pandas, size, None)
        print(
            f" pandas     RFM from rows in memory {p['compute_seconds']:.1f} s, "
            f"peak memory {p['peak_mb']:,.0f} MB ({p['customers_scored']:,} customers)",
            flush=True,
        )
        if "postgresql" in args.backends:
            p = _child(run_pandas, size, pg_url(args.pg, size))
            print(
                f" pandas     RFM reading the orders from PostgreSQL first: "
                f"{p['read_seconds'] + p['compute_seconds']:.1f} s "
                f"(read {p['read_seconds']:.1f} s), peak memory {p['peak_mb']:,.0f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
