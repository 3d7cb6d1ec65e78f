"""Repeat-purchase rate, and the customer retention rate (retained / S) by month and over the
whole window."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, FromClause, case, func, literal, or_, select

from analytics.connection import reading
from analytics.localtime import month_label
from analytics.orders import DEFINITION, ORD, Window, counted, order_months, partial_month
from analytics.report import MIN_BASE, Report, Table, join_notes, share, small_base
from models.base import table
from models.segments import latest_members
from models.store import Customer

C = table(Customer).c
BY = ("none", "locale", "country", "segment")
ACTIVE_MONTHS = 12
REPEAT_TEXT = (
    "Repeat-purchase rate: customers with two or more orders in the window, among customers "
    "with at least one order in the window. By segment: membership in each segment's latest "
    "snapshot on or before the end of the window. "
    f"A group of fewer than {MIN_BASE} customers shows n/a (see note)."
)
CRR_TEXT = (
    "Customer retention rate of a period: retained / S. A customer is active at an instant if "
    f"they ordered in the {ACTIVE_MONTHS} calendar months before it; S is the customers active "
    "at the start of the period, retained those of them active all through it to its end "
    "(one who lapsed and came back was lost and won back), churned the others (S − "
    "retained). E is all customers active at the end and N those whose first "
    "order falls in the period, shown for context. The rate is retained / S rather than the "
    "textbook (E − N) / S because E − N also counts customers who come back after more than "
    f"{ACTIVE_MONTHS} months (not in S), so it can exceed 100 %, and over a long window N "
    "includes new customers who have lapsed again, so it falls far below 0. Months are "
    "calendar months in the store's time zone; the first month of data has no start base and "
    f"is left out. n/a: S below {MIN_BASE} customers, or a period ending in a month the data "
    "has not fully covered (see note)."
)


def repeat_rate(engine: Engine, *, window: Window, by: str = "none") -> list[dict]:
    if by not in BY:
        raise ValueError(f"--by {by!r} does not apply to repeat; expected one of {', '.join(BY)}")
    per = (
        select(ORD.customer_id, func.count().label("n"))
        .where(counted(window.start_at, window.end_at))
        .group_by(ORD.customer_id)
        .subquery()
    )
    base: FromClause
    if by == "segment":
        members = latest_members(on_or_before=window.end).subquery()
        base = per.join(members, members.c.customer_id == per.c.customer_id)
        key = members.c.segment
    elif by in ("locale", "country"):
        base = per.join(table(Customer), C.id == per.c.customer_id)
        key = C[by]
    else:
        base, key = per, literal("all")
    grouped = select(key.label("key"), per.c.n).select_from(base).subquery()
    query = (
        select(
            grouped.c.key,
            func.count(),
            func.sum(case((grouped.c.n >= 2, 1), else_=0)),
            func.sum(grouped.c.n),
        )
        .group_by(grouped.c.key)
        .order_by(grouped.c.key)
    )
    with reading(engine) as conn:
        rows = conn.execute(query).all()
    return [
        {
            by if by != "none" else "group": key if key is not None else "unknown",
            "customers": int(n),
            "repeat_customers": int(r or 0),
            "repeat_rate": share(int(r or 0), int(n)),
            "orders_per_customer": int(o) / n,  # PostgreSQL sums counts as numeric
            "note": small_base(int(n)),
        }
        for key, n, r, o in rows
    ]


@dataclass(frozen=True)
class Runs:
    """Customers' activity runs: (start month, end month exclusive, is first run) -> count.

    A run is a stretch of months in which the customer counts as active: from the month
    after an order until ``ACTIVE_MONTHS`` after the last order of the stretch.
    """

    counts: dict[tuple[int, int, bool], int]
    first_month: int
    last_month: int

    def active(self, k: int) -> int:
        """Customers active at the start of month ``k``."""
        return sum(n for (s, e, _), n in self.counts.items() if s <= k < e)

    def active_both(self, k1: int, k2: int) -> int:
        """Active at the start of ``k1`` and still at the start of ``k2`` (k1 <= k2)."""
        return sum(n for (s, e, _), n in self.counts.items() if s <= k1 and k2 < e)

    def new(self, k1: int, k2: int) -> int:
        """Customers whose first order is in months ``k1`` to ``k2``."""
        return sum(n for (s, _, first), n in self.counts.items() if first and k1 <= s - 1 <= k2)


def activity_runs(
    engine: Engine, *, window: Window, active_months: int = ACTIVE_MONTHS
) -> Runs | None:
    with reading(engine) as conn:
        o = order_months(conn, window)
        # A run starts at a customer's first order in a month more than ``active_months``
        # after their previous one, and ends at their last order in a month followed by
        # none for more than ``active_months``; the running maximum of start months gives
        # each end its start.
        starts = or_(o.c.prev.is_(None), o.c.m - o.c.prev > active_months)
        ends = or_(o.c.next.is_(None), o.c.next - o.c.m > active_months)
        flagged = select(
            o.c.m,
            o.c.c,
            func.max(case((starts, o.c.m)))
            .over(partition_by=o.c.customer_id, order_by=o.c.seq)
            .label("lo"),
            ends.label("is_end"),
        ).subquery()
        f = flagged.c
        runs = (
            select(f.lo, f.m.label("hi"), (f.lo == f.c).label("is_first"))
            .where(f.is_end)
            .subquery()
        )
        rows = conn.execute(
            select(runs.c.lo, runs.c.hi, runs.c.is_first, func.count()).group_by(
                runs.c.lo, runs.c.hi, runs.c.is_first
            )
        ).all()
    if not rows:
        return None
    counts = {
        (int(lo) + 1, int(hi) + active_months + 1, bool(first)): int(n) for lo, hi, first, n in rows
    }
    first_month = min(int(lo) for lo, *_ in rows)
    last_month = (
        window.last_month if window.last_month is not None else max(int(hi) for _, hi, *_ in rows)
    )
    return Runs(counts, first_month, last_month)


def retention_rate(
    engine: Engine, *, window: Window, active_months: int = ACTIVE_MONTHS
) -> tuple[list[dict], dict | None]:
    """Monthly rows, and one row for the whole window: its first month to its last month
    that the data covers to the end (a month still running would count as churn)."""
    runs = activity_runs(engine, window=window, active_months=active_months)
    if runs is None:
        return [], None
    k1 = max(runs.first_month + 1, window.first_month or runs.first_month + 1)
    k2 = runs.last_month
    unfinished = partial_month(engine, window)
    monthly = [_row(runs, k, k, month_label(k), unfinished) for k in range(k1, k2 + 1)]
    young = runs.first_month + active_months  # before it, no one can have lapsed yet
    for row, k in zip(monthly, range(k1, k2 + 1), strict=True):
        if k < young:
            row["note"] = join_notes(
                row["note"],
                f"within {active_months} months of the first order in the data "
                f"({month_label(runs.first_month)}): no one can have lapsed yet",
            )
    if unfinished is not None and unfinished <= k2:
        k2 = unfinished - 1
    overall = (
        _row(runs, k1, k2, f"{month_label(k1)} to {month_label(k2)}", unfinished)
        if k1 <= k2
        else None
    )
    return [r for r in monthly if r["start_customers"]], overall


def _row(runs: Runs, k1: int, k2: int, label: str, unfinished: int | None) -> dict:
    s, e, n = runs.active(k1), runs.active(k2 + 1), runs.new(k1, k2)
    kept = runs.active_both(k1, k2 + 1)
    observed = unfinished is None or k2 < unfinished
    return {
        "period": label,
        "start_customers": s,
        "retained": kept,
        "churned": s - kept,
        "new_customers": n,
        "end_customers": e,
        "retention_rate": share(kept, s, observed=observed),
        "note": join_notes(
            small_base(s, "customers active at the start"),
            "" if observed else f"{month_label(k2)} is not over in the data: rate not shown",
        ),
    }


def repeat_report(engine: Engine, *, window: Window, by: str = "none") -> Report:
    rows = repeat_rate(engine, window=window, by=by)
    monthly, overall = retention_rate(engine, window=window)
    group = by if by != "none" else "group"
    crr_cols = [
        "period",
        "start_customers",
        "retained",
        "churned",
        "new_customers",
        "end_customers",
        "retention_rate",
        "note",
    ]
    return Report(
        kind="repeat",
        title="Repeat purchase and customer retention rate",
        tables=[
            Table(
                "repeat-purchase",
                "Repeat-purchase rate" + (f" by {by}" if by != "none" else ""),
                [
                    group,
                    "customers",
                    "repeat_customers",
                    "repeat_rate",
                    "orders_per_customer",
                    "note",
                ],
                rows,
                ("repeat_rate",),
            ),
            Table(
                "customer-retention-rate",
                "Customer retention rate by month",
                crr_cols,
                monthly,
                ("retention_rate",),
            ),
            Table(
                "customer-retention-period",
                "Customer retention rate over the whole window",
                crr_cols,
                [overall] if overall else [],
                ("retention_rate",),
            ),
        ],
        definitions=[REPEAT_TEXT, CRR_TEXT, DEFINITION],
        window=window.describe(),
    )
