"""UCI Online Retail: every line accounted for, checked against an independent pandas reading."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from ingest.run import ingest_file
from models import Customer, Order, OrderLine, OrderReturn, Quarantine
from tests.conftest import DATA


def expected_counts(path: Path) -> dict[str, int]:
    """The accounting, computed from the CSV by pandas without any of the ingest code."""
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "Invoice": str}).rename(
        columns={"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}
    )
    cancel = df.InvoiceNo.str.match(r"^C\d+$")
    order = df.InvoiceNo.str.match(r"^\d+$")
    valid = order & (df.Quantity > 0) & (df.UnitPrice >= 0)
    guest = df.CustomerID.isna()
    return {
        "read": len(df),
        "cancellations": int(cancel.sum()),
        "loaded": int((valid & ~guest).sum()),
        "guest_lines": int((valid & guest).sum()),
        "quarantined": int((~cancel & ~valid).sum()),
        "customers": int(df.CustomerID.dropna().nunique()),
        "clean_customers": int(df[valid & ~guest & (df.UnitPrice > 0)].CustomerID.nunique()),
        "clean_orders": int(df[valid & ~guest & (df.UnitPrice > 0)].InvoiceNo.nunique()),
        "revenue": float((df.Quantity * df.UnitPrice)[valid].sum()),
    }


@pytest.mark.parametrize("name", ["online_retail_sample.csv", "online_retail_ii_sample.csv"])
def test_sample_accounts_for_every_line(engine: Engine, name: str) -> None:
    path = DATA / name
    want = expected_counts(path)
    got = ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)
    for key in ("read", "loaded", "guest_lines", "cancellations", "quarantined"):
        assert getattr(got, key) == want[key], key
    assert got.duplicates == 0
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Customer)) == want["customers"]
        assert (
            conn.scalar(select(func.count()).select_from(OrderLine))
            == want["loaded"] + want["guest_lines"]
        )
        assert conn.scalar(select(func.count()).select_from(OrderReturn)) == want["cancellations"]
        assert conn.scalar(select(func.count()).select_from(Quarantine)) == want["quarantined"]
        clean = select(Order).where(Order.customer_id.is_not(None), Order.total > 0).subquery()
        assert conn.scalar(select(func.count()).select_from(clean)) == want["clean_orders"]
        assert (
            conn.scalar(select(func.count(func.distinct(clean.c.customer_id))))
            == want["clean_customers"]
        )
        assert conn.scalar(select(func.sum(Order.total))) == pytest.approx(want["revenue"])


def test_second_run_loads_nothing(engine: Engine) -> None:
    path = DATA / "online_retail_sample.csv"
    first = ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)
    again = ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)
    assert again.loaded == again.guest_lines == again.cancellations == again.quarantined == 0
    assert again.duplicates == again.read == first.read
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Quarantine)) == first.quarantined


def test_invoice_times_are_london_local_stored_as_utc(engine: Engine) -> None:
    ingest_file(
        kind="orders", path=DATA / "online_retail_sample.csv", fmt="online-retail", engine=engine
    )
    with engine.connect() as conn:
        first = conn.execute(
            select(Order.ordered_at).where(Order.external_id == "536365")
        ).scalar_one()
    # 2010-12-01 08:26 in London in winter is 08:26 UTC.
    assert (first.year, first.month, first.day, first.hour, first.minute) == (2010, 12, 1, 8, 26)
    assert first.utcoffset().total_seconds() == 0


def test_quarantine_names_file_line_and_reason(engine: Engine) -> None:
    ingest_file(
        kind="orders", path=DATA / "online_retail_sample.csv", fmt="online-retail", engine=engine
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(Quarantine.source, Quarantine.line_no, Quarantine.field, Quarantine.reason)
        ).all()
    lines = (DATA / "online_retail_sample.csv").read_text().splitlines()
    for source, line_no, field, reason in rows:
        assert source == "online_retail_sample.csv"
        assert field in {"Quantity", "InvoiceNo"}
        assert "only cancellations" in reason or "neither an order" in reason
        invoice = lines[line_no - 1].split(",")[0]
        assert not invoice.startswith("C")


@pytest.mark.slow
def test_whole_file(database_url: str, engine: Engine) -> None:
    """All 541,909 lines accounted for, as the data set's documentation counts them."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the whole file runs once, on SQLite; the samples cover PostgreSQL")
    path = DATA / "online_retail_2010-2011_uci352.csv.gz"
    got = ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)
    assert got.read == 541_909
    assert got.cancellations == 9_288
    assert got.loaded + got.guest_lines + got.cancellations + got.quarantined == 541_909
    assert got.as_dict()["accounting"]["sum"] == 541_909
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Customer)) == 4_372
        clean = select(Order.customer_id).where(Order.customer_id.is_not(None), Order.total > 0)
        assert (
            conn.scalar(select(func.count(func.distinct(clean.subquery().c.customer_id)))) == 4_338
        )
        clean_lines = (
            select(func.count())
            .select_from(OrderLine)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.customer_id.is_not(None), OrderLine.unit_price > 0)
        )
        assert conn.scalar(clean_lines) == 397_884
    again = ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)
    assert again.loaded == 0 and again.duplicates == 541_909
