"""Cohort retention: customers grouped by the month of their first order; the share of each
cohort who order in month 0, 1, 2, ... after it (calendar months, UTC)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, func, select

from analytics.orders import DEFINITION, ORD, counted
from analytics.report import Report
from models.sqltime import epoch_month

TEXT = (
    "Cohort retention: customers grouped by the calendar month of their first order; month k is the share "
    "of the cohort who ordered in the k-th calendar month after it (month 0 is 100 %). "
    + DEFINITION
)


def _label(month: int) -> str:
    return f"{1970 + month // 12:04d}-{month % 12 + 1:02d}"


def cohort_table(
    engine: Engine, *, start: date | None = None, end: date | None = None
) -> list[dict]:
    """``[{"cohort": "2010-12", "size": N, "retention": [1.0, 0.366, ...]}, ...]``."""
    month = epoch_month(ORD.ordered_at)
    active = (
        select(ORD.customer_id, month.label("m"))
        .where(counted(None, end))
        .group_by(ORD.customer_id, month)
        .subquery()
    )
    first = (
        select(active.c.customer_id, func.min(active.c.m).label("c"))
        .group_by(active.c.customer_id)
        .subquery()
    )
    query = (
        select(first.c.c, (active.c.m - first.c.c).label("k"), func.count())
        .join(first, first.c.customer_id == active.c.customer_id)
        .group_by(first.c.c, active.c.m - first.c.c)
        .order_by(first.c.c, active.c.m - first.c.c)
    )
    counts: dict[int, dict[int, int]] = {}
    with engine.connect() as conn:
        for cohort, k, n in conn.execute(query):
            counts.setdefault(int(cohort), {})[int(k)] = int(n)
    if not counts:
        return []
    last = max(c + max(ks) for c, ks in counts.items())
    out = []
    for cohort in sorted(counts):
        if start and _label(cohort) < f"{start:%Y-%m}":
            continue
        size = counts[cohort][0]
        out.append(
            {
                "cohort": _label(cohort),
                "size": size,
                "retention": [counts[cohort].get(k, 0) / size for k in range(last - cohort + 1)],
            }
        )
    return out


def cohort_report(engine: Engine, *, start: date | None = None, end: date | None = None) -> Report:
    cohorts = cohort_table(engine, start=start, end=end)
    width = max((len(c["retention"]) for c in cohorts), default=0)
    rows = [
        {
            "cohort": c["cohort"],
            "size": c["size"],
            **{f"m{k}": round(v, 3) for k, v in enumerate(c["retention"])},
        }
        for c in cohorts
    ]
    return Report(
        "cohorts",
        "Cohort retention by month of first order",
        ["cohort", "size", *[f"m{k}" for k in range(width)]],
        rows,
        TEXT,
        extra={"cohorts": cohorts},
    )
