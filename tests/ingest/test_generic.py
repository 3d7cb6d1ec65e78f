"""The generic layout: every kind loads, references resolve, re-runs add nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from ingest.run import ingest_file
from models import (
    Consent,
    Customer,
    Device,
    Order,
    OrderReturn,
    Product,
    ShipmentEvent,
    SupportTicket,
)
from tests.ingest.helpers import ORDERS_HEADER, customers_csv, write


def load_store(engine: Engine, tmp: Path) -> None:
    customers_csv(
        tmp / "customers.csv",
        "c1,ayse@example.com,Ayşe,tr,Europe/Istanbul,TR,subscribed,unsubscribed",
        "c2,jin@example.com,Jin,ko,Asia/Seoul,KR,unsubscribed,",
    )
    write(
        tmp / "orders.csv",
        ORDERS_HEADER,
        "o1,c1,2026-01-05T10:00:00+03:00,SKU-1,skincare,2,10.5,EUR,,",
        "o1,c1,2026-01-05T10:00:00+03:00,SKU-2,coffee,1,4,EUR,,",
        "o2,,2026-01-06T10:00:00Z,SKU-1,skincare,1,10.5,EUR,,",
        "o1,c1,2026-01-09T10:00:00+03:00,SKU-1,skincare,1,10.5,EUR,return,r1",
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
    for kind in ("customers", "orders", "interactions", "shipments", "devices"):
        got = ingest_file(kind=kind, path=tmp / f"{kind}.csv", engine=engine)
        assert got.quarantined == 0, kind


def test_every_kind_loads(engine: Engine, tmp_path: Path) -> None:
    load_store(engine, tmp_path)
    with engine.connect() as conn:
        customer = conn.execute(select(Customer).where(Customer.external_id == "c1")).one()
        assert (customer.locale, customer.time_zone, customer.email) == (
            "tr",
            "Europe/Istanbul",
            "ayse@example.com",
        )
        consents = dict(
            conn.execute(
                select(Consent.channel, Consent.status).where(Consent.customer_id == customer.id)
            ).all()
        )
        assert consents == {"email": "subscribed", "push": "unsubscribed"}
        o1 = conn.execute(select(Order).where(Order.external_id == "o1")).one()
        assert (o1.total, o1.items) == (25.0, 3)
        assert o1.ordered_at == datetime(2026, 1, 5, 7, tzinfo=UTC)
        assert conn.scalar(select(Order.customer_id).where(Order.external_id == "o2")) is None
        ret = conn.execute(select(OrderReturn)).one()
        assert (ret.kind, ret.amount, ret.customer_id, ret.order_id) == (
            "return",
            10.5,
            customer.id,
            o1.id,
        )
        assert conn.scalar(select(func.count()).select_from(Product)) == 2
        assert conn.scalar(select(SupportTicket.touches)) == 3
        assert conn.scalar(select(func.count()).select_from(ShipmentEvent)) == 2
        assert conn.scalar(select(Device.platform)) == "ios"


def test_reingesting_every_kind_adds_nothing(engine: Engine, tmp_path: Path) -> None:
    load_store(engine, tmp_path)
    for kind in ("customers", "orders", "interactions", "shipments", "devices"):
        again = ingest_file(kind=kind, path=tmp_path / f"{kind}.csv", engine=engine)
        assert again.loaded == again.guest_lines == 0, kind
        assert again.duplicates == again.read, kind
