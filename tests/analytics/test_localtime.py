"""Calendar months and days in a zone: the database agrees with Python's zoneinfo."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from analytics.localtime import LocalTime, offsets, store_zone
from models import Order
from tests.conftest import truncate_all

ORD = Order.__table__.c


def test_offsets_find_every_transition() -> None:
    got = offsets(
        "Europe/London", datetime(2011, 1, 1, tzinfo=UTC), datetime(2011, 12, 31, tzinfo=UTC)
    )
    assert got == [
        (None, 0),
        (datetime(2011, 3, 27, 1, tzinfo=UTC), 3600),
        (datetime(2011, 10, 30, 1, tzinfo=UTC), 0),
    ]
    assert offsets("UTC", datetime(2011, 1, 1, tzinfo=UTC), datetime(2012, 1, 1, tzinfo=UTC)) == [
        (None, 0)
    ]


def test_unknown_zone_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        store_zone("Mars/Olympus")


INSTANTS = st.lists(
    st.datetimes(
        min_value=datetime(2009, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    min_size=1,
    max_size=20,
)
ZONES = st.sampled_from(
    ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(instants=INSTANTS, zone=ZONES)
def test_month_and_day_match_zoneinfo(engine: Engine, instants: list[datetime], zone: str) -> None:
    truncate_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Order),
            [{"external_id": f"o{i}", "ordered_at": at} for i, at in enumerate(instants)],
        )
    with engine.connect() as conn:
        lt = LocalTime.over(conn, zone, ORD.ordered_at)
        rows = conn.execute(
            select(ORD.external_id, lt.month(ORD.ordered_at), lt.day(ORD.ordered_at))
        ).all()
    for external_id, month, day in rows:
        local = instants[int(external_id[1:])].astimezone(ZoneInfo(zone))
        assert month == (local.year - 1970) * 12 + local.month - 1
        assert day == (local.date() - datetime(1970, 1, 1).date()).days
