"""The message ledger: one row per (campaign, period, customer, channel), written before any send."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


class MessageStatus(StrEnum):
    """The state of a ledger row (``Message.status``): the only values the column holds."""

    planned = "planned"
    held_out = "held_out"
    suppressed = "suppressed"
    sending = "sending"  # claimed by a worker; uncertain until reconciled
    sent = "sent"
    failed = "failed"


class Reason(StrEnum):
    """Why a customer is not sent to (``Message.reason``), or why a send was skipped or failed."""

    # Consent and contact (campaigns.eligibility); the refusing consent statuses are their own reason.
    no_consent = "no_consent"
    unsubscribed = "unsubscribed"
    bounced = "bounced"
    complained = "complained"
    no_address = "no_address"
    no_device = "no_device"
    no_customer = "no_customer"  # a survey trigger whose customer is unknown
    open_ticket = "open_ticket"
    campaign_ended = "campaign_ended"
    topic_opt_out = "topic_opt_out"  # the customer opted out of the campaign's topic
    # Caps (campaigns.cap_ledger, campaigns.send_rules).
    frequency_cap = "frequency_cap"
    survey_cap = "survey_cap"
    lower_priority = "lower_priority"
    already_sent_this_period = "already_sent_this_period"  # a plan's label, never stored
    # Skipped at the moment of sending (campaigns.send_rules).
    too_late = "too_late"
    quiet_hours = "quiet_hours"
    min_gap = "min_gap"
    # The template has no texts in the customer's language and skips such customers.
    missing_locale = "missing_locale"
    # A failed row (status failed), not a suppression.
    send_failed = "send_failed"


class CampaignKind(StrEnum):
    """What a campaign is for (``Message.kind``); ``campaigns.campaign`` groups the kinds."""

    newsletter = "newsletter"
    winback = "winback"
    replenishment = "replenishment"
    cross_sell = "cross_sell"
    review_request = "review_request"
    promotion = "promotion"
    csat_survey = "csat_survey"
    nps_survey = "nps_survey"
    feedback_survey = "feedback_survey"
    service_recovery = "service_recovery"


# Ledger kinds of the messages that ask for an answer (campaigns send them, web records the
# answers, analytics leaves them out of uplift), each with the kind of answer it takes
# (``survey_answer.kind``: a 1-5 score, a 0-10 score, or a choice and free text).
ANSWER_KINDS: dict[str, str] = {
    CampaignKind.csat_survey: "csat",
    CampaignKind.nps_survey: "nps",
    CampaignKind.feedback_survey: "feedback",
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
    kind: str = Field(default=CampaignKind.newsletter, max_length=32)
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
