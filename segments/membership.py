"""Who is in a segment: the latest snapshot at or before a date."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, Select, func, select

from models.segments import SegmentMember, SegmentSnapshot


def latest_as_of(segment: str, *, as_of: date | None = None) -> Select:
    query = select(func.max(SegmentSnapshot.as_of)).where(SegmentSnapshot.segment == segment)
    return query.where(SegmentSnapshot.as_of <= as_of) if as_of else query


def members_select(segment: str, *, as_of: date | None = None) -> Select:
    """``customer_id`` of the members of ``segment`` in its latest snapshot at or before ``as_of``."""
    snapshot = latest_as_of(segment, as_of=as_of).scalar_subquery()
    return select(SegmentMember.customer_id).where(
        SegmentMember.segment == segment, SegmentMember.as_of == snapshot
    )


def segment_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(SegmentSnapshot.segment).distinct().order_by(SegmentSnapshot.segment)
            ).scalars()
        )
