"""What counts as an order for analytics, and the report window, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Engine, Subquery, and_, func, select

from analytics.connection import reading
from analytics.localtime import LocalTime, local_midnight, month_index, store_zone
from models.base import table
from models.dialect import is_postgresql
from models.store import Order, counted_order

ORD = table(Order).c
# What the reports print under their tables: models.store.counted_order in words.
DEFINITION = (
    "An order is a row of the orders table with a known customer, a total above 0 and at "
    "least one item. Ingestion stores cancellations as returns, not orders, and keeps only "
    "clean positive lines, so these are non-cancelled orders with positive quantity and "
    "price; guest orders (no customer) count for no one."
)


def counted(
    start_at: datetime | None = None, end_at: datetime | None = None
) -> ColumnElement[bool]:
    """The order condition, optionally with ``start_at <= ordered_at < end_at``."""
    parts = [counted_order()]
    if start_at is not None:
        parts.append(ORD.ordered_at >= start_at)
    if end_at is not None:
        parts.append(ORD.ordered_at < end_at)
    return and_(*parts)


@dataclass(frozen=True)
class Window:
    """Whole local days ``start`` to ``end`` (both included) in the store's time zone."""

    start: date | None = None
    end: date | None = None
    zone: str = "UTC"

    @classmethod
    def of(cls, start: date | None, end: date | None, zone: str) -> Window:
        """The window of the CLI's ``--from``/``--to`` in ``zone`` (checked; the caller
        resolves the store's default with :func:`store_zone`)."""
        if start and end and start > end:
            raise ValueError(f"--from {start} is after --to {end}; the window would be empty")
        return cls(start, end, store_zone(zone))

    @property
    def start_at(self) -> datetime | None:
        return local_midnight(self.start, self.zone) if self.start else None

    @property
    def end_at(self) -> datetime | None:
        """The first instant after the window (exclusive bound)."""
        return local_midnight(self.end + timedelta(days=1), self.zone) if self.end else None

    @property
    def first_month(self) -> int | None:
        return month_index(self.start) if self.start else None

    @property
    def last_month(self) -> int | None:
        return month_index(self.end) if self.end else None

    def describe(self) -> str:
        if not (self.start or self.end):
            return f"all data; months and days in {self.zone}"
        return f"{self.start or 'start'} to {self.end or 'end'} ({self.zone})"


def order_count(engine: Engine, window: Window | None = None) -> int:
    """How many orders count (the definition above), in ``window`` or in all the data."""
    span = window or Window()
    with reading(engine) as conn:
        return conn.execute(
            select(func.count()).where(counted(span.start_at, span.end_at))
        ).scalar_one()


def last_order_day(engine: Engine, zone: str) -> date | None:
    """The local day of the latest order: how far the data reaches."""
    with reading(engine) as conn:
        last = conn.execute(select(func.max(ORD.ordered_at)).where(counted())).scalar()
    return last.astimezone(ZoneInfo(zone)).date() if last else None


def partial_month(engine: Engine, window: Window) -> int | None:
    """The month index of the last month if the data stops before its end, else None."""
    end = window.end or last_order_day(engine, window.zone)
    if end is None or (end + timedelta(days=1)).month != end.month:
        return None
    return month_index(end)


def order_months(conn: Connection, window: Window) -> Subquery:
    """Customers' active months up to the end of the window, with the customer's previous
    and next active month (``prev``, ``next``) and first month (``c``); ``seq`` orders the
    rows of a customer.

    PostgreSQL: one row per order, in (customer, time) order, which the index on orders
    delivers without sorting ten million rows; a month's first order is where ``prev``
    differs from ``m``. SQLite, whose window functions are slow, first reduces the orders
    to distinct (customer, month) pairs. Either way ``prev != m`` marks each customer's
    month once, and ``m - prev`` and ``next - m`` are the gaps between active months.
    """
    lt = LocalTime.over(conn, window.zone, ORD.ordered_at)
    month = lt.month(ORD.ordered_at).label("m")
    if is_postgresql(conn):
        # The month is computed once per order, below the window functions that read it.
        per_order = select(ORD.customer_id, ORD.ordered_at, month)
        rows = per_order.where(counted(None, window.end_at)).subquery()
        seq = rows.c.ordered_at
    else:
        per_month = select(ORD.customer_id, month).distinct()
        rows = per_month.where(counted(None, window.end_at)).subquery()
        seq = rows.c.m
    by = rows.c.customer_id
    return select(
        rows.c.customer_id,
        seq.label("seq"),
        rows.c.m,
        func.lag(rows.c.m).over(partition_by=by, order_by=seq).label("prev"),
        func.lead(rows.c.m).over(partition_by=by, order_by=seq).label("next"),
        func.first_value(rows.c.m).over(partition_by=by, order_by=seq).label("c"),
    ).subquery()
