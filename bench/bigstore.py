"""A large synthetic store loaded straight into the database, for benchmarks.

Bypasses CSV ingestion (benchmarked on its own in ``bench.ingest``): numpy draws the
rows and SQLite's ``executemany`` or PostgreSQL's ``COPY`` loads them in chunks.
"""

from __future__ import annotations

import io
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import text

from models.db import get_engine, normalize_url, upgrade

CATEGORIES = (
    "skincare",
    "haircare",
    "coffee",
    "pet_food",
    "vitamins",
    "books",
    "toys",
    "home",
    "fashion",
    "electronics",
)
LOCALES = ("en", "tr", "hu", "ko", "de", "fr", "pl", "sv", "ar")
ZONES = (
    "Europe/London",
    "Europe/Istanbul",
    "Europe/Budapest",
    "Asia/Seoul",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Warsaw",
    "Europe/Stockholm",
    "Asia/Riyadh",
)
END = np.datetime64("2026-11-20T00:00:00")
CHUNK = 1_000_000


@dataclass
class Store:
    customers: int
    orders_per_customer: float = 10.0
    seed: int = 0

    def customer_frame(self) -> pd.DataFrame:
        rng = np.random.default_rng(self.seed)
        market = rng.integers(0, len(LOCALES), self.customers)
        return pd.DataFrame(
            {
                "id": np.arange(1, self.customers + 1),
                "external_id": np.char.add("C", np.arange(1, self.customers + 1).astype(str)),
                "locale": np.array(LOCALES)[market],
                "time_zone": np.array(ZONES)[market],
                "created_at": str(END - np.timedelta64(800, "D")).replace("T", " "),
            }
        )

    def order_chunks(self) -> Iterator[pd.DataFrame]:
        """Orders with heterogeneous purchase rates (a Gamma mixture), one line each."""
        rng = np.random.default_rng(self.seed + 1)
        counts = 1 + rng.poisson(
            rng.gamma(0.9, (self.orders_per_customer - 1) / 0.9, self.customers)
        )
        owner = np.repeat(np.arange(1, self.customers + 1), counts)
        rng.shuffle(owner)
        for start in range(0, len(owner), CHUNK):
            who = owner[start : start + CHUNK]
            n = len(who)
            at = END - rng.integers(60, 730 * 86400, n).astype("timedelta64[s]")
            cat = rng.integers(0, len(CATEGORIES), n)
            price = np.round(rng.lognormal(3.0, 0.6, n), 2)
            qty = 1 + rng.poisson(0.3, n)
            ids = np.arange(start + 1, start + n + 1)
            yield pd.DataFrame(
                {
                    "id": ids,
                    "external_id": np.char.add("O", ids.astype(str)),
                    "customer_id": who,
                    "ordered_at": np.char.replace(np.datetime_as_string(at, unit="s"), "T", " "),
                    "total": price * qty,
                    "items": qty,
                    "sku": np.char.add(np.array([c[:3].upper() for c in CATEGORIES])[cat], "-1"),
                    "quantity": qty,
                    "unit_price": price,
                }
            )


def _products() -> pd.DataFrame:
    return pd.DataFrame(
        {"sku": [f"{c[:3].upper()}-1" for c in CATEGORIES], "category": list(CATEGORIES)}
    )


def load_sqlite(path: str, store: Store) -> str:
    url = f"sqlite:///{path}"
    upgrade(url)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    c = store.customer_frame()
    conn.executemany(
        "INSERT INTO customer (id, external_id, locale, time_zone, created_at) VALUES (?,?,?,?,?)",
        c.itertuples(index=False, name=None),
    )
    conn.executemany(
        "INSERT INTO product (sku, category) VALUES (?,?)",
        _products().itertuples(index=False, name=None),
    )
    for o in store.order_chunks():
        conn.executemany(
            "INSERT INTO orders (id, external_id, customer_id, ordered_at, currency, total, items) VALUES (?,?,?,?,'EUR',?,?)",
            o[["id", "external_id", "customer_id", "ordered_at", "total", "items"]].itertuples(
                index=False, name=None
            ),
        )
        conn.executemany(
            "INSERT INTO order_line (order_id, line_no, sku, quantity, unit_price) VALUES (?,1,?,?,?)",
            o[["id", "sku", "quantity", "unit_price"]].itertuples(index=False, name=None),
        )
        conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return url


def _copy(cur, table: str, frame: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False)
    with cur.copy(
        f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)"
    ) as copy:
        copy.write(buf.getvalue())


def load_postgres(base: str, schema: str, store: Store) -> str:
    admin = get_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{normalize_url(base)}?options=-csearch_path%3D{schema}"
    upgrade(url)
    engine = get_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        c = store.customer_frame()
        c["created_at"] = c["created_at"] + "+00"
        _copy(cur, "customer", c)
        _copy(cur, "product", _products())
        for o in store.order_chunks():
            o = o.assign(ordered_at=o.ordered_at + "+00", currency="EUR")
            _copy(
                cur,
                "orders",
                o[["id", "external_id", "customer_id", "ordered_at", "currency", "total", "items"]],
            )
            _copy(
                cur,
                "order_line",
                o[["id", "sku", "quantity", "unit_price"]]
                .rename(columns={"id": "order_id"})
                .assign(line_no=1),
            )
        cur.execute("SELECT setval('orders_id_seq', (SELECT max(id) FROM orders))")
        cur.execute("SELECT setval('customer_id_seq', (SELECT max(id) FROM customer))")
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return url


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)
    return value
