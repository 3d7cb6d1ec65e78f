"""Segment membership over time: who was in which segment on which day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Select, Text, UniqueConstraint, and_, func, select
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, table, utcnow


class SegmentSnapshot(SQLModel, table=True):
    """One refresh of one segment: its size and how many entered and left since the last one."""

    __tablename__ = "segment_snapshot"
    __table_args__ = (UniqueConstraint("segment", "as_of"),)

    id: int | None = Field(default=None, primary_key=True)
    segment: str = Field(max_length=128, index=True)
    as_of: date
    size: int = 0
    entered: int = 0
    left: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


class SegmentMember(SQLModel, table=True):
    """Membership of a customer in a segment as of a date (the snapshot analysts look back on).

    Derived data written in bulk by every refresh (millions of rows at scale), so it carries
    no foreign key: a per-row check would cost more than the rest of the write.
    """

    __tablename__ = "segment_member"
    __table_args__ = (Index("ix_segment_member_customer", "customer_id", "as_of"),)

    segment: str = Field(max_length=128, primary_key=True)
    as_of: date = Field(primary_key=True)
    customer_id: int = Field(primary_key=True)


def latest_snapshots(
    *, on_or_before: date | None = None, before: date | None = None, segment: str | None = None
) -> Select:
    """``(segment, as_of)`` of each segment's latest snapshot: on or before ``on_or_before``,
    strictly before ``before``, or of all time; only ``segment``'s when given.

    The one definition of "a segment's latest snapshot", for campaign audiences, previews,
    the segment listing, the snapshot diff and the reports by segment. It reads
    ``segment_snapshot``, which a refresh writes for every segment, empty ones too: a
    segment that has just become empty has no members, rather than the members of an
    older snapshot (what ``max(segment_member.as_of)`` would give).
    """
    s = table(SegmentSnapshot).c
    query = select(s.segment, func.max(s.as_of).label("as_of")).group_by(s.segment)
    if segment is not None:
        query = query.where(s.segment == segment)
    if on_or_before is not None:
        query = query.where(s.as_of <= on_or_before)
    if before is not None:
        query = query.where(s.as_of < before)
    return query


def latest_members(*, on_or_before: date | None = None, segment: str | None = None) -> Select:
    """``(segment, customer_id)``: the members of each segment's latest snapshot on or
    before ``on_or_before`` (of all time when None); only ``segment``'s when given."""
    latest = latest_snapshots(on_or_before=on_or_before, segment=segment).subquery("latest")
    m = table(SegmentMember).c
    return select(m.segment, m.customer_id).join(
        latest, and_(latest.c.segment == m.segment, latest.c.as_of == m.as_of)
    )


class CustomerFeatures(SQLModel, table=True):
    """Every customer's features as of the last refresh; rules compile to SQL against it.

    Rebuilt from the store tables by each refresh (no foreign key, for the same reason as
    ``segment_member``).
    """

    __tablename__ = "customer_features"

    customer_id: int = Field(primary_key=True)
    as_of: date
    locale: str = Field(max_length=16)
    country: str | None = Field(default=None, max_length=64)
    time_zone: str = Field(max_length=64)
    first_order_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_order_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    orders: int = 0
    order_days: int = 0
    revenue: float = 0.0
    avg_order_value: float = 0.0
    days_since_last_order: int | None = None
    tenure_days: int | None = None
    categories: int = 0
    top_category: str | None = Field(default=None, max_length=100)
    # Every category bought, each between two \x1f marks: "bought_category" is one LIKE.
    bought_categories: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )
    returns: int = 0
    cancellations: int = 0
    open_tickets: int = 0
    resolved_tickets: int = 0
    last_csat: int | None = None
    last_csat_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_csat_days_ago: int | None = None
    messages_received: int = 0
    messages_opened: int = 0
    messages_clicked: int = 0
    value_percentile: float | None = Field(
        default=None, description="Share of buyers with lower revenue"
    )
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    rfm_segment: str | None = Field(default=None, max_length=32)


class CustomerPrediction(SQLModel, table=True):
    """Each buyer's predictions from the latest model fit, so rules can set their own thresholds.

    Replaced whole by every successful fit (BG/NBD and Gamma-Gamma, in days); when a fit is
    skipped the previous predictions stay, with the date they were made (``as_of``).
    Derived data, without a foreign key, like ``customer_features``.
    """

    __tablename__ = "customer_prediction"

    customer_id: int = Field(primary_key=True)
    as_of: date
    p_alive: float = Field(description="Probability the customer is still buying (0-1)")
    expected_orders_90d: float = Field(description="Expected purchase days in the next 90 days")
    clv: float = Field(description="Predicted value of the next 365 days, in currency units")
