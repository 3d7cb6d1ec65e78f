"""What the members of a segment look like, so a marketer can tell whether it is the right one.

Everything is aggregated by the database over the latest snapshot of the segment, joined
to the customer features of the latest refresh; only counts and averages come back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Float, case, cast, func, select

from models.segments import CustomerFeatures, SegmentSnapshot
from segments.membership import members_select

F = CustomerFeatures.__table__.c
TOP = 5
AVERAGES = (
    "orders",
    "revenue",
    "avg_order_value",
    "days_since_last_order",
    "tenure_days",
    "categories",
    "last_csat",
    "messages_received",
)


def last_snapshot(conn: Connection, segment: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(
            SegmentSnapshot.as_of,
            SegmentSnapshot.size,
            SegmentSnapshot.entered,
            SegmentSnapshot.left,
        )
        .where(SegmentSnapshot.segment == segment)
        .order_by(SegmentSnapshot.as_of.desc())
        .limit(1)
    ).first()
    return row._asdict() if row else None


def profile(conn: Connection, segment: str) -> dict[str, Any]:
    """Averages of key features, and the most common locales, countries and categories."""
    members = members_select(segment)
    where = F.customer_id.in_(members)
    averages = conn.execute(
        select(*(func.avg(cast(F[name], Float)).label(name) for name in AVERAGES)).where(where)
    ).one()
    shares = conn.execute(
        select(
            func.count().label("n"),
            func.sum(case((F.orders > 0, 1), else_=0)).label("buyers"),
            func.sum(case((F.open_tickets > 0, 1), else_=0)).label("open_tickets"),
        ).where(where)
    ).one()

    def top(column, condition) -> dict[str, int]:  # type: ignore[no-untyped-def]
        rows = conn.execute(
            select(column, func.count().label("n"))
            .where(condition, column.is_not(None))
            .group_by(column)
            .order_by(func.count().desc(), column)
            .limit(TOP)
        ).all()
        return {str(value): n for value, n in rows}

    n = shares.n or 0
    return {
        "members_with_features": n,
        "averages": {
            name: None if value is None else round(float(value), 2)
            for name, value in averages._asdict().items()
        },
        "share_buyers": round((shares.buyers or 0) / n, 3) if n else None,
        "share_with_open_ticket": round((shares.open_tickets or 0) / n, 3) if n else None,
        "top_locales": top(F.locale, where),
        "top_countries": top(F.country, where),
        "top_categories": top(F.top_category, where),
        "rfm_segments": top(F.rfm_segment, where),
    }
