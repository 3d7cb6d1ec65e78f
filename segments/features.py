"""Customer features as of a date, computed by the database in one INSERT ... SELECT.

Only what happened before the end of ``as_of`` (UTC) counts. An order is an order with a
customer, a positive quantity and a positive value; guest orders count for no one.
Revenue is order totals minus what came back (returns and cancellations), rounded to
cents. Every customer known by then has a row, with zeros and empty dates if they never
bought, so rules on customer fields (locale, country) reach them too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Float, case, delete, func, insert, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from models.campaigns import Message
from models.segments import CustomerCategory, CustomerFeatures
from models.sqltime import epoch_day
from models.store import (
    Customer,
    Interaction,
    Order,
    OrderLine,
    OrderReturn,
    Product,
    ReturnKind,
    SupportTicket,
)
from models.surveys import SurveyAnswer

EPOCH = date(1970, 1, 1)

# Fields a rule may use, with their kind (how the rule language checks values).
FIELDS: dict[str, str] = {
    "locale": "text",
    "country": "text",
    "time_zone": "text",
    "first_order_at": "date",
    "last_order_at": "date",
    "orders": "number",
    "order_days": "number",
    "revenue": "number",
    "avg_order_value": "number",
    "days_since_last_order": "number",
    "tenure_days": "number",
    "categories": "number",
    "top_category": "text",
    "returns": "number",
    "cancellations": "number",
    "open_tickets": "number",
    "resolved_tickets": "number",
    "last_csat": "number",
    "last_csat_at": "date",
    "last_csat_days_ago": "number",
    "messages_received": "number",
    "messages_opened": "number",
    "messages_clicked": "number",
    "value_percentile": "number",
    "r_score": "number",
    "f_score": "number",
    "m_score": "number",
    "rfm_segment": "text",
}


def cutoff_of(as_of: date) -> datetime:
    """The first instant after ``as_of`` (UTC): everything before it counts."""
    return datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) + timedelta(days=1)


class round_cents(FunctionElement[float]):
    """Money rounded to cents, so the same sum in any order gives the same number."""

    type = Float()
    inherit_cache = True


@compiles(round_cents, "sqlite")
def _round_cents_sqlite(element: round_cents, compiler: Any, **kw: Any) -> str:
    return f"ROUND({compiler.process(element.clauses, **kw)}, 2)"


@compiles(round_cents, "postgresql")
def _round_cents_pg(element: round_cents, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(ROUND(CAST({arg} AS NUMERIC), 2) AS DOUBLE PRECISION)"


def _flag(condition) -> object:  # type: ignore[no-untyped-def]
    return func.sum(case((condition, 1), else_=0))


def refresh_features(conn: Connection, *, as_of: date) -> int:
    """Replace ``customer_features`` and ``customer_category``; returns the number of customers."""
    cutoff = cutoff_of(as_of)
    today = (as_of - EPOCH).days
    o, c = Order.__table__.c, Customer.__table__.c
    conn.execute(delete(CustomerFeatures))
    conn.execute(delete(CustomerCategory))

    bought = (
        (o.customer_id.is_not(None)) & (o["items"] > 0) & (o.total > 0) & (o.ordered_at < cutoff)
    )
    orders = (
        select(
            o.customer_id,
            func.min(o.ordered_at).label("first_at"),
            func.max(o.ordered_at).label("last_at"),
            func.count().label("n"),
            func.count(func.distinct(epoch_day(o.ordered_at))).label("days"),
            func.sum(o.total).label("total"),
        )
        .where(bought)
        .group_by(o.customer_id)
        .subquery()
    )
    r = OrderReturn.__table__.c
    returns = (
        select(
            r.customer_id,
            _flag(r.kind != ReturnKind.cancellation.value).label("n"),
            _flag(r.kind == ReturnKind.cancellation.value).label("cancelled"),
            func.sum(r.amount).label("amount"),
        )
        .where(r.customer_id.is_not(None), r.returned_at < cutoff)
        .group_by(r.customer_id)
        .subquery()
    )
    line, product = OrderLine.__table__.c, Product.__table__.c
    per_category = (
        select(o.customer_id, product.category, func.count().label("n"))
        .select_from(
            OrderLine.__table__.join(Order.__table__, line.order_id == o.id).join(
                Product.__table__, product.sku == line.sku
            )
        )
        .where(bought, product.category.is_not(None))
        .group_by(o.customer_id, product.category)
        .subquery()
    )
    conn.execute(
        insert(CustomerCategory).from_select(
            ["customer_id", "category", "lines"], select(per_category)
        )
    )
    # Correlated lookups through the primary key (not a window over a subquery), so that
    # SQLite as well as PostgreSQL joins them in O(n log n).
    cc = CustomerCategory.__table__.c
    top_category = (
        select(cc.category)
        .where(cc.customer_id == c.id)
        .order_by(cc.lines.desc(), cc.category)
        .limit(1)
        .scalar_subquery()
    )
    category_count = select(func.count()).where(cc.customer_id == c.id).scalar_subquery()
    t = SupportTicket.__table__.c
    tickets = (
        select(
            t.customer_id,
            _flag(t.resolved_at.is_(None) | (t.resolved_at >= cutoff)).label("open"),
            _flag(t.resolved_at < cutoff).label("resolved"),
        )
        .where(t.opened_at < cutoff)
        .group_by(t.customer_id)
        .subquery()
    )
    a = SurveyAnswer.__table__.c
    last_csat = (
        select(a.score)
        .where(
            a.customer_id == c.id, a.kind == "csat", a.score.is_not(None), a.answered_at < cutoff
        )
        .order_by(a.answered_at.desc())
        .limit(1)
    )
    m = Message.__table__.c
    received = (
        select(m.customer_id, func.count().label("n"))
        .where(m.status == "sent", m.sent_at < cutoff)
        .group_by(m.customer_id)
        .subquery()
    )
    i = Interaction.__table__.c
    engaged = (
        select(
            i.customer_id,
            _flag(i.kind == "opened").label("opened"),
            _flag(i.kind == "clicked").label("clicked"),
        )
        .where(i.occurred_at < cutoff, i.kind.in_(("opened", "clicked")))
        .group_by(i.customer_id)
        .subquery()
    )
    revenue = round_cents(func.coalesce(orders.c.total, 0.0) - func.coalesce(returns.c.amount, 0.0))
    query = (
        select(
            c.id,
            literal(as_of),
            c.locale,
            c.country,
            c.time_zone,
            orders.c.first_at,
            orders.c.last_at,
            func.coalesce(orders.c.n, 0),
            func.coalesce(orders.c.days, 0),
            revenue,
            case((orders.c.n > 0, revenue / orders.c.n), else_=0.0),
            today - epoch_day(orders.c.last_at),
            today - epoch_day(orders.c.first_at),
            category_count,
            top_category,
            func.coalesce(returns.c.n, 0),
            func.coalesce(returns.c.cancelled, 0),
            func.coalesce(tickets.c.open, 0),
            func.coalesce(tickets.c.resolved, 0),
            last_csat.scalar_subquery(),
            last_csat.with_only_columns(a.answered_at).scalar_subquery(),
            today - last_csat.with_only_columns(epoch_day(a.answered_at)).scalar_subquery(),
            func.coalesce(received.c.n, 0),
            func.coalesce(engaged.c.opened, 0),
            func.coalesce(engaged.c.clicked, 0),
        )
        .select_from(Customer.__table__)
        .outerjoin(orders, orders.c.customer_id == c.id)
        .outerjoin(returns, returns.c.customer_id == c.id)
        .outerjoin(tickets, tickets.c.customer_id == c.id)
        .outerjoin(received, received.c.customer_id == c.id)
        .outerjoin(engaged, engaged.c.customer_id == c.id)
        .where(or_(c.created_at < cutoff, orders.c.n > 0))
    )
    columns = [
        "customer_id", "as_of", "locale", "country", "time_zone", "first_order_at", "last_order_at",
        "orders", "order_days", "revenue", "avg_order_value", "days_since_last_order", "tenure_days",
        "categories", "top_category", "returns", "cancellations", "open_tickets", "resolved_tickets",
        "last_csat", "last_csat_at", "last_csat_days_ago", "messages_received", "messages_opened", "messages_clicked",
    ]  # fmt: skip
    conn.execute(insert(CustomerFeatures).from_select(columns, query))
    return conn.execute(select(func.count()).select_from(CustomerFeatures)).scalar_one()
