"""Bookkeeping for ingestion: one row per run, and every rejected input row with its reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


class IngestRun(SQLModel, table=True):
    __tablename__ = "ingest_run"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    format: str = Field(max_length=32)
    source: str = Field(max_length=255, description="File name, never its contents")
    sha256: str = Field(max_length=64, index=True)
    status: str = Field(default="running", max_length=16)
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    guest_lines: int = 0
    cancellations: int = 0
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Quarantine(SQLModel, table=True):
    """A row that could not be loaded, kept whole with where it came from and why.

    Unique per file content and line, so ingesting the same file again adds nothing.
    """

    __table_args__ = (UniqueConstraint("file_sha256", "kind", "line_no"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="ingest_run.id", index=True)
    kind: str = Field(max_length=32)
    source: str = Field(max_length=255)
    file_sha256: str = Field(max_length=64)
    line_no: int
    field: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=500)
    raw: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
