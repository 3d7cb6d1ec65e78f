"""RFM in SQL agrees exactly with an independent pandas computation of the documented rule;
equal values share a score; every buyer in one segment, and every segment populated on real data."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from models import Customer, CustomerFeatures, Order, OrderReturn
from segments import rfm
from segments.features import refresh_features
from tests.conftest import DATA

AS_OF = date(2026, 6, 30)


def qcut(values: pd.Series, labels: list[int]) -> pd.Series:
    return pd.qcut(values, 5, labels=labels).astype(int)


def quintiles(values: pd.Series, labels: list[int]) -> pd.Series:
    """The documented rule in pandas: edges at the 20/40/60/80 % quantiles (linear), a value
    on an edge in the lower bin, so ties share a bin and a bin between equal edges is empty.
    Where ``qcut`` accepts the values (no two of its edges, min and max included, equal) it
    is ``qcut``; that is checked too."""
    edges = values.astype(float).quantile([0.2, 0.4, 0.6, 0.8]).to_numpy()
    got = pd.Series(np.array(labels)[np.searchsorted(edges, values, side="left")], values.index)
    if len({values.min(), *edges, values.max()}) == 6:
        pd.testing.assert_series_equal(got, qcut(values, labels), check_names=False)
    return got


def rfm_columns(g: pd.DataFrame) -> pd.DataFrame:
    """r, f, m and the segment from days since the last order, order count and revenue."""
    g["r"] = quintiles(g.days, [5, 4, 3, 2, 1])
    g["f"] = quintiles(g.n, [1, 2, 3, 4, 5])
    g["m"] = quintiles(g.revenue, [1, 2, 3, 4, 5])
    g["segment"] = [rfm.segment_of(r, f) for r, f in zip(g.r, g.f, strict=True)]
    return g


def bins_from_edges(values: list[float], edges: list[float], labels: tuple[int, ...]) -> list[int]:
    """The bin rule in plain Python: a value on an edge falls in the lower bin."""
    return [labels[sum(e < v for e in edges)] for v in values]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 6),  # heavy ties
            st.integers(-(10**6), 10**6),
            st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
            st.sampled_from([0.1, 0.2, 0.30000000000000004, 1e-300, 1e15 + 0.5]),
        ),
        min_size=1,
        max_size=300,
    )
)
def test_quintile_edges_give_the_bins_of_pandas_qcut(values: list[float]) -> None:
    series = pd.Series(values, dtype=float)
    try:
        want = qcut(series, [1, 2, 3, 4, 5]).tolist()
    except ValueError:
        return  # ties made two edges equal: qcut refuses, so there is nothing to agree with
    ordered = sorted(values)
    known = {p: ordered[p] for p in rfm.positions(len(values))}  # only what the SQL reads
    edges = rfm.quintile_edges(known, len(values))
    assert bins_from_edges(values, edges, rfm.ASCENDING) == want


def random_store(
    engine: Engine, seed: int, customers: int = 400
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders with many ties in counts, days and money (all in cents), and some returns."""
    rng = random.Random(seed)
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [
                {"id": i, "external_id": f"c{i}", "created_at": datetime(2025, 1, 1, tzinfo=UTC)}
                for i in range(1, customers + 1)
            ],
        )
        rows, returns = [], []
        for cid in range(1, customers + 1):
            for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3, 5, 8])):
                n = len(rows) + 1
                at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
                    days=rng.randrange(0, 200), minutes=rng.randrange(24 * 60)
                )
                total = rng.choice([10.0, 20.0, 35.5, 0.1, round(rng.uniform(1, 300), 2)])
                rows.append(
                    {
                        "external_id": f"o{n}",
                        "customer_id": cid,
                        "ordered_at": at,
                        "total": total,
                        "items": 1,
                    }
                )
                if rng.random() < 0.1:
                    returns.append(
                        {
                            "external_id": f"r{n}",
                            "customer_id": cid,
                            "kind": "return",
                            "returned_at": at + timedelta(days=3),
                            "amount": round(total * rng.choice([0.5, 1.0]), 2),
                        }
                    )
        rows.append(  # a guest order, and an order after the as-of date: neither counts
            {
                "external_id": "guest",
                "customer_id": None,
                "ordered_at": datetime(2026, 3, 1, tzinfo=UTC),
                "total": 5.0,
                "items": 1,
            }
        )
        rows.append(
            {
                "external_id": "later",
                "customer_id": 1,
                "ordered_at": datetime(2026, 7, 2, tzinfo=UTC),
                "total": 5.0,
                "items": 1,
            }
        )
        conn.execute(insert(Order), rows)
        conn.execute(insert(OrderReturn), returns)
    return pd.DataFrame(rows), pd.DataFrame(returns)


def pandas_rfm(orders: pd.DataFrame, returns: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """RFM as a pandas user would write it, from the raw rows."""
    cutoff = pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1)
    back = returns[returns.returned_at < cutoff].groupby("customer_id")["amount"].sum()
    orders = orders[orders.customer_id.notna() & (orders.ordered_at < cutoff)].copy()
    orders["customer_id"] = orders.customer_id.astype(int)
    orders["day"] = orders.ordered_at.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    g = orders.groupby("customer_id").agg(
        last=("day", "max"), n=("external_id", "count"), total=("total", "sum"),
    )  # fmt: skip
    g["revenue"] = (g.total - back.reindex(g.index).fillna(0.0)).map(lambda v: round(v, 2))
    g["days"] = (pd.Timestamp(as_of) - g["last"]).dt.days
    return rfm_columns(g)


def scores(engine: Engine) -> pd.DataFrame:
    c = CustomerFeatures.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.customer_id, c.r_score, c.f_score, c.m_score, c.rfm_segment).where(
                c.orders > 0
            )
        ).all()
    return pd.DataFrame(rows, columns=["customer_id", "r", "f", "m", "segment"]).set_index(
        "customer_id"
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scores_match_pandas(engine: Engine, seed: int) -> None:
    orders, back = random_store(engine, seed)
    with engine.begin() as conn:
        refresh_features(conn, as_of=AS_OF)
        sizes = rfm.sizes(conn)
    got = scores(engine)
    want = pandas_rfm(orders, back, AS_OF)
    assert sorted(got.index) == sorted(want.index)
    want = want.loc[got.index]
    for col in ("r", "f", "m", "segment"):
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    assert sizes == want.segment.value_counts().to_dict()
    # Equal values, equal scores: nothing but the customer's own number decides them.
    values = got.join(want[["n", "days", "revenue"]])
    for value, score in (("n", "f"), ("days", "r"), ("revenue", "m")):
        assert (values.groupby(value)[score].nunique() == 1).all(), score


def test_equal_order_counts_get_equal_f_whatever_the_dates_and_ids(engine: Engine) -> None:
    """Most customers buy once, on dates spread over the year, the oldest with the highest
    ids; a few buy three or six times. Ranking ties apart would spread the one-order
    customers over F=1..3 by date; the rule gives them one score."""
    rng = random.Random(7)
    counts = [1] * 60 + [3] * 25 + [6] * 15
    rng.shuffle(counts)
    created = datetime(2025, 1, 1, tzinfo=UTC)
    orders = []
    for cid, n in enumerate(counts, start=1):
        first = datetime(2026, 6, 1, tzinfo=UTC) - timedelta(days=cid)  # higher id, older
        for k in range(n):
            orders.append(
                {
                    "external_id": f"o{cid}-{k}",
                    "customer_id": cid,
                    "ordered_at": first + timedelta(days=k),
                    "total": 10.0,
                    "items": 1,
                }
            )
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [{"id": i, "external_id": f"c{i}", "created_at": created} for i in range(1, 101)],
        )
        conn.execute(insert(Order), orders)
        refresh_features(conn, as_of=AS_OF)
    got = scores(engine)
    n = pd.Series(counts, index=range(1, 101)).loc[got.index]
    assert (got.f.groupby(n).nunique() == 1).all()
    np.testing.assert_array_equal(got.f.to_numpy(), quintiles(n, [1, 2, 3, 4, 5]).to_numpy())
    by_count = got.f.groupby(n).first()
    assert by_count[1] == 1 and by_count.is_monotonic_increasing


def test_segment_map_covers_every_score_pair_once() -> None:
    for r in range(1, 6):
        for f in range(1, 6):
            assert sum(r in rs and f in fs for rs, fs, _ in rfm.SEGMENT_MAP) == 1, (r, f)


def test_customers_without_orders_get_no_scores(engine: Engine) -> None:
    random_store(engine, 4, customers=30)
    with engine.begin() as conn:
        refresh_features(conn, as_of=AS_OF)
        c = CustomerFeatures.__table__.c
        idle = conn.execute(
            select(c.r_score, c.f_score, c.m_score, c.rfm_segment).where(c.orders == 0)
        ).all()
    assert idle and all(row == (None, None, None, None) for row in idle)


def test_no_buyers_no_scores(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Customer).values(external_id="c1", created_at=datetime(2025, 1, 1, tzinfo=UTC))
        )
        assert refresh_features(conn, as_of=AS_OF) == 1
        assert rfm.sizes(conn) == {}


def online_retail_reference(as_of: date) -> pd.DataFrame:
    """The Online Retail file cleaned (no cancellations, positive quantity and price, with a
    customer), RFM in pandas; revenue less the customer's cancellations, as the features do."""
    raw = pd.read_csv(
        DATA / "online_retail_2010-2011_uci352.csv.gz",
        dtype={"InvoiceNo": str, "CustomerID": str, "StockCode": str},
    )
    raw["when"] = (
        pd.to_datetime(raw.InvoiceDate).dt.tz_localize("Europe/London").dt.tz_convert("UTC")
    )
    raw = raw[raw.when < pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1)]
    raw = raw[raw.CustomerID.notna()].assign(CustomerID=raw.CustomerID.str.removesuffix(".0"))
    cancelled = raw.InvoiceNo.str.startswith("C")
    back = (
        (raw[cancelled].Quantity.abs() * raw[cancelled].UnitPrice.abs())
        .groupby(raw[cancelled].CustomerID)
        .sum()
    )
    clean = raw[~cancelled & (raw.Quantity > 0) & (raw.UnitPrice > 0)]
    invoices = (
        clean.assign(amount=clean.Quantity * clean.UnitPrice)
        .groupby("InvoiceNo", sort=False)
        .agg(customer=("CustomerID", "first"), when=("when", "first"), amount=("amount", "sum"))
    )
    g = invoices.groupby("customer", sort=False).agg(
        last=("when", "max"), n=("amount", "size"), total=("amount", "sum")
    )
    g["revenue"] = (g.total - back.reindex(g.index).fillna(0.0)).map(lambda v: round(v, 2))
    g["days"] = (pd.Timestamp(as_of) - g["last"].dt.tz_localize(None).dt.normalize()).dt.days
    return rfm_columns(g)


@pytest.mark.slow
def test_online_retail_every_customer_in_exactly_one_segment(engine: Engine) -> None:
    from ingest.run import ingest_file

    if engine.dialect.name != "sqlite":
        pytest.skip("the whole file runs once, on SQLite")
    as_of = date(2011, 12, 11)
    ingest_file(
        kind="orders",
        path=DATA / "online_retail_2010-2011_uci352.csv.gz",
        fmt="online-retail",
        engine=engine,
    )
    with engine.begin() as conn:
        refresh_features(conn, as_of=as_of)
        sizes = rfm.sizes(conn)
        external = dict(conn.execute(select(Customer.id, Customer.external_id)).all())
    got = scores(engine)
    got.index = got.index.map(external)
    want = online_retail_reference(as_of)
    assert sorted(got.index) == sorted(want.index)  # every cleaned customer, no one else
    assert got.segment.notna().all() and set(got.segment) <= set(rfm.SEGMENTS)
    want = want.loc[got.index]
    for col in ("r", "f", "m", "segment"):
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    assert sum(sizes.values()) == len(want)
    # Every named segment has customers, and every recent one-off buyer is a new customer.
    assert set(sizes) == set(rfm.SEGMENTS) and min(sizes.values()) > 0
    recent_once = want[(want.n == 1) & (want.r == 5)].index
    assert len(recent_once) > 0 and (got.loc[recent_once, "segment"] == "new_customers").all()
    print("RFM segment sizes, Online Retail as of 2011-12-11:", dict(sorted(sizes.items())))
