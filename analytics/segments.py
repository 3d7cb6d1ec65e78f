"""Segment retention: of the members of a segment on a snapshot date, the share who order
within 30, 60 and 90 days after it, and their revenue per member over 90 days."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, and_, case, func, select

from analytics.orders import DEFINITION, ORD, counted
from analytics.report import Report
from models.segments import SegmentMember
from models.sqltime import date_day, epoch_day
from models.store import Order

TEXT = (
    "Segment retention: members of a segment on a snapshot date; the share who ordered within 30, 60 and 90 days "
    "after that date, and revenue per member in those 90 days. " + DEFINITION
)
M = SegmentMember.__table__.c


def segment_retention(
    engine: Engine,
    *,
    start: date | None = None,
    end: date | None = None,
    segment_prefix: str | None = None,
) -> list[dict]:
    after = epoch_day(ORD.ordered_at) - date_day(M.as_of)
    per_member = (
        select(
            M.segment,
            M.as_of,
            M.customer_id,
            func.min(after).label("first"),
            func.coalesce(func.sum(ORD.total), 0.0).label("revenue"),
        )
        .select_from(SegmentMember.__table__)
        .outerjoin(
            Order.__table__,
            and_(ORD.customer_id == M.customer_id, counted(), after >= 1, after <= 90),
        )
        .group_by(M.segment, M.as_of, M.customer_id)
    )
    if start:
        per_member = per_member.where(M.as_of >= start)
    if end:
        per_member = per_member.where(M.as_of <= end)
    if segment_prefix:
        per_member = per_member.where(M.segment.like(f"{segment_prefix}%"))
    p = per_member.subquery()

    def within(days: int):  # type: ignore[no-untyped-def]
        return func.sum(case((p.c.first <= days, 1), else_=0))

    query = (
        select(
            p.c.segment,
            p.c.as_of,
            func.count(),
            within(30),
            within(60),
            within(90),
            func.sum(p.c.revenue),
        )
        .group_by(p.c.segment, p.c.as_of)
        .order_by(p.c.segment, p.c.as_of)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "segment": s,
            "as_of": str(a),
            "members": n,
            "ordered_30d": round(r30 / n, 4),
            "ordered_60d": round(r60 / n, 4),
            "ordered_90d": round(r90 / n, 4),
            "revenue_per_member_90d": round(rev / n, 2),
        }
        for s, a, n, r30, r60, r90, rev in rows
    ]


def segment_report(
    engine: Engine, *, start: date | None = None, end: date | None = None, by: str | None = None
) -> Report:
    rows = segment_retention(engine, start=start, end=end, segment_prefix=by)
    return Report(
        "segments",
        "Segment retention after each snapshot",
        [
            "segment",
            "as_of",
            "members",
            "ordered_30d",
            "ordered_60d",
            "ordered_90d",
            "revenue_per_member_90d",
        ],
        rows,
        TEXT,
    )
