"""Cohort retention: customers grouped by the month of their first order, and the share of
each cohort who order again in each later calendar month."""

from __future__ import annotations

from sqlalchemy import Engine, func, or_, select

from analytics.connection import reading
from analytics.localtime import month_label, store_zone
from analytics.orders import DEFINITION, Window, order_months, partial_month
from analytics.report import MIN_BASE, Report, Table, join_notes, share, small_base

TEXT = (
    "Cohort retention: customers are grouped by the calendar month of their first order "
    "(in the store's time zone); month k is the share of the cohort who ordered in the k-th "
    "calendar month after it, so month 0 is always 100 %. A cohort's row stops at the last "
    "month with data (or the --to date). n/a: a month the data does not cover to its end "
    f"(its share would only count the days so far), or a cohort of fewer than {MIN_BASE} "
    "customers (see note; the counts are in the JSON)."
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
    """``[{"cohort": "2010-12", "size": N, "retention": [1.0, 0.366…, ...], "customers":
    [...], "note": ""}]``.

    Retention is an unrounded fraction, month 0 first, None where it is not available (a
    cohort below ``MIN_BASE`` customers, a month the data does not cover to its end; the
    note says which); ``customers`` holds the exact counts behind it.
    """
    window = window or Window.of(None, None, store_zone())
    counts, last = cohort_counts(engine, window=window)
    unfinished = partial_month(engine, window)
    out = []
    for cohort in sorted(counts):
        size = counts[cohort][0]
        active = [counts[cohort].get(k, 0) for k in range(last - cohort + 1)]
        retention = [
            share(n, size, observed=cohort + k != unfinished) for k, n in enumerate(active)
        ]
        cut = unfinished is not None and unfinished - cohort < len(active)
        out.append(
            {
                "cohort": month_label(cohort),
                "size": size,
                "retention": retention,
                "customers": active,
                "note": join_notes(
                    small_base(size),
                    f"m{unfinished - cohort} ({month_label(unfinished)}) is not over in the data"
                    if cut and unfinished is not None and size >= MIN_BASE
                    else "",
                ),
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
            "note": c["note"],
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
                ["cohort", "size", *months, "note"],
                rows,
                tuple(months),
            )
        ],
        definitions=[TEXT, DEFINITION],
        window=window.describe(),
        data={"cohorts": cohorts, "partial_month": month_label(partial) if partial else None},
    )
