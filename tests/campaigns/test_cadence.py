"""Cadences: period keys, periods from keys, next runs across DST, and agreement with Prefect.

Most cases here are about a schedule in its own zone (``local_time: false``); the local-time
cases (the default) fire where the day begins first (``FIRST_ZONE``, UTC+14)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from campaigns.cadence import (
    PeriodError,
    describe,
    next_runs,
    period_at,
    period_from_key,
    prefect_schedule,
    schedule,
)
from campaigns.definitions import Campaign
from campaigns.localtime import FIRST_ZONE, wall
from campaigns.recurrence import rrule_of
from tests.campaigns.conftest import campaign

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
FIRST = ZoneInfo(FIRST_ZONE)


def weekly(**extra: str) -> object:
    lines = "".join(f"{k}: {v}\n" for k, v in extra.items())
    base = (
        "name: w\nkind: newsletter\nsegments: [a]\n"
        "cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}\n"
        "local_time: false\n"
    )
    return campaign(base + lines)


BIWEEKLY = """\
name: b
kind: winback
segments: [a]
cadence: {every: biweekly, day: thursday, hour: 18, time_zone: America/New_York}
local_time: false
start: 2026-01-01
"""
MONTHLY = """\
name: m
kind: replenishment
segments: [a]
cadence: {every: monthly, day: 1, hour: 9, time_zone: Europe/Istanbul}
local_time: false
"""

# Local time (the default): Monday 10:00 on each recipient's clock; the zone written is not
# where the period starts.
LOCAL_WEEKLY = """\
name: lw
kind: newsletter
segments: [a]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
"""
LOCAL_MONTHLY = """\
name: lm
kind: replenishment
segments: [a]
cadence: {every: monthly, day: 1, hour: 9, time_zone: Europe/Istanbul}
local_time: true
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
        local_time: false
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
        local_time: false
        """
    )
    assert period_at(r, datetime(2026, 11, 25, tzinfo=UTC)).key == "2026-11-07"
    assert period_from_key(r, "2026-12-05").local_start.strftime("%H:%M") == "09:30"


def test_a_cadence_that_runs_several_times_a_day_has_a_key_per_run() -> None:
    """An hourly period is its hour, so a later run of the day is not taken for the first."""
    c = campaign(
        """\
        name: h
        kind: newsletter
        segments: [a]
        cadence: {cron: "0 9-17 * * *", time_zone: Europe/Berlin}
        local_time: false
        """
    )
    p = period_at(c, datetime(2026, 11, 25, 13, 20, tzinfo=UTC))  # 14:20 in Berlin
    assert p.key == "2026-11-25T14:00"
    assert (p.starts_at, p.ends_at) == (
        datetime(2026, 11, 25, 13, tzinfo=UTC),
        datetime(2026, 11, 25, 14, tzinfo=UTC),
    )
    assert period_from_key(c, "2026-11-25T14:00") == p
    # The day's first and last runs share their day too; a time with no run is refused.
    assert period_at(c, datetime(2026, 11, 25, 8, 30, tzinfo=UTC)).key == "2026-11-25T09:00"
    assert period_at(c, datetime(2026, 11, 25, 20, tzinfo=UTC)).key == "2026-11-25T17:00"
    with pytest.raises(PeriodError, match="does not run"):
        period_from_key(c, "2026-11-25T14:30")
    with pytest.raises(PeriodError, match="does not run"):
        period_from_key(c, "2026-11-25")


def test_start_and_end_dates_bound_the_runs() -> None:
    c = weekly(start="2026-11-01", end="2026-11-30")
    runs = next_runs(c, after=datetime(2026, 10, 1, tzinfo=UTC), count=10)
    assert [r.date() for r in runs] == [date(2026, 11, d) for d in (2, 9, 16, 23, 30)]
    with pytest.raises(PeriodError, match="not active"):
        period_from_key(c, "2026-W50")


def test_a_local_time_period_starts_where_the_day_begins_first() -> None:
    c = campaign(LOCAL_WEEKLY)
    assert c.local_time and c.cadence is not None and c.cadence.local
    assert c.cadence.time_zone == FIRST_ZONE
    monday = datetime(2026, 11, 23, 10, tzinfo=FIRST)  # Monday 10:00 in UTC+14
    assert monday.utcoffset() == timedelta(hours=14)
    p = period_from_key(c, "2026-W48")
    assert p.starts_at == monday.astimezone(UTC) == datetime(2026, 11, 22, 20, tzinfo=UTC)
    assert p.ends_at == p.starts_at + timedelta(days=7)  # no clock changes in UTC+14
    assert p.local_start == monday and p.local_start.date() == date(2026, 11, 23)
    assert period_at(c, p.starts_at) == p
    # Sunday 20:00 UTC is already Monday's period; a second before, last week's.
    assert period_at(c, p.starts_at - timedelta(seconds=1)).key == "2026-W47"
    # Every recipient's Monday 10:00, in any zone, lies inside the period.
    for name in available_timezones():
        assert p.starts_at <= wall(date(2026, 11, 23), 10, 0, ZoneInfo(name)) < p.ends_at
    # The zone written does not move a local-time period.
    elsewhere = campaign(LOCAL_WEEKLY.replace("Europe/Berlin", "America/Los_Angeles"))
    assert period_from_key(elsewhere, "2026-W48") == p


def test_local_time_period_keys_are_the_dates_written() -> None:
    monthly = campaign(LOCAL_MONTHLY)
    november = period_from_key(monthly, "2026-11")
    # November 1st 09:00 in UTC+14 is still October 31st in UTC; the key is the date written.
    assert november.starts_at == datetime(2026, 10, 31, 19, tzinfo=UTC)
    assert period_at(monthly, datetime(2026, 10, 31, 19, 30, tzinfo=UTC)).key == "2026-11"
    assert period_at(monthly, datetime(2026, 10, 31, 18, 59, tzinfo=UTC)).key == "2026-10"
    saturdays = cadence_campaign("local-cron-sydney")  # 02:30 on the 3rd and the 4th
    p = period_at(saturdays, datetime(2026, 12, 2, 13, tzinfo=UTC))
    assert p.key == "2026-12-03" and p.starts_at == datetime(2026, 12, 2, 12, 30, tzinfo=UTC)
    bounded = campaign(LOCAL_WEEKLY + "start: 2026-11-01\nend: 2026-11-30\n")
    runs = next_runs(bounded, after=datetime(2026, 10, 1, tzinfo=UTC), count=10)
    assert [r.date() for r in runs] == [date(2026, 11, d) for d in (2, 9, 16, 23, 30)]
    assert runs[0].astimezone(UTC).date() == date(2026, 11, 1)  # still Sunday in UTC


def test_describe_says_whose_clock() -> None:
    local = campaign(LOCAL_WEEKLY).cadence
    assert describe(local) == "weekly on monday at 10:00 in each recipient's zone"
    assert describe(weekly().cadence) == "weekly on monday at 10:00 Europe/Berlin"
    assert describe(campaign(LOCAL_MONTHLY).cadence) == (
        "monthly on day 1 at 09:00 in each recipient's zone"
    )
    assert describe(cadence_campaign("local-cron-sydney").cadence) == (
        "cron '30 2 3,4 * *' in each recipient's zone"
    )
    assert describe(None) == "triggered"


async def _prefect_dates(
    kind: str, text: str, zone: str, start: datetime, n: int, end: datetime | None = None
) -> list:
    from prefect.server.schemas.schedules import CronSchedule, RRuleSchedule

    plan = (
        CronSchedule(cron=text, timezone=zone)
        if kind == "cron"
        else RRuleSchedule(rrule=text, timezone=zone)
    )
    return await plan.get_dates(n=n, start=start, end=end)


@pytest.mark.parametrize("text", ["weekly", BIWEEKLY, MONTHLY, LOCAL_WEEKLY, LOCAL_MONTHLY])
def test_runs_agree_with_prefects_own_schedule(text: str) -> None:
    c = weekly() if text == "weekly" else campaign(text)
    assert c.cadence is not None
    kind, expression = schedule(c.cadence)
    start = datetime(2026, 2, 1, tzinfo=UTC)  # spans the spring and autumn clock changes
    ours = next_runs(c, after=start, count=30)
    theirs = asyncio.run(_prefect_dates(kind, expression, c.cadence.time_zone, start, 30))
    assert [t.timestamp() for t in ours] == [t.timestamp() for t in theirs]
    assert len({(t.hour, t.minute) for t in ours}) == 1  # the same local time all year


def cadence_campaign(name: str) -> Campaign:
    """The campaign of a DST case; cases named ``local-...`` keep local time (the default)."""
    local = "" if name.startswith("local-") else "local_time: false\n"
    text = DST_CASES[name][0]
    return campaign(f"name: x\nkind: newsletter\nsegments: [a]\ncadence: {text}\n{local}")


# Cadences around the 2027 clock changes, each with instants (UTC) checked by hand against
# the zone rules: a gap time is moved forward by the gap for cron and given the summer
# offset for rrule (dateutil), and a repeated time is its first occurrence.
DST_CASES = {
    "weekly-berlin": (
        "{every: weekly, day: sunday, hour: 2, minute: 30, time_zone: Europe/Berlin}",
        ["2027-03-28T01:30Z", "2027-10-31T00:30Z", "2027-11-07T01:30Z"],
    ),
    "biweekly-berlin": (
        "{every: biweekly, day: sunday, hour: 2, minute: 30, time_zone: Europe/Berlin}",
        ["2027-03-14T01:30Z", "2027-03-28T00:30Z", "2027-11-07T01:30Z"],
    ),
    "biweekly-new-york": (
        "{every: biweekly, day: sunday, hour: 2, minute: 30, time_zone: America/New_York}",
        ["2027-03-14T06:30Z", "2027-11-07T07:30Z"],
    ),
    "weekly-new-york-overlap": (
        "{every: weekly, day: sunday, hour: 1, minute: 30, time_zone: America/New_York}",
        ["2027-03-14T06:30Z", "2027-11-07T05:30Z"],
    ),
    "monthly-new-york": (
        "{every: monthly, day: 14, hour: 2, minute: 30, time_zone: America/New_York}",
        ["2027-03-14T07:30Z", "2027-11-14T07:30Z"],
    ),
    "cron-sydney": (
        "{cron: '30 2 3,4 * *', time_zone: Australia/Sydney}",
        ["2027-04-03T15:30Z", "2027-10-02T16:30Z"],
    ),
    "rrule-sydney": (
        "{rrule: 'FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=30', time_zone: Australia/Sydney}",
        ["2027-04-03T15:30Z", "2027-10-02T15:30Z"],
    ),
    "weekly-tokyo": (
        "{every: weekly, day: friday, hour: 9, time_zone: Asia/Tokyo}",
        ["2027-01-01T00:00Z", "2027-07-02T00:00Z"],
    ),
    "biweekly-tokyo": (
        "{every: biweekly, day: monday, hour: 8, time_zone: Asia/Tokyo}",
        ["2027-01-10T23:00Z"],
    ),
    "monthly-utc": (
        "{every: monthly, day: 1, hour: 0, time_zone: UTC}",
        ["2027-01-01T00:00Z", "2027-12-01T00:00Z"],
    ),
    "cron-utc": ("{cron: '0 11 * * 6', time_zone: UTC}", ["2027-03-27T11:00Z"]),
    # Local time: the same written cadence fires at that day and hour in UTC+14, where
    # there are no clock changes (Sunday 02:30 there is Saturday 12:30 UTC all year).
    "local-weekly-berlin": (
        "{every: weekly, day: sunday, hour: 2, minute: 30, time_zone: Europe/Berlin}",
        ["2027-03-27T12:30Z", "2027-10-30T12:30Z", "2027-11-06T12:30Z"],
    ),
    "local-biweekly-new-york": (
        "{every: biweekly, day: sunday, hour: 2, minute: 30, time_zone: America/New_York}",
        ["2027-03-13T12:30Z", "2027-11-06T12:30Z"],
    ),
    "local-cron-sydney": (
        "{cron: '30 2 3,4 * *', time_zone: Australia/Sydney}",
        ["2027-04-02T12:30Z", "2027-10-02T12:30Z"],
    ),
}
YEAR_2027 = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("name", sorted(DST_CASES))
def test_periods_start_when_prefect_runs_them(name: str) -> None:
    pinned = DST_CASES[name][1]
    c = cadence_campaign(name)
    assert c.cadence is not None
    kind, expression = schedule(c.cadence)
    start, end = YEAR_2027
    runs = asyncio.run(_prefect_dates(kind, expression, c.cadence.time_zone, start, 1000, end))
    runs = [r.astimezone(UTC) for r in runs]
    assert {_utc(p) for p in pinned} <= set(runs)
    ours = next_runs(c, after=start - timedelta(seconds=1), count=len(runs))
    assert [r.astimezone(UTC) for r in ours] == runs
    for run, following in itertools.pairwise(runs):
        period = period_at(c, run)
        assert (period.starts_at, period.ends_at) == (run, following)
        assert period_at(c, following - timedelta(seconds=1)) == period
        assert period_from_key(c, period.key) == period
        assert period.local_start.astimezone(UTC) == run


def test_a_biweekly_run_in_a_dst_gap_starts_its_own_period() -> None:
    c = cadence_campaign("biweekly-berlin")
    assert c.cadence is not None
    kind, expression = schedule(c.cadence)
    before = datetime(2027, 3, 27, tzinfo=UTC)
    run = asyncio.run(_prefect_dates(kind, expression, c.cadence.time_zone, before, 1))[0]
    assert run == datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # 02:30 does not exist that night
    period = period_at(c, run)
    assert period.starts_at == run
    assert period.key == "2027-W12" == "{}-W{:02d}".format(*run.isocalendar()[:2])
    previous = period_at(c, run - timedelta(seconds=1))
    assert previous.key == "2027-W10" and previous.ends_at == run
    assert period_from_key(c, "2027-W12") == period


def test_the_deployment_schedule_is_the_cadence_in_its_zone() -> None:
    from prefect.client.schemas.actions import DeploymentScheduleCreate

    for name in DST_CASES:
        c = cadence_campaign(name)
        assert c.cadence is not None
        kind, expression = schedule(c.cadence)
        sent = DeploymentScheduleCreate.from_schedule(prefect_schedule(c.cadence)).schedule
        assert getattr(sent, kind) == expression
        assert sent.timezone == c.cadence.time_zone
        written = DST_CASES[name][0].split("time_zone: ")[1].rstrip("}")
        assert sent.timezone == (FIRST_ZONE if name.startswith("local-") else written)


def test_rrule_validation_reports_prefects_parse_error() -> None:
    with pytest.raises(ValueError, match="unknown parameter"):
        rrule_of("DTSTART:20270101T090000\nRRULE:FREQ=DAILY;SOMETIMES=2", "Europe/Berlin")
