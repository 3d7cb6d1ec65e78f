"""Fitted models kept with their parameters, so analysts can see what a refresh used."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


class FittedModel(SQLModel, table=True):
    """BG/NBD, Gamma-Gamma or KMeans parameters fitted as of a date (``params`` as JSON)."""

    __tablename__ = "fitted_model"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    version: int = 1
    as_of: date
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
