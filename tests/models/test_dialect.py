"""The dialect helpers give the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from models.campaigns import Message
from models.dialect import (
    date_day,
    epoch_day,
    epoch_month,
    insert_new,
    load_rows,
    shift_days,
    skip_locked,
    transaction_lock,
    utc_month_label,
)
from models.segments import SegmentMember
from models.store import Customer, Order

ORD = Order.__table__.c
AT = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)


def test_shift_days_keeps_fractions_so_the_window_end_compares_equal(engine: Engine) -> None:
    at = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(Order), [{"external_id": "a", "ordered_at": at}])
    with engine.connect() as conn:
        same = select(ORD.external_id).where(
            shift_days(ORD.ordered_at, 7) == at + timedelta(days=7)
        )
        assert conn.execute(same).scalar() == "a"


def test_day_and_month_numbers_are_those_of_utc(engine: Engine) -> None:
    at = datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(Order), [{"external_id": "a", "ordered_at": at}])
    with engine.connect() as conn:
        row = conn.execute(
            select(
                epoch_day(ORD.ordered_at),
                epoch_month(ORD.ordered_at),
                utc_month_label(ORD.ordered_at),
            )
        ).one()
    assert tuple(row) == ((date(2026, 3, 1) - date(1970, 1, 1)).days, 56 * 12 + 2, "2026-03")


def test_insert_new_says_whether_the_row_is_new(engine: Engine) -> None:
    member = {"segment": "vip", "as_of": date(2026, 1, 1), "customer_id": 1}
    key = ["segment", "as_of", "customer_id"]
    with engine.begin() as conn:
        assert insert_new(conn, SegmentMember.__table__, member, key=key)
        assert not insert_new(conn, SegmentMember.__table__, member, key=key)
        load_rows(
            conn,
            SegmentMember.__table__,
            ("segment", "as_of", "customer_id"),
            [("vip", date(2026, 1, 1), n) for n in range(2, 12)],
        )
        members = conn.execute(select(SegmentMember.__table__.c.customer_id)).all()
        assert len(members) == 11
        assert (
            conn.execute(select(date_day(SegmentMember.__table__.c.as_of)).limit(1)).scalar()
            == (date(2026, 1, 1) - date(1970, 1, 1)).days
        )


def test_a_transaction_lock_is_taken_and_released_with_the_transaction(engine: Engine) -> None:
    for n in range(2):  # taken again: the first transaction released it
        with engine.begin() as conn:
            transaction_lock(conn, "homecoming-test", touch=Message.__table__)
            conn.execute(insert(Customer), [{"external_id": f"c{n}", "created_at": AT}])
    with engine.connect() as conn:
        assert len(conn.execute(select(Customer.__table__.c.id)).all()) == 2


def test_claims_skip_locked_rows_on_postgresql_only() -> None:
    pick = select(ORD.id).limit(5)

    class Bind:
        def __init__(self, dialect: object) -> None:
            self.dialect = dialect

    pg = str(skip_locked(pick, Bind(postgresql.dialect())).compile(dialect=postgresql.dialect()))
    lite = str(skip_locked(pick, Bind(sqlite.dialect())).compile(dialect=sqlite.dialect()))
    assert pg.endswith("FOR UPDATE SKIP LOCKED") and "FOR UPDATE" not in lite
