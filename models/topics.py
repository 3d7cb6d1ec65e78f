"""What a customer does not want to hear about: topic opt-outs, next to channels and frequency.

A campaign names its topic (``campaigns.campaign``); a customer who opted out of it is
suppressed with ``topic_opt_out`` at planning and at the last moment before a send. One row
per (customer, topic) opted out; opting back in deletes the row, so no row means "yes".
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


class Topic(StrEnum):
    """What marketing messages are about; the preference page offers each one."""

    news = "news"
    offers = "offers"
    recommendations = "recommendations"
    reviews = "reviews"


TOPICS = tuple(Topic)


class TopicOptOut(SQLModel, table=True):
    """A customer's choice not to get messages of one topic, on any channel."""

    __tablename__ = "topic_opt_out"

    customer_id: int = Field(foreign_key="customer.id", primary_key=True)
    topic: str = Field(max_length=32, primary_key=True)
    source: str = Field(default="web", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
