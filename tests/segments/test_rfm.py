"""RFM in SQL agrees exactly with an independent pandas computation; every buyer in one segment."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, insert, select

from ingest.run import ingest_file
from models import Customer, CustomerFeatures, Order
from segments import rfm
from segments.features import refresh_features
from tests.conftest import DATA

AS_OF = date(2026, 6, 30)


def random_store(engine: Engine, seed: int, customers: int = 300) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [
                {"external_id": f"c{i}", "created_at": datetime(2025, 1, 1, tzinfo=UTC)}
                for i in range(customers)
            ],
        )
        ids = dict(conn.execute(select(Customer.external_id, Customer.id)).all())
        n = 0
        for i in range(customers):
            for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3, 5, 8])):  # many ties in counts
                n += 1
                at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
                    days=rng.randrange(0, 181), hours=rng.randrange(24)
                )
                total = rng.choice(
                    [10.0, 20.0, 35.5, 50.0, rng.uniform(1, 300)]
                )  # ties in money too
                rows.append(
                    {
                        "external_id": f"o{n}",
                        "customer_id": ids[f"c{i}"],
                        "ordered_at": at,
                        "total": total,
                        "items": 1,
                    }
                )
        conn.execute(insert(Order), rows)
    return pd.DataFrame(rows)


def pandas_rfm(orders: pd.DataFrame, as_of: date) -> pd.DataFrame:
    day = (
        pd.to_datetime(orders.ordered_at, utc=True).dt.tz_localize(None).dt.normalize()
        - pd.Timestamp(as_of)
    ).dt.days
    orders = orders.assign(day=day)
    g = orders.groupby("customer_id").agg(
        last=("day", "max"),
        n=("external_id", "count"),
        revenue=("total", "sum"),
        first=("ordered_at", "min"),
    )
    g = (
        g.assign(recency=-g["last"])
        .sort_values(["first"], kind="stable")
        .reset_index()
        .sort_values(["first", "customer_id"], kind="stable")
    )
    g["r"] = pd.qcut(g.recency, 5, labels=[5, 4, 3, 2, 1]).astype(int)
    g["f"] = pd.qcut(g.n.rank(method="first"), 5, labels=[1, 2, 3, 4, 5]).astype(int)
    g["m"] = pd.qcut(g.revenue, 5, labels=[1, 2, 3, 4, 5]).astype(int)
    return g.set_index("customer_id")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scores_match_pandas_qcut(engine: Engine, seed: int) -> None:
    orders = random_store(engine, seed)
    with engine.begin() as conn:
        refresh_features(conn, as_of=AS_OF)
        rfm.score(conn)
        got = pd.DataFrame(
            conn.execute(
                select(
                    CustomerFeatures.customer_id,
                    CustomerFeatures.r_score,
                    CustomerFeatures.f_score,
                    CustomerFeatures.m_score,
                ).where(CustomerFeatures.orders > 0)
            ).all(),
            columns=["customer_id", "r", "f", "m"],
        ).set_index("customer_id")
    want = pandas_rfm(orders, AS_OF).loc[got.index]
    for col in ("r", "f", "m"):
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)


def test_segment_map_covers_every_score_pair_once() -> None:
    for r in range(1, 6):
        for f in range(1, 6):
            assert sum(r in rs and f in fs for rs, fs, _ in rfm.SEGMENT_MAP) == 1, (r, f)


@pytest.mark.slow
def test_online_retail_every_customer_in_exactly_one_segment(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the whole file runs once, on SQLite")
    ingest_file(
        kind="orders",
        path=DATA / "online_retail_2010-2011_uci352.csv.gz",
        fmt="online-retail",
        engine=engine,
    )
    with engine.begin() as conn:
        refresh_features(conn, as_of=date(2011, 12, 11))
        sizes = rfm.score(conn)
        unscored = conn.execute(
            select(CustomerFeatures.customer_id).where(
                CustomerFeatures.orders > 0, CustomerFeatures.rfm_segment.is_(None)
            )
        ).all()
    assert unscored == []
    assert sum(sizes.values()) == 4338  # the cleaned data's customers
    assert set(sizes) <= set(rfm.SEGMENTS)
    print("RFM segment sizes, Online Retail as of 2011-12-11:", dict(sorted(sizes.items())))
