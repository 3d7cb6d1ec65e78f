"""The migrations build exactly the tables the code declares, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select
from sqlmodel import Session, SQLModel

from models import Customer, Order


def test_migrations_match_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_timestamps_come_back_aware_in_utc(engine: Engine) -> None:
    istanbul = timezone(timedelta(hours=3))
    with Session(engine) as s:
        c = Customer(external_id="c1", time_zone="Europe/Istanbul")
        s.add(c)
        s.flush()
        s.add(
            Order(
                external_id="o1",
                customer_id=c.id,
                ordered_at=datetime(2026, 1, 2, 10, tzinfo=istanbul),
            )
        )
        s.commit()
    with Session(engine) as s:
        got = s.exec(select(Order.ordered_at)).one()[0]
    assert got == datetime(2026, 1, 2, 7, tzinfo=UTC)
    assert got.tzinfo is not None


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(Customer(external_id="c1", created_at=datetime(2026, 1, 1)))  # naive
        with pytest.raises(Exception, match="naive datetime"):
            s.commit()
