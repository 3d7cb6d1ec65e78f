"""Repeat-purchase rate and customer retention rate."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, case, func, select

from analytics.orders import DEFINITION, ORD, counted
from analytics.report import Report
from models.sqltime import epoch_month
from models.store import Customer

GROUPS = {
    "none": None,
    "locale": Customer.__table__.c.locale,
    "country": Customer.__table__.c.country,
}
REPEAT_TEXT = (
    "Repeat-purchase rate: customers with two or more orders in the window, among customers with at least one. "
    + DEFINITION
)
CRR_TEXT = (
    "Customer retention rate of a month: (E − N) / S, where S is the customers who ordered in the previous month, "
    "E those who ordered in the month, and N those whose first order was in the month. "
    + DEFINITION
)


def repeat_rate(
    engine: Engine, *, start: date | None = None, end: date | None = None, by: str = "none"
) -> list[dict]:
    group = GROUPS[by]
    per = (
        select(ORD.customer_id, func.count().label("n"))
        .where(counted(start, end))
        .group_by(ORD.customer_id)
        .subquery()
    )
    key = group.label("group") if group is not None else func.coalesce(None, "all").label("group")
    query = (
        select(key, func.count(), func.sum(case((per.c.n >= 2, 1), else_=0)))
        .select_from(per.join(Customer.__table__, Customer.__table__.c.id == per.c.customer_id))
        .group_by(key)
        .order_by(key)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "group": g or "unknown",
            "customers": n,
            "repeat_customers": int(r or 0),
            "repeat_rate": round((r or 0) / n, 4),
        }
        for g, n, r in rows
    ]


def retention_rate(
    engine: Engine, *, start: date | None = None, end: date | None = None
) -> list[dict]:
    month = epoch_month(ORD.ordered_at)
    active = (
        select(ORD.customer_id, month.label("m"))
        .where(counted(None, end))
        .group_by(ORD.customer_id, month)
        .subquery()
    )
    first = (
        select(active.c.customer_id, func.min(active.c.m).label("f"))
        .group_by(active.c.customer_id)
        .subquery()
    )
    with engine.connect() as conn:
        by_month = dict(conn.execute(select(active.c.m, func.count()).group_by(active.c.m)).all())
        new = dict(conn.execute(select(first.c.f, func.count()).group_by(first.c.f)).all())
    out = []
    for m in sorted(by_month):
        label = f"{1970 + m // 12:04d}-{m % 12 + 1:02d}"
        if (start and label < f"{start:%Y-%m}") or m - 1 not in by_month:
            continue
        s, e, n = by_month[m - 1], by_month[m], new.get(m, 0)
        out.append(
            {
                "month": label,
                "start_customers": s,
                "end_customers": e,
                "new_customers": n,
                "retention_rate": round((e - n) / s, 4),
            }
        )
    return out


def repeat_report(
    engine: Engine, *, start: date | None = None, end: date | None = None, by: str = "none"
) -> Report:
    rows = repeat_rate(engine, start=start, end=end, by=by)
    crr = retention_rate(engine, start=start, end=end)
    return Report(
        "repeat",
        "Repeat-purchase rate" + (f" by {by}" if by != "none" else ""),
        ["group", "customers", "repeat_customers", "repeat_rate"],
        rows,
        REPEAT_TEXT,
        notes=[CRR_TEXT],
        extra={"retention_rate": crr},
    )
