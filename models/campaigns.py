"""The message ledger: one row per (campaign, period, customer, channel), written before any send."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


class MessageStatus(StrEnum):
    planned = "planned"
    held_out = "held_out"
    suppressed = "suppressed"
    sending = "sending"  # claimed by a worker; uncertain until reconciled
    sent = "sent"
    failed = "failed"


# Ledger kinds of the messages that ask for an answer (campaigns send them, web records the
# answers, analytics leaves them out of uplift), each with the kind of answer it takes
# (``survey_answer.kind``: a 1-5 score, a 0-10 score, or a choice and free text).
ANSWER_KINDS: dict[str, str] = {
    "csat_survey": "csat",
    "nps_survey": "nps",
    "feedback_survey": "feedback",
}
SURVEY_KINDS = tuple(ANSWER_KINDS)


class Message(SQLModel, table=True):
    """A ledger row. Its unique key is what makes sending exactly-once."""

    __table_args__ = (
        UniqueConstraint("campaign", "period", "customer_id", "channel", name="uq_message_key"),
        # Claims take the earliest due rows first: (send_at, id) order straight off the index.
        Index("ix_message_status_send_at", "campaign", "period", "status", "send_at", "id"),
        Index("ix_message_customer_channel_sent", "customer_id", "channel", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign: str = Field(max_length=128)
    period: str = Field(max_length=32, description="e.g. 2026-W48, 2026-11, or a trigger key")
    customer_id: int = Field(foreign_key="customer.id")
    channel: str = Field(sa_type=String(8))
    kind: str = Field(default="newsletter", max_length=32)
    # No index of its own: every query narrows by campaign first (ix_message_status_send_at),
    # and each status change would pay for one more index.
    status: str = Field(sa_type=String(16))
    reason: str | None = Field(default=None, max_length=64)
    variant: str | None = Field(default=None, max_length=32)
    template: str | None = Field(default=None, max_length=128)
    locale: str | None = Field(default=None, max_length=16)
    send_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    claimed_by: str | None = Field(default=None, max_length=128)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    provider_message_id: str | None = Field(default=None, max_length=256, index=True)
    error: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    priority: int = Field(default=0, description="The campaign's priority when caps compete")
    device_id: int | None = Field(default=None, description="The push target, set at send time")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


class CampaignRun(SQLModel, table=True):
    """A summary of one run of one campaign period, for operators and reports."""

    __tablename__ = "campaign_run"

    id: int | None = Field(default=None, primary_key=True)
    campaign: str = Field(max_length=128, index=True)
    period: str = Field(max_length=32)
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    planned: int = 0
    held_out: int = 0
    suppressed: int = 0
    sent: int = 0
    failed: int = 0
    reconciled: int = 0
