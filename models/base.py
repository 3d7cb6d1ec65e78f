"""Column types and helpers shared by every table."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel


def table(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel class, typed (SQLModel sets ``__table__`` at runtime)."""
    found = model.__table__  # type: ignore[attr-defined]
    assert isinstance(found, Table), f"{model.__name__} is not a table model"
    return found


class UTCDateTime(TypeDecorator[datetime]):
    """A time-zone aware timestamp stored in UTC.

    PostgreSQL keeps it as ``timestamptz``; SQLite has no time zones, so the value is
    stored as naive UTC text and comes back with ``tzinfo=UTC`` attached. Naive input
    is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: object, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime: give timestamps a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: str | datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)
