"""Cadences: period keys, periods from keys, next runs across DST, and agreement with Prefect."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from campaigns.cadence import (
    PeriodError,
    next_runs,
    period_at,
    period_from_key,
    schedule,
)
from tests.campaigns.conftest import campaign

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def weekly(**extra: str) -> object:
    lines = "".join(f"{k}: {v}\n" for k, v in extra.items())
    base = (
        "name: w\nkind: newsletter\nsegments: [a]\n"
        "cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}\n"
    )
    return campaign(base + lines)


BIWEEKLY = """\
name: b
kind: winback
segments: [a]
cadence: {every: biweekly, day: thursday, hour: 18, time_zone: America/New_York}
start: 2026-01-01
"""
MONTHLY = """\
name: m
kind: replenishment
segments: [a]
cadence: {every: monthly, day: 1, hour: 9, time_zone: Europe/Istanbul}
"""


def test_weekly_periods_are_iso_weeks() -> None:
    c = weekly()
    # Monday 2026-11-23 10:00 Berlin is 09:00 UTC.
    p = period_at(c, datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert p.key == "2026-W48"
    assert p.starts_at == datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert p.ends_at == datetime(2026, 11, 30, 9, tzinfo=UTC)
    # A moment before Monday's run still belongs to the previous week's period.
    assert period_at(c, datetime(2026, 11, 23, 8, 59, tzinfo=UTC)).key == "2026-W47"
    assert period_from_key(c, "2026-W48") == p
    # ISO week 53 and the year boundary.
    assert period_from_key(c, "2026-W53").starts_at.date() == date(2026, 12, 28)
    assert period_from_key(c, "2027-W01").starts_at.date() == date(2027, 1, 4)


def test_weekly_keeps_local_hour_across_dst() -> None:
    c = weekly()
    spring = period_from_key(c, "2026-W14")  # Monday 2026-03-30, after the change
    winter = period_from_key(c, "2026-W13")  # Monday 2026-03-23, before it
    assert spring.local_start.hour == winter.local_start.hour == 10
    assert spring.starts_at.hour == 8 and winter.starts_at.hour == 9
    assert spring.starts_at - winter.starts_at == timedelta(days=7, hours=-1)


def test_biweekly_periods_skip_the_off_weeks() -> None:
    c = campaign(BIWEEKLY)
    first = period_from_key(c, "2026-W01")  # Thursday 2026-01-01, the start
    assert first.local_start == datetime(2026, 1, 1, 18, tzinfo=NEW_YORK)
    assert first.ends_at - first.starts_at == timedelta(days=14)
    with pytest.raises(PeriodError, match="does not run in period '2026-W02'"):
        period_from_key(c, "2026-W02")
    assert period_at(c, datetime(2026, 1, 10, tzinfo=UTC)).key == "2026-W01"
    assert period_at(c, datetime(2026, 1, 16, tzinfo=UTC)).key == "2026-W03"
    with pytest.raises(PeriodError, match="no period yet"):
        period_at(c, datetime(2025, 12, 20, tzinfo=UTC))


def test_monthly_periods_are_months() -> None:
    c = campaign(MONTHLY)
    p = period_at(c, datetime(2026, 11, 15, tzinfo=UTC))
    assert p.key == "2026-11"
    assert p.starts_at == datetime(2026, 11, 1, 6, tzinfo=UTC)  # 09:00 in Istanbul (UTC+3)
    assert p.ends_at == datetime(2026, 12, 1, 6, tzinfo=UTC)
    with pytest.raises(PeriodError, match="is a week"):
        period_from_key(c, "2026-W48")
    with pytest.raises(PeriodError, match="not a month"):
        period_from_key(c, "2026-13")


def test_cron_and_rrule_periods_are_days() -> None:
    c = campaign(
        """\
        name: c
        kind: promotion
        segments: [a]
        cadence: {cron: "0 11 * * 6", time_zone: Europe/London}
        """
    )
    p = period_at(c, datetime(2026, 11, 25, tzinfo=UTC))
    assert p.key == "2026-11-21" and p.local_start.hour == 11
    with pytest.raises(PeriodError, match="does not run"):
        period_from_key(c, "2026-11-22")
    r = campaign(
        """\
        name: r
        kind: promotion
        segments: [a]
        cadence: {rrule: "FREQ=MONTHLY;BYDAY=1SA;BYHOUR=9;BYMINUTE=30", time_zone: Asia/Tokyo}
        """
    )
    assert period_at(r, datetime(2026, 11, 25, tzinfo=UTC)).key == "2026-11-07"
    assert period_from_key(r, "2026-12-05").local_start.strftime("%H:%M") == "09:30"


def test_start_and_end_dates_bound_the_runs() -> None:
    c = weekly(start="2026-11-01", end="2026-11-30")
    runs = next_runs(c, after=datetime(2026, 10, 1, tzinfo=UTC), count=10)
    assert [r.date() for r in runs] == [date(2026, 11, d) for d in (2, 9, 16, 23, 30)]
    with pytest.raises(PeriodError, match="not active"):
        period_from_key(c, "2026-W50")


async def _prefect_dates(kind: str, text: str, zone: str, start: datetime, n: int) -> list:
    from prefect.server.schemas.schedules import CronSchedule, RRuleSchedule

    plan = (
        CronSchedule(cron=text, timezone=zone)
        if kind == "cron"
        else RRuleSchedule(rrule=text, timezone=zone)
    )
    return await plan.get_dates(n=n, start=start)


@pytest.mark.parametrize("text", ["weekly", BIWEEKLY, MONTHLY])
def test_runs_agree_with_prefects_own_schedule(text: str) -> None:
    c = weekly() if text == "weekly" else campaign(text)
    assert c.cadence is not None
    kind, expression = schedule(c.cadence)
    start = datetime(2026, 2, 1, tzinfo=UTC)  # spans the spring and autumn clock changes
    ours = next_runs(c, after=start, count=30)
    theirs = asyncio.run(_prefect_dates(kind, expression, c.cadence.time_zone, start, 30))
    assert [t.timestamp() for t in ours] == [t.timestamp() for t in theirs]
    assert len({(t.hour, t.minute) for t in ours}) == 1  # the same local time all year
