"""Who is in a segment: the members of its latest snapshot at or before a date.

"Latest snapshot" is defined once, in :func:`models.segments.latest_snapshots`; these are
the segment-sized views of it that campaigns, previews and rules ask for.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, Select, select

from models.base import table
from models.segments import SegmentMember, SegmentSnapshot, latest_members, latest_snapshots


def latest_as_of(segment: str, *, as_of: date | None = None) -> Select:
    """The date of ``segment``'s latest snapshot at or before ``as_of`` (no row: none)."""
    latest = latest_snapshots(on_or_before=as_of, segment=segment).subquery()
    return select(latest.c.as_of)


def members_select(segment: str, *, as_of: date | None = None) -> Select:
    """``customer_id`` of the members of ``segment`` in its latest snapshot at or before ``as_of``."""
    members = latest_members(on_or_before=as_of, segment=segment)
    return members.with_only_columns(table(SegmentMember).c.customer_id)


def segment_names(engine: Engine) -> list[str]:
    segment = table(SegmentSnapshot).c.segment
    with engine.connect() as conn:
        return list(conn.execute(select(segment).distinct().order_by(segment)).scalars())
