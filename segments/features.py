"""Customer features as of a date, computed by the database.

Only what happened before the end of ``as_of`` (UTC) counts. An order is what every figure
counts as one (``models.store.counted_order``: a customer, a positive total, at least one
item); guest orders count for no one. Revenue is order totals minus what came back (returns
and cancellations), rounded to cents. Every customer known by then has a row, with zeros and
empty dates if they never bought, so rules on customer fields (locale, country) reach them
too.

Two statements do the work, both INSERT ... SELECT: the features go into a temporary
staging table, then into ``customer_features`` together with the RFM scores computed over
the staged rows (see ``segments.rfm``), so no row is written twice. Each source table is
read once, grouped by customer (orders by customer and day as well, lines by customer and
category), and the groups are joined to the customers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Float,
    MetaData,
    Select,
    String,
    Table,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from models.base import table
from models.campaigns import Message
from models.dialect import CreateTempTableAs, drop_temp_table, epoch_day, local_work_mem
from models.segments import CustomerFeatures
from models.store import (
    Customer,
    Interaction,
    Order,
    OrderLine,
    OrderReturn,
    Product,
    ReturnKind,
    SupportTicket,
    counted_order,
)
from models.surveys import SurveyAnswer
from segments import rfm

EPOCH = date(1970, 1, 1)
MARK = "\x1f"  # around each name in ``bought_categories``; no category name contains it

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
# Per-customer predictions a rule may use (``customer_prediction``, written by each model fit);
# they are not columns of ``customer_features``, so a rule reads them by customer id.
PREDICTED: dict[str, str] = {
    "p_alive": "number",
    "expected_orders_90d": "number",
    "clv": "number",
}
RULE_FIELDS: dict[str, str] = FIELDS | PREDICTED
SCORED = ("value_percentile", "r_score", "f_score", "m_score", "rfm_segment")
STAGED = [c.name for c in table(CustomerFeatures).c if c.name not in SCORED]


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


class joined_names(FunctionElement[str]):
    """Every value of a text column in a group, each between two ``MARK``s."""

    type = String()
    inherit_cache = True


@compiles(joined_names, "sqlite")
def _joined_names_sqlite(element: joined_names, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"(char(31) || group_concat({arg}, char(31)) || char(31))"


@compiles(joined_names, "postgresql")
def _joined_names_pg(element: joined_names, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"(chr(31) || string_agg({arg}, chr(31)) || chr(31))"


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def stage_table() -> Table:
    """The temporary table of staged features: ``customer_features`` without RFM columns."""
    columns = [Column(c.name, c.type) for c in table(CustomerFeatures).c if c.name in STAGED]
    return Table("customer_features_stage", MetaData(), *columns, prefixes=["TEMPORARY"])


def features_select(as_of: date) -> Select[Any]:
    """Every staged column of every customer known by ``as_of``, as one SELECT."""
    cutoff = cutoff_of(as_of)
    today = (as_of - EPOCH).days
    o, c = table(Order).c, table(Customer).c
    bought = counted_order() & (o.ordered_at < cutoff)
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
        .subquery("orders_agg")
    )
    r = table(OrderReturn).c
    cancellation = r.kind == ReturnKind.cancellation.value
    returns = (
        select(
            r.customer_id,
            _flag(~cancellation).label("n"),
            _flag(cancellation).label("cancelled"),
            func.sum(r.amount).label("amount"),
        )
        .where(r.customer_id.is_not(None), r.returned_at < cutoff)
        .group_by(r.customer_id)
        .subquery("returns_agg")
    )
    # Categories get codes (0 = alphabetically last) so that the most bought category,
    # ties going to the alphabetically first, is one MAX(lines * n + code): no sort needed.
    product = table(Product).c
    names = select(product.category).where(product.category.is_not(None)).distinct().subquery()
    cats = select(
        names.c.category,
        (func.row_number().over(order_by=names.c.category.desc()) - 1).label("code"),
    ).subquery("cats")
    n_cats = select(func.count()).select_from(names).scalar_subquery()
    sku_codes = (
        select(product.sku, cats.c.code)
        .join_from(table(Product), cats, cats.c.category == product.category)
        .subquery("sku_codes")
    )
    line = table(OrderLine).c
    per_category = (
        select(o.customer_id, sku_codes.c.code, func.count().label("lines"))
        .select_from(
            table(OrderLine)
            .join(table(Order), line.order_id == o.id)
            .join(sku_codes, sku_codes.c.sku == line.sku)
        )
        .where(bought)
        .group_by(o.customer_id, sku_codes.c.code)
        .subquery("per_category")
    )
    named_category = cats.alias("named_category")
    categories = (
        select(
            per_category.c.customer_id,
            func.count().label("k"),
            func.max(per_category.c.lines * n_cats + per_category.c.code).label("top_key"),
            joined_names(named_category.c.category).label("names"),
        )
        .join_from(per_category, named_category, named_category.c.code == per_category.c.code)
        .group_by(per_category.c.customer_id)
        .subquery("categories_agg")
    )
    top_category = cats.alias("top_category")
    t = table(SupportTicket).c
    tickets = (
        select(
            t.customer_id,
            _flag(t.resolved_at.is_(None) | (t.resolved_at >= cutoff)).label("open"),
            _flag(t.resolved_at < cutoff).label("resolved"),
        )
        .where(t.opened_at < cutoff)
        .group_by(t.customer_id)
        .subquery("tickets_agg")
    )
    a = table(SurveyAnswer).c
    answers = (
        select(
            a.customer_id,
            a.score,
            a.answered_at,
            func.row_number()
            .over(partition_by=a.customer_id, order_by=(a.answered_at.desc(), a.id.desc()))
            .label("rank"),
        )
        .where(a.kind == "csat", a.score.is_not(None), a.answered_at < cutoff)
        .subquery("answers")
    )
    csat = (
        select(answers.c.customer_id, answers.c.score, answers.c.answered_at)
        .where(answers.c["rank"] == 1)
        .subquery("csat")
    )
    m = table(Message).c
    received = (
        select(m.customer_id, func.count().label("n"))
        .where(m.status == "sent", m.sent_at < cutoff)
        .group_by(m.customer_id)
        .subquery("received")
    )
    i = table(Interaction).c
    engaged = (
        select(
            i.customer_id,
            _flag(i.kind == "opened").label("opened"),
            _flag(i.kind == "clicked").label("clicked"),
        )
        .where(i.occurred_at < cutoff, i.kind.in_(("opened", "clicked")))
        .group_by(i.customer_id)
        .subquery("engaged")
    )
    revenue = round_cents(func.coalesce(orders.c.total, 0.0) - func.coalesce(returns.c.amount, 0.0))
    values = {
        "customer_id": c.id,
        "as_of": literal(as_of),
        "locale": c.locale,
        "country": c.country,
        "time_zone": c.time_zone,
        "first_order_at": orders.c.first_at,
        "last_order_at": orders.c.last_at,
        "orders": func.coalesce(orders.c.n, 0),
        "order_days": func.coalesce(orders.c.days, 0),
        "revenue": revenue,
        "avg_order_value": case((orders.c.n > 0, revenue / orders.c.n), else_=0.0),
        "days_since_last_order": today - epoch_day(orders.c.last_at),
        "tenure_days": today - epoch_day(orders.c.first_at),
        "categories": func.coalesce(categories.c.k, 0),
        "top_category": top_category.c.category,
        "bought_categories": func.coalesce(categories.c.names, ""),
        "returns": func.coalesce(returns.c.n, 0),
        "cancellations": func.coalesce(returns.c.cancelled, 0),
        "open_tickets": func.coalesce(tickets.c.open, 0),
        "resolved_tickets": func.coalesce(tickets.c.resolved, 0),
        "last_csat": csat.c.score,
        "last_csat_at": csat.c.answered_at,
        "last_csat_days_ago": today - epoch_day(csat.c.answered_at),
        "messages_received": func.coalesce(received.c.n, 0),
        "messages_opened": func.coalesce(engaged.c.opened, 0),
        "messages_clicked": func.coalesce(engaged.c.clicked, 0),
    }
    assert list(values) == STAGED, "staged columns and their values must line up"
    return (
        select(*(value.label(name) for name, value in values.items()))
        .select_from(table(Customer))
        .outerjoin(orders, orders.c.customer_id == c.id)
        .outerjoin(returns, returns.c.customer_id == c.id)
        .outerjoin(categories, categories.c.customer_id == c.id)
        .outerjoin(top_category, top_category.c.code == categories.c.top_key % n_cats)
        .outerjoin(tickets, tickets.c.customer_id == c.id)
        .outerjoin(csat, csat.c.customer_id == c.id)
        .outerjoin(received, received.c.customer_id == c.id)
        .outerjoin(engaged, engaged.c.customer_id == c.id)
        .where(or_(c.created_at < cutoff, orders.c.n > 0))
    )


def stage_features(conn: Connection, *, as_of: date) -> Table:
    """Compute the features into a temporary table (gone at commit on PostgreSQL)."""
    local_work_mem(conn, "256MB")  # room for the hash tables and sorts of this transaction
    stage = stage_table()
    stage.drop(conn, checkfirst=True)
    conn.execute(CreateTempTableAs(stage.name, features_select(as_of)))
    return stage


def store_features(conn: Connection, stage: Table) -> int:
    """Replace ``customer_features`` with the staged rows and their RFM scores."""
    conn.execute(delete(CustomerFeatures))
    scored = rfm.scored_select(conn, stage)
    conn.execute(insert(CustomerFeatures).from_select([*STAGED, *SCORED], scored))
    drop_temp_table(conn, stage)
    return conn.execute(select(func.count()).select_from(CustomerFeatures)).scalar_one()


def refresh_features(conn: Connection, *, as_of: date) -> int:
    """Replace ``customer_features`` as of ``as_of``; returns the number of customers."""
    return store_features(conn, stage_features(conn, as_of=as_of))
