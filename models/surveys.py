"""Survey answers: one current answer per message, and every change kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


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


class SurveyAnswerChange(SQLModel, table=True):
    """History: each click or comment, so a changed score never erases the first one."""

    __tablename__ = "survey_answer_change"

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="survey_answer.id", index=True)
    score: int | None = None
    choice: str | None = Field(default=None, max_length=64)
    comment: str | None = Field(default=None, sa_column=Column(Text))
    changed_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
