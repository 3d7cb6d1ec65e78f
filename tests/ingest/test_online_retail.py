"""UCI Online Retail: every line accounted for, checked against an independent pandas reading."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from ingest.run import ingest_file
from models import Customer, Order, OrderLine, OrderReturn, Product, Quarantine
from tests.conftest import DATA
from tests.ingest.helpers import RETAIL_HEADER, count, write

WHOLE_FILE = DATA / "online_retail_2010-2011_uci352.csv.gz"


def expected_counts(path: Path) -> dict[str, float]:
    """The accounting, computed from the CSV by pandas without any of the ingest code."""
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "Invoice": str}).rename(
        columns={"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}
    )
    cancel = df.InvoiceNo.str.match(r"^C\d+$")
    order = df.InvoiceNo.str.match(r"^\d+$")
    valid = order & (df.Quantity > 0) & (df.UnitPrice >= 0)
    guest = df.CustomerID.isna()
    clean = valid & ~guest & (df.UnitPrice > 0)
    return {
        "read": len(df),
        "cancellations": int(cancel.sum()),
        "loaded": int((valid & ~guest).sum()),
        "guest_lines": int((valid & guest).sum()),
        "quarantined": int((~cancel & ~valid).sum()),
        "customers": int(df.CustomerID.dropna().nunique()),
        "orders": int(df[valid].InvoiceNo.nunique()),
        "products": int(df[valid].StockCode.nunique()),
        "clean_lines": int(clean.sum()),
        "clean_customers": int(df[clean].CustomerID.nunique()),
        "clean_orders": int(df[clean].InvoiceNo.nunique()),
        "revenue": float((df.Quantity * df.UnitPrice)[valid].sum()),
        "cancelled": float((df.Quantity * df.UnitPrice).abs()[cancel].sum()),
    }


def check_against_pandas(engine: Engine, path: Path, got: object, want: dict) -> None:
    for key in ("read", "loaded", "guest_lines", "cancellations", "quarantined"):
        assert getattr(got, key) == want[key], key
    assert got.duplicates == 0
    assert got.balanced
    assert got.created["orders"] == want["orders"]
    assert got.created["products"] == want["products"]
    with engine.connect() as conn:
        assert count(engine, Customer) == want["customers"]
        assert count(engine, OrderLine) == want["loaded"] + want["guest_lines"]
        assert count(engine, OrderReturn) == want["cancellations"]
        assert count(engine, Quarantine) == want["quarantined"]
        # What the analyses count: orders with a customer and a positive total.
        clean = select(Order).where(Order.customer_id.is_not(None), Order.total > 0).subquery()
        assert conn.scalar(select(func.count()).select_from(clean)) == want["clean_orders"]
        assert (
            conn.scalar(select(func.count(func.distinct(clean.c.customer_id))))
            == want["clean_customers"]
        )
        clean_lines = (
            select(func.count())
            .select_from(OrderLine)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.customer_id.is_not(None), OrderLine.unit_price > 0)
        )
        assert conn.scalar(clean_lines) == want["clean_lines"]
        assert conn.scalar(select(func.sum(Order.total))) == pytest.approx(want["revenue"])
        assert conn.scalar(select(func.sum(OrderReturn.amount))) == pytest.approx(want["cancelled"])


@pytest.mark.parametrize("name", ["online_retail_sample.csv", "online_retail_ii_sample.csv"])
def test_sample_accounts_for_every_line(engine: Engine, name: str) -> None:
    path = DATA / name
    want = expected_counts(path)
    assert want["guest_lines"] and want["cancellations"] and want["quarantined"]  # all kinds
    got = ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)
    check_against_pandas(engine, path, got, want)


def test_second_run_loads_nothing(engine: Engine) -> None:
    path = DATA / "online_retail_sample.csv"
    first = ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)
    again = ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)
    assert again.loaded == again.guest_lines == again.cancellations == again.quarantined == 0
    assert again.duplicates == again.read == first.read
    assert again.created == {}
    assert count(engine, Quarantine) == first.quarantined


def test_invoices_cancellations_customers_and_times(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "retail.csv",
        RETAIL_HEADER,
        "536365,85123A,HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
        "536365,71053,WHITE METAL LANTERN,2,2010-12-01 08:26:00,3.39,17850.0,United Kingdom",
        "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,17850.0,United Kingdom",
        "C536379,22556,PLASTERS IN TIN,-12,2010-12-01 09:41:00,1.65,17850.0,United Kingdom",
        "556000,22633,HAND WARMER,3,2011-06-01 10:00:00,2.10,12583,France",
        '556001,22634,"WARMER, RED",1,6/1/2011 10:30,2.10,,United Kingdom',
        "556002,22635,FREE GIFT,1,2011-06-02 10:00:00,0,12583,France",
        "556002,22636,FREE MUG,2,2011-06-02 10:00:00,0.00,12583,France",
    )
    got = ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)
    assert (got.read, got.loaded, got.guest_lines, got.cancellations) == (8, 5, 1, 2)
    assert got.created["customers"] == 2
    with engine.connect() as conn:
        customers = {
            c.external_id: (c.id, c.country, c.time_zone)
            for c in conn.execute(select(Customer)).all()
        }
        since = dict(conn.execute(select(Customer.external_id, Customer.created_at)).all())
        orders = {o.external_id: o for o in conn.execute(select(Order)).all()}
        returns = conn.execute(
            select(OrderReturn.external_id, OrderReturn.customer_id, OrderReturn.amount)
        ).all()
        names = dict(conn.execute(select(Product.sku, Product.name)).all())
    assert customers == {
        "17850": (customers["17850"][0], "United Kingdom", "Europe/London"),
        "12583": (customers["12583"][0], "France", "Europe/Paris"),
    }
    # First seen: their earliest line, not the time of the import.
    assert since == {
        "17850": datetime(2010, 12, 1, 8, 26, tzinfo=UTC),
        "12583": datetime(2011, 6, 1, 9, 0, tzinfo=UTC),
    }
    first = orders["536365"]
    assert (first.total, first.items, first.customer_id) == (
        6 * 2.55 + 2 * 3.39,
        8,
        customers["17850"][0],
    )
    # London local time: winter is UTC, summer is UTC+1; both date spellings read alike.
    assert first.ordered_at == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    assert orders["556000"].ordered_at == datetime(2011, 6, 1, 9, 0, tzinfo=UTC)
    assert orders["556001"].ordered_at == datetime(2011, 6, 1, 9, 30, tzinfo=UTC)
    assert orders["556001"].customer_id is None  # a guest line
    # Free items are lines; an order of only free items totals 0 and so counts for no analysis.
    assert (orders["556002"].total, orders["556002"].items) == (0.0, 3)
    assert "C536379" not in orders
    assert sorted((r[0], r[1], r[2]) for r in returns) == [
        ("C536379", customers["17850"][0], 27.5),
        ("C536379:2", customers["17850"][0], pytest.approx(19.8)),
    ]
    assert names["22634"] == "WARMER, RED"


def test_quarantine_names_file_line_and_reason(engine: Engine) -> None:
    path = DATA / "online_retail_sample.csv"
    ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Quarantine.source,
                Quarantine.line_no,
                Quarantine.field,
                Quarantine.reason,
                Quarantine.raw,
            )
        ).all()
    lines = path.read_text().splitlines()
    assert rows
    for source, line_no, field, reason, raw in rows:
        assert source == "online_retail_sample.csv"
        assert raw == lines[line_no - 1]
        invoice, _sku, _name, quantity = next(csv.reader([raw]))[:4]
        assert (field, int(quantity) <= 0) == ("Quantity", True)
        assert f"Quantity {quantity} on order {invoice}: must be above 0" in reason


@pytest.mark.slow
def test_whole_file(engine: Engine) -> None:
    """All 541,909 lines accounted for, as the data set's documentation counts them."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the whole file runs once, on SQLite; the samples cover PostgreSQL")
    got = ingest_file(kind="orders", path=WHOLE_FILE, fmt="online-retail", engine=engine)
    # Published figures (UCI data set 352 and the shared data README).
    assert got.read == 541_909
    assert got.cancellations == 9_288
    assert got.as_dict()["accounting"] == {
        "read": 541_909,
        "equals": "loaded + guest_lines + cancellations + quarantined + duplicates",
        "sum": 541_909,
        "balanced": True,
    }
    with engine.connect() as conn:
        anonymous_cancellations = conn.scalar(
            select(func.count()).select_from(OrderReturn).where(OrderReturn.customer_id.is_(None))
        )
    # Every line without a CustomerID is a guest line, a cancellation or quarantined.
    assert got.guest_lines + anonymous_cancellations + got.quarantined == 135_080
    want = expected_counts(WHOLE_FILE)
    assert (want["customers"], want["clean_lines"], want["clean_customers"]) == (
        4_372,
        397_884,
        4_338,
    )
    check_against_pandas(engine, WHOLE_FILE, got, want)
    again = ingest_file(kind="orders", path=WHOLE_FILE, fmt="online-retail", engine=engine)
    assert (again.loaded, again.duplicates, again.created) == (0, 541_909, {})
