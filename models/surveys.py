"""Survey answers and their history, trigger checkpoints, provider events and how far their
queue was read, contact preferences."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ColumnElement, Index, Text, case, func
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, table, utcnow


class SurveyAnswer(SQLModel, table=True):
    __tablename__ = "survey_answer"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    survey: str = Field(max_length=128, index=True, description="The campaign that asked")
    kind: str = Field(max_length=16, description="csat (1-5), nps (0-10) or feedback")
    score: int | None = None
    choice: str | None = Field(default=None, max_length=64)
    comment: str | None = Field(default=None, sa_column=Column(Text))
    answered_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


# The answer scales (docs/analytics.md, "CSAT and NPS"): the scores a survey link may carry,
# and which answers are satisfied, promoters and detractors. The web service accepts scores
# by them; the reports, the survey results and the ``v_survey_scores`` view count by them.
SCORE_RANGES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10)}
SATISFIED = (4, 5)  # CSAT
PROMOTERS = (9, 10)  # NPS
DETRACTORS = (0, 6)  # NPS
SCORE_COUNTS = ("csat_answers", "satisfied", "nps_answers", "promoters", "detractors")


def score_counts(
    answers: ReadOnlyColumnCollection[str, ColumnElement[Any]] | None = None,
) -> dict[str, ColumnElement[int]]:
    """Sums over survey answers by the scales above, named as in ``SCORE_COUNTS``.

    ``answers`` is the columns of the answers counted, with ``kind`` and ``score`` (default
    ``survey_answer``'s own). An answer without a score or outside its scale, and free-text
    feedback, count in none of them.
    """
    a = table(SurveyAnswer).c if answers is None else answers

    def count(kind: str, scale: tuple[int, int]) -> ColumnElement[int]:
        return func.sum(case(((a.kind == kind) & a.score.between(*scale), 1), else_=0))

    return {
        "csat_answers": count("csat", SCORE_RANGES["csat"]),
        "satisfied": count("csat", SATISFIED),
        "nps_answers": count("nps", SCORE_RANGES["nps"]),
        "promoters": count("nps", PROMOTERS),
        "detractors": count("nps", DETRACTORS),
    }


class SurveyAnswerChange(SQLModel, table=True):
    """History: each click or comment, so a changed score never erases the first one."""

    __tablename__ = "survey_answer_change"

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="survey_answer.id", index=True)
    score: int | None = None
    choice: str | None = Field(default=None, max_length=64)
    comment: str | None = Field(default=None, sa_column=Column(Text))
    changed_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


class SurveyCheckpoint(SQLModel, table=True):
    """How far the triggers of one survey campaign have been planned (their due time).

    Advanced in the same transaction that writes the ledger rows of the window, so a crash
    loses nothing and a re-run repeats nothing; the row named ``*`` serialises planning.
    """

    __tablename__ = "survey_checkpoint"

    campaign: str = Field(primary_key=True, max_length=128)
    checked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    runs: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


class ProviderEvent(SQLModel, table=True):
    """Each provider event once (bounce, complaint, delivery, open, click, send...).

    ``event_key`` is the event's identity, so a duplicate delivery from the queue or a
    replay of the same SNS notification is recognised and changes nothing.
    """

    __tablename__ = "provider_event"
    __table_args__ = (
        Index("ix_provider_event_customer_type_at", "customer_id", "event_type", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=96, unique=True)
    provider: str = Field(default="ses", max_length=16)
    event_type: str = Field(max_length=32, description="send, delivery, bounce, complaint, ...")
    detail: str | None = Field(default=None, max_length=64, description="e.g. Permanent/General")
    message_id: int | None = Field(default=None, index=True, description="Ledger row, if found")
    customer_id: int | None = None
    provider_message_id: str | None = Field(default=None, max_length=256, index=True)
    outcome: str = Field(max_length=32, description="What it changed, e.g. suppressed, recorded")
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


class ProviderQueueDrain(SQLModel, table=True):
    """When a provider's event queue was last read to its end.

    Every event the provider published before ``drained_at`` (less its publishing delay) is
    recorded, so for a claim that died before then a missing Send event is evidence too.
    """

    __tablename__ = "provider_queue_drain"

    provider: str = Field(primary_key=True, max_length=16)
    drained_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ContactFrequency(StrEnum):
    """How often a customer wants marketing, chosen on the preference page."""

    normal = "normal"  # the store's own caps
    weekly = "weekly"  # at most one marketing message in 7 days
    monthly = "monthly"  # at most one marketing message in 30 days


# (messages, days) a customer's frequency allows, on top of the store's caps.
FREQUENCY_LIMITS: dict[str, tuple[int, int]] = {
    ContactFrequency.weekly: (1, 7),
    ContactFrequency.monthly: (1, 30),
}


class ContactPreference(SQLModel, table=True):
    """A customer's own choice of frequency; channels live on ``Consent``."""

    __tablename__ = "contact_preference"

    customer_id: int = Field(foreign_key="customer.id", primary_key=True)
    frequency: str = Field(default=ContactFrequency.normal, max_length=16)
    source: str = Field(default="web", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
