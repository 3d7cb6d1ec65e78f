"""Cohort retention: customers grouped by the month of their first order, and the share of
each cohort who order again in each later calendar month."""

from __future__ import annotations

from sqlalchemy import Engine, func, or_, select

from analytics.connection import reading
from analytics.localtime import month_label, store_zone
from analytics.orders import DEFINITION, Window, order_months, partial_month
from analytics.report import Report, Table

TEXT = (
    "Cohort retention: customers are grouped by the calendar month of their first order "
    "(in the store's time zone); month k is the share of the cohort who ordered in the k-th "
    "calendar month after it, so month 0 is always 100 %. A cohort's row stops at the last "
    "month with data (or the --to date), whose figure covers only the days up to then."
)


def cohort_counts(engine: Engine, *, window: Window) -> tuple[dict[int, dict[int, int]], int]:
    """({cohort month: {k: customers ordering in month cohort + k}}, last month observed)."""
    with reading(engine) as conn:
        o = order_months(conn, window)
        first_in_month = or_(o.c.prev.is_(None), o.c.prev != o.c.m)
        query = select(o.c.c, o.c.m, func.count()).where(first_in_month).group_by(o.c.c, o.c.m)
        if window.first_month is not None:
            query = query.where(o.c.c >= window.first_month)
        counts: dict[int, dict[int, int]] = {}
        last = None
        for cohort, m, n in conn.execute(query):
            counts.setdefault(int(cohort), {})[int(m) - int(cohort)] = int(n)
            last = int(m) if last is None else max(last, int(m))
    if window.last_month is not None:
        last = window.last_month  # orders stop at --to, so no cohort starts after it
    return counts, last or 0


def cohort_table(engine: Engine, *, window: Window | None = None) -> list[dict]:
    """``[{"cohort": "2010-12", "size": N, "retention": [1.0, 0.366, ...], "customers": [...]}]``.

    Retention is a fraction rounded to 3 places (0.1 %), month 0 first; ``customers``
    holds the exact counts behind it.
    """
    counts, last = cohort_counts(engine, window=window or Window.of(None, None, store_zone()))
    out = []
    for cohort in sorted(counts):
        size = counts[cohort][0]
        active = [counts[cohort].get(k, 0) for k in range(last - cohort + 1)]
        out.append(
            {
                "cohort": month_label(cohort),
                "size": size,
                "retention": [round(n / size, 3) for n in active],
                "customers": active,
            }
        )
    return out


def cohort_report(engine: Engine, *, window: Window) -> Report:
    cohorts = cohort_table(engine, window=window)
    width = max((len(c["retention"]) for c in cohorts), default=1)
    months = [f"m{k}" for k in range(width)]
    rows = [
        {
            "cohort": c["cohort"],
            "size": c["size"],
            **dict(zip(months, c["retention"], strict=False)),
        }
        for c in cohorts
    ]
    partial = partial_month(engine, window)
    return Report(
        kind="cohorts",
        title="Cohort retention by month of first order",
        tables=[
            Table(
                "cohort-retention",
                "Cohort retention",
                ["cohort", "size", *months],
                rows,
                tuple(months),
            )
        ],
        definitions=[TEXT, DEFINITION],
        window=window.describe(),
        data={"cohorts": cohorts, "partial_month": month_label(partial) if partial else None},
    )
