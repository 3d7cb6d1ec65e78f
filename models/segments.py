"""Segment membership over time: who was in which segment on which day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


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
    """Membership of a customer in a segment as of a date (the snapshot analysts look back on)."""

    __tablename__ = "segment_member"
    __table_args__ = (Index("ix_segment_member_customer", "customer_id", "as_of"),)

    segment: str = Field(max_length=128, primary_key=True)
    as_of: date = Field(primary_key=True)
    customer_id: int = Field(primary_key=True, foreign_key="customer.id")
