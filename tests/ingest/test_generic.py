"""The generic layout: every kind loads, references resolve, re-runs add nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ingest.run import ingest_file
from models import (
    Consent,
    Customer,
    Device,
    Order,
    OrderLine,
    OrderReturn,
    Product,
    Quarantine,
    ShipmentEvent,
    SupportTicket,
)
from tests.ingest.helpers import ORDERS_HEADER, count, customers_csv, write

KINDS = ("customers", "orders", "interactions", "shipments", "devices")


def load_store(engine: Engine, tmp: Path) -> None:
    customers_csv(
        tmp / "customers.csv",
        "c1,ayse@example.com,Ayşe,tr,Europe/Istanbul,TR,subscribed,unsubscribed",
        "c2,Jin@Example.com,Jin,ko_kr,Asia/Seoul,KR,unsubscribed,",
    )
    write(
        tmp / "orders.csv",
        ORDERS_HEADER,
        "o1,c1,2026-01-05T10:00:00+03:00,SKU-1,skincare,2,10.5,EUR,,",
        "o1,c1,2026-01-05T10:00:00+03:00,SKU-2,coffee,1,4,EUR,,",
        "o2,,2026-01-06T10:00:00Z,SKU-1,skincare,1,10.5,,,",
        "o1,c1,2026-01-09T10:00:00+03:00,SKU-1,skincare,1,10.5,EUR,return,r1",
        "o1,c1,2026-01-09T10:00:00+03:00,SKU-2,coffee,1,4,EUR,return,r1",
    )
    write(
        tmp / "interactions.csv",
        "ticket_id,customer_id,channel,topic,opened_at,first_response_at,resolved_at,touches",
        "t1,c1,chat,delivery,2026-01-07T09:00:00Z,2026-01-07T09:03:00Z,2026-01-07T10:00:00Z,3",
    )
    write(
        tmp / "shipments.csv",
        "order_id,status,occurred_at,eta,carrier",
        "o1,shipped,2026-01-06T08:00:00Z,2026-01-08T12:00:00Z,DHL",
        "o1,delivered,2026-01-08T11:00:00Z,,DHL",
    )
    write(
        tmp / "devices.csv",
        "customer_id,platform,token,created_at",
        "c2,ios,tok-123,2026-01-01T00:00:00Z",
    )
    for kind in KINDS:
        got = ingest_file(kind=kind, path=tmp / f"{kind}.csv", engine=engine)
        assert got.quarantined == 0, (kind, got.quarantine_reasons)
        assert got.balanced


def test_every_kind_loads(engine: Engine, tmp_path: Path) -> None:
    load_store(engine, tmp_path)
    with engine.connect() as conn:
        customer = conn.execute(select(Customer).where(Customer.external_id == "c1")).one()
        assert (customer.locale, customer.time_zone, customer.email) == (
            "tr",
            "Europe/Istanbul",
            "ayse@example.com",
        )
        jin = conn.execute(select(Customer).where(Customer.external_id == "c2")).one()
        assert (jin.locale, jin.email) == ("ko-KR", "jin@example.com")
        consents = dict(
            conn.execute(
                select(Consent.channel, Consent.status).where(Consent.customer_id == customer.id)
            ).all()
        )
        assert consents == {"email": "subscribed", "push": "unsubscribed"}
        o1 = conn.execute(select(Order).where(Order.external_id == "o1")).one()
        assert (o1.total, o1.items, o1.currency) == (25.0, 3, "EUR")
        assert o1.ordered_at == datetime(2026, 1, 5, 7, tzinfo=UTC)
        o2 = conn.execute(select(Order).where(Order.external_id == "o2")).one()
        assert (o2.customer_id, o2.currency) == (None, "GBP")  # guest; default currency
        lines = conn.execute(
            select(OrderLine.line_no, OrderLine.sku).where(OrderLine.order_id == o1.id)
        ).all()
        assert sorted(lines) == [(1, "SKU-1"), (2, "SKU-2")]
        returns = conn.execute(
            select(
                OrderReturn.external_id,
                OrderReturn.kind,
                OrderReturn.amount,
                OrderReturn.customer_id,
                OrderReturn.order_id,
            ).order_by(OrderReturn.external_id)
        ).all()
        assert [tuple(r) for r in returns] == [
            ("r1", "return", 10.5, customer.id, o1.id),
            ("r1:2", "return", 4.0, customer.id, o1.id),
        ]
        assert conn.scalar(select(Product.category).where(Product.sku == "SKU-2")) == "coffee"
        assert count(engine, Product) == 2
        assert conn.scalar(select(SupportTicket.touches)) == 3
        assert count(engine, ShipmentEvent) == 2
        assert conn.scalar(select(Device.platform)) == "ios"


def test_reingesting_every_kind_adds_nothing(engine: Engine, tmp_path: Path) -> None:
    load_store(engine, tmp_path)
    tables = (Customer, Consent, Order, OrderLine, OrderReturn, SupportTicket, ShipmentEvent)
    before = {t: count(engine, t) for t in (*tables, Device, Product)}
    for kind in KINDS:
        again = ingest_file(kind=kind, path=tmp_path / f"{kind}.csv", engine=engine)
        assert again.loaded == again.guest_lines == again.quarantined == 0, kind
        assert again.duplicates == again.read > 0, kind
        assert again.created == {}, kind
    assert {t: count(engine, t) for t in before} == before


def test_times_without_offset_are_read_in_the_customers_zone(
    engine: Engine, tmp_path: Path
) -> None:
    write(
        tmp_path / "customers.csv",
        "customer_id,time_zone,created_at",
        "c1,Europe/Istanbul,2026-03-01T10:00:00",
        "c2,,2026-03-01T10:00:00",
    )
    write(
        tmp_path / "orders.csv",
        ORDERS_HEADER,
        "o1,c1,2026-07-01T10:00:00,S1,,1,5,EUR,,",
        "o2,,2026-07-01T10:00:00,S1,,1,5,EUR,,",
        "o3,c1,2026-07-01T10:00:00-04:00,S1,,1,5,EUR,,",
    )
    write(
        tmp_path / "interactions.csv",
        "ticket_id,customer_id,channel,opened_at,first_response_at",
        "t1,c1,email,2026-07-01T10:00:00,2026-07-01T07:30:00Z",
        "t2,c1,email,2026-07-01T10:00:00,2026-07-01T06:30:00Z",
    )
    for kind in ("customers", "orders", "interactions"):
        ingest_file(kind=kind, path=tmp_path / f"{kind}.csv", engine=engine)
    with engine.connect() as conn:
        created = dict(conn.execute(select(Customer.external_id, Customer.created_at)).all())
        ordered = dict(conn.execute(select(Order.external_id, Order.ordered_at)).all())
        opened = dict(
            conn.execute(select(SupportTicket.external_id, SupportTicket.opened_at)).all()
        )
        [(line, field, reason)] = conn.execute(
            select(Quarantine.line_no, Quarantine.field, Quarantine.reason)
        ).all()
    assert created == {
        "c1": datetime(2026, 3, 1, 7, tzinfo=UTC),  # Istanbul is UTC+3
        "c2": datetime(2026, 3, 1, 10, tzinfo=UTC),  # no zone: UTC
    }
    assert ordered == {
        "o1": datetime(2026, 7, 1, 7, tzinfo=UTC),
        "o2": datetime(2026, 7, 1, 10, tzinfo=UTC),  # a guest: the default zone, UTC
        "o3": datetime(2026, 7, 1, 14, tzinfo=UTC),  # an explicit offset wins
    }
    # t2 was answered at 06:30 UTC, before it was opened at 07:00 UTC.
    assert opened == {"t1": datetime(2026, 7, 1, 7, tzinfo=UTC)}
    assert (line, field) == (3, "first_response_at")
    assert "before opened_at" in reason


def test_an_order_belongs_to_one_customer(engine: Engine, tmp_path: Path) -> None:
    customers_csv(tmp_path / "customers.csv", "c1,,,,,,,", "c2,,,,,,,")
    ingest_file(kind="customers", path=tmp_path / "customers.csv", engine=engine)
    path = write(
        tmp_path / "orders.csv",
        ORDERS_HEADER,
        "o1,c1,2026-01-05T10:00:00Z,S1,,1,5,EUR,,",
        "o1,c2,2026-01-05T10:00:00Z,S2,,1,5,EUR,,",
        "o1,,2026-01-05T10:00:00Z,S3,,1,5,EUR,,",
        "o1,c1,2026-01-05T10:00:00Z,S4,,1,5,EUR,,",
    )
    got = ingest_file(kind="orders", path=path, engine=engine)
    assert (got.loaded, got.guest_lines, got.quarantined) == (2, 0, 2)
    with engine.connect() as conn:
        rows = conn.execute(select(Quarantine.line_no, Quarantine.field, Quarantine.reason)).all()
        assert conn.scalar(select(Order.total)) == 10.0
    assert sorted((r[0], r[1]) for r in rows) == [(3, "customer_id"), (4, "customer_id")]
    assert all("every line of an order names the same customer_id" in r[2] for r in rows)


def test_orders_across_batches_and_overlapping_exports(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines are numbered per order in file order, so a later export finds them again."""
    monkeypatch.setattr("ingest.run.BATCH", 2)
    first = write(
        tmp_path / "january.csv",
        ORDERS_HEADER,
        "o1,,2026-01-05T10:00:00Z,A,,1,1,EUR,,",
        "o2,,2026-01-05T11:00:00Z,A,,1,2,EUR,,",
        "o1,,2026-01-05T10:00:00Z,B,,2,1,EUR,,",
        "o2,,2026-01-05T11:00:00Z,B,,1,2,EUR,,",
        "o1,,2026-01-05T10:00:00Z,C,,3,1,EUR,,",
    )
    got = ingest_file(kind="orders", path=first, engine=engine)
    assert (got.guest_lines, got.created["orders"], got.created["order_lines"]) == (5, 2, 5)
    overlap = write(
        tmp_path / "january-and-february.csv",
        ORDERS_HEADER,
        "o1,,2026-01-05T10:00:00Z,A,,1,1,EUR,,",
        "o1,,2026-01-05T10:00:00Z,B,,2,1,EUR,,",
        "o3,,2026-02-01T10:00:00Z,A,,4,1,EUR,,",
        "o1,,2026-01-05T10:00:00Z,C,,3,1,EUR,,",
        "o1,,2026-01-05T10:00:00Z,D,,1,10,EUR,,",  # a line the January export did not have
    )
    again = ingest_file(kind="orders", path=overlap, engine=engine)
    assert (again.duplicates, again.guest_lines) == (3, 2)
    with engine.connect() as conn:
        totals = dict(conn.execute(select(Order.external_id, Order.total)).all())
        o1_lines = conn.execute(
            select(OrderLine.line_no, OrderLine.sku)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.external_id == "o1")
            .order_by(OrderLine.line_no)
        ).all()
    assert totals == {"o1": 16.0, "o2": 4.0, "o3": 4.0}
    assert [tuple(r) for r in o1_lines] == [(1, "A"), (2, "B"), (3, "C"), (4, "D")]


def test_references_to_unknown_rows_are_quarantined(engine: Engine, tmp_path: Path) -> None:
    load_store(engine, tmp_path)
    shipments = write(
        tmp_path / "more-shipments.csv",
        "order_id,status,occurred_at",
        "o1,out_for_delivery,2026-01-08T07:00:00Z",
        "o404,delivered,2026-01-08T11:00:00Z",
        "o1,lost,2026-01-08T11:00:00Z",
    )
    got = ingest_file(kind="shipments", path=shipments, engine=engine)
    assert (got.loaded, got.quarantined) == (1, 2)
    devices = write(
        tmp_path / "more-devices.csv",
        "customer_id,platform,token",
        "c1,android,tok-456",
        "c9,ios,tok-789",
        "c1,windows,tok-000",
        "c2,ios,tok-123",
    )
    got = ingest_file(kind="devices", path=devices, engine=engine)
    assert (got.loaded, got.quarantined, got.duplicates) == (1, 2, 1)
    with engine.connect() as conn:
        reasons = {
            (r.source, r.line_no): (r.field, r.reason)
            for r in conn.execute(select(Quarantine)).all()
        }
    assert reasons[("more-shipments.csv", 3)][0] == "order_id"
    assert "not a known order" in reasons[("more-shipments.csv", 3)][1]
    assert reasons[("more-shipments.csv", 4)][0] == "status"
    assert "in_transit" in reasons[("more-shipments.csv", 4)][1]
    assert reasons[("more-devices.csv", 3)][0] == "customer_id"
    assert reasons[("more-devices.csv", 4)] == (
        "platform",
        "platform 'windows' is not valid; expected one of ios, android",
    )
