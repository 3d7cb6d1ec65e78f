"""What counts as an order for analytics, in one place.

An order is a non-cancelled order with positive quantity and value, of a known
customer: ingestion keeps cancellations apart (as returns) and guest orders have no
customer, so they count for no one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, and_

from models.store import Order

ORD = Order.__table__.c
DEFINITION = "Orders: non-cancelled orders with positive quantity and price, of a known customer (guest orders count for no one)."


def counted(start: date | None = None, end: date | None = None) -> ColumnElement[bool]:
    """The order condition, optionally within [start, end] (whole UTC days)."""
    parts = [ORD.customer_id.is_not(None), ORD.total > 0, ORD["items"] > 0]
    if start:
        parts.append(ORD.ordered_at >= instant(start))
    if end:
        parts.append(ORD.ordered_at < instant(end) + timedelta(days=1))
    return and_(*parts)


def instant(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
