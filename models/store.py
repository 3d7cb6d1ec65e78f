"""What a store knows about its customers: people, consent, devices, orders, deliveries, tickets.

Families follow the ``Base`` / ``Create`` / ``Public`` / ``table=True`` pattern where
input crosses a boundary (ingestion, the web service); plain tables elsewhere.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, ColumnElement, FromClause, Index, String, UniqueConstraint, and_
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, table, utcnow


class Channel(StrEnum):
    """How a message reaches a customer (``Message.channel``, ``Consent.channel``)."""

    email = "email"
    push = "push"


class ConsentStatus(StrEnum):
    subscribed = "subscribed"
    unsubscribed = "unsubscribed"
    bounced = "bounced"
    complained = "complained"


class ShipmentStatus(StrEnum):
    placed = "placed"
    confirmed = "confirmed"
    packed = "packed"
    shipped = "shipped"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"
    delayed = "delayed"


class ReturnKind(StrEnum):
    returned = "return"
    cancellation = "cancellation"


def _ts(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class CustomerBase(SQLModel):
    external_id: str = Field(max_length=64, description="The store's own customer id")
    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    locale: str = Field(default="en", max_length=16, description="BCP 47, e.g. tr or pt-BR")
    time_zone: str = Field(default="UTC", max_length=64, description="IANA, e.g. Europe/Istanbul")
    country: str | None = Field(default=None, max_length=64)
    birthday: date | None = None


class CustomerCreate(CustomerBase):
    pass


class CustomerPublic(SQLModel):
    """What may leave the service about a customer: ids and preferences, no contact data."""

    id: int
    external_id: str
    locale: str
    time_zone: str


class Customer(CustomerBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Consent(SQLModel, table=True):
    """The current consent of one customer on one channel; changes record source and time."""

    __table_args__ = (UniqueConstraint("customer_id", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    channel: str = Field(sa_type=String(8))
    status: str = Field(sa_type=String(16))
    source: str = Field(default="import", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Device(SQLModel, table=True):
    """A mobile device registered for push; disabled when the provider says the endpoint died."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    platform: str = Field(sa_type=String(16), description="ios or android")
    token: str = Field(max_length=512, unique=True)
    endpoint_arn: str | None = Field(default=None, max_length=512)
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    disabled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class Product(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=64, unique=True, index=True)
    name: str | None = Field(default=None, max_length=255)
    category: str | None = Field(default=None, max_length=100, index=True)
    replenish_days: int | None = Field(default=None, description="Typical days between refills")


class Order(SQLModel, table=True):
    """One order (an invoice). ``customer_id`` is empty for guest orders, which count for no one."""

    __tablename__ = "orders"
    # Covers the per-customer aggregates (features, RFM, cohorts) without touching the table.
    __table_args__ = (
        Index("ix_orders_customer_ordered", "customer_id", "ordered_at", "total", "items"),
    )

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=64, unique=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    ordered_at: datetime = Field(sa_column=_ts(index=True))
    currency: str = Field(default="GBP", max_length=3)
    total: float = Field(default=0.0, description="Sum of line amounts, before returns")
    items: int = Field(default=0, description="Sum of line quantities")
    country: str | None = Field(default=None, max_length=64)


def counted_order(orders: FromClause | None = None) -> ColumnElement[bool]:
    """What counts as an order, for every figure that counts orders: a known customer, a
    total above 0 and at least one item (docs/analytics.md, "Orders").

    Ingestion stores cancellations as returns and keeps only clean positive lines, so this
    leaves out guest orders (they count for no one) and orders with nothing paid or nothing
    bought. The reports, customer features, the demo, the last order a message shows and
    the ``v_customer_orders`` view all use this one condition. ``orders`` is the table or
    an alias of it (default the ``orders`` table).
    """
    o = (table(Order) if orders is None else orders).c
    return and_(o.customer_id.is_not(None), o.total > 0, o["items"] > 0)


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no"),
        Index("ix_order_line_order_sku", "order_id", "sku"),  # covers order -> categories
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id")
    line_no: int
    sku: str = Field(max_length=64, index=True)
    quantity: int
    unit_price: float


class OrderReturn(SQLModel, table=True):
    """Money and goods coming back: a return or a cancellation, against the customer."""

    __tablename__ = "order_return"
    __table_args__ = (Index("ix_order_return_customer_at", "customer_id", "returned_at"),)

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=96, unique=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    order_id: int | None = Field(default=None, foreign_key="orders.id")
    kind: str = Field(sa_type=String(16))
    returned_at: datetime = Field(sa_column=_ts())
    sku: str | None = Field(default=None, max_length=64)
    quantity: int = 0
    amount: float = Field(default=0.0, description="Value given back, positive")
    reason: str | None = Field(default=None, max_length=255)


class ShipmentEvent(SQLModel, table=True):
    __tablename__ = "shipment_event"
    __table_args__ = (
        UniqueConstraint("order_id", "status", "occurred_at"),
        Index("ix_shipment_event_status_at", "status", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    status: str = Field(sa_type=String(20))
    occurred_at: datetime = Field(sa_column=_ts())
    eta: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    carrier: str | None = Field(default=None, max_length=64)


class SupportTicket(SQLModel, table=True):
    """A support interaction: opened, first answered, resolved, and how many touches it took."""

    __tablename__ = "support_ticket"
    __table_args__ = (Index("ix_support_ticket_resolved_at", "resolved_at"),)

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=64, unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    channel: str = Field(sa_type=String(16), description="email, chat, phone or social")
    topic: str | None = Field(default=None, max_length=100)
    opened_at: datetime = Field(sa_column=_ts())
    first_response_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    resolved_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    touches: int = 1


class Interaction(SQLModel, table=True):
    """Anything a customer did or had happen that segments may use.

    Kinds include ``delivered``, ``opened``, ``clicked``, ``bounced``, ``complained``,
    ``unsubscribed`` and ``survey_answer``. ``source_ref`` makes replays idempotent
    (a provider event id, a survey answer id).
    """

    __table_args__ = (
        Index("ix_interaction_customer_kind_at", "customer_id", "kind", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")
    kind: str = Field(sa_type=String(32))
    channel: str | None = Field(default=None, sa_type=String(8))
    occurred_at: datetime = Field(sa_column=_ts())
    message_id: int | None = Field(default=None, index=True, description="Ledger row, if any")
    value: float | None = None
    detail: str | None = Field(default=None, max_length=255)
    source_ref: str | None = Field(default=None, max_length=128, unique=True)
