"""Local send times: the campaign's day and hour on each recipient's clock, DST, quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.localtime import (
    FIRST_ZONE,
    after_quiet_hours,
    in_quiet_hours,
    send_time,
    wall,
)

QUIET = (21, 8)
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
FIRST = ZoneInfo(FIRST_ZONE)
MONDAY = date(2026, 11, 23)


def period_start(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """Where a local-time period starts: the day and hour in the zone where the day begins first."""
    return wall(day, hour, minute, FIRST)


# Monday 2026-11-23 10:00 in UTC+14, the start of a weekly local-time period.
START = period_start(MONDAY)


def local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")


def at(tz: ZoneInfo, hour: int = 10, day: date = MONDAY, quiet=QUIET) -> datetime:
    return send_time(
        period_start=period_start(day, hour),
        day=day,
        hour=hour,
        minute=0,
        tz=tz,
        local_time=True,
        quiet=quiet,
    )


def test_the_first_zone_is_where_each_day_begins_first() -> None:
    assert datetime(2026, 11, 22, 20, tzinfo=UTC) == START  # Sunday 20:00 UTC
    zones = [ZoneInfo(name) for name in available_timezones()]
    offsets = {tz.key: datetime(2026, 11, 23, tzinfo=tz).utcoffset() for tz in zones}
    assert max(o for o in offsets.values() if o is not None) == timedelta(hours=14)
    # No recipient's Monday 10:00 has passed when the period starts, wherever they are.
    assert all(wall(MONDAY, 10, 0, tz) >= START for tz in zones)


def test_each_recipient_gets_the_day_and_hour_on_their_own_clock() -> None:
    for tz in (BERLIN, NEW_YORK, TOKYO, FIRST):
        assert local(at(tz), tz) == "Mon 2026-11-23 10:00", tz.key
    assert at(TOKYO) == datetime(2026, 11, 23, 1, tzinfo=UTC)  # UTC+9
    assert at(BERLIN) == datetime(2026, 11, 23, 9, tzinfo=UTC)  # UTC+1
    assert at(NEW_YORK) == datetime(2026, 11, 23, 15, tzinfo=UTC)  # UTC-5
    assert at(FIRST) == START  # where the day begins first, at the period's start
    assert all(at(tz) >= START for tz in (BERLIN, NEW_YORK, TOKYO))


def test_one_fixed_zone_sends_everyone_at_the_start_unless_quiet() -> None:
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)  # Monday 10:00 in Berlin, the cadence's zone
    fixed = {
        tz.key: send_time(
            period_start=start,
            day=MONDAY,
            hour=10,
            minute=0,
            tz=tz,
            local_time=False,
            quiet=QUIET,
        )
        for tz in (BERLIN, NEW_YORK, TOKYO)
    }
    assert fixed["Europe/Berlin"] == start
    assert fixed["Asia/Tokyo"] == start  # 18:00 in Tokyo, outside quiet hours
    # 04:00 in New York is quiet: moved to 08:00 there.
    assert local(fixed["America/New_York"], NEW_YORK) == "Mon 2026-11-23 08:00"


def test_quiet_hours_move_to_their_end() -> None:
    assert local(at(BERLIN, hour=22), BERLIN) == "Tue 2026-11-24 08:00"
    assert local(at(BERLIN, hour=6), BERLIN) == "Mon 2026-11-23 08:00"  # the same morning
    day_quiet = (12, 14)  # quiet hours that do not wrap midnight
    assert local(at(BERLIN, hour=13, quiet=day_quiet), BERLIN) == "Mon 2026-11-23 14:00"
    assert not in_quiet_hours(START, BERLIN, (0, 0))  # start == end: no quiet hours


def test_a_time_skipped_by_the_spring_change_moves_forward() -> None:
    # 2026-03-29 02:30 does not exist in Berlin: clocks jump from 02:00 to 03:00.
    sunday = date(2026, 3, 29)
    moment = send_time(
        period_start=period_start(sunday, 2, 30),
        day=sunday,
        hour=2,
        minute=30,
        tz=BERLIN,
        local_time=True,
        quiet=(0, 0),
    )
    assert local(moment, BERLIN) == "Sun 2026-03-29 03:30"
    assert moment == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # New York changed on 2026-03-08 at 02:00.
    moment = wall(date(2026, 3, 8), 2, 15, NEW_YORK)
    assert local(moment, NEW_YORK) == "Sun 2026-03-08 03:15"


def test_a_time_repeated_by_the_autumn_change_is_the_first() -> None:
    # 2026-10-25 02:30 happens twice in Berlin (CEST, then CET).
    moment = wall(datetime(2026, 10, 25).date(), 2, 30, BERLIN)
    assert moment == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_the_local_hour_holds_on_both_sides_of_a_dst_change() -> None:
    before = date(2026, 3, 23)  # Monday, CET in Berlin, EDT in New York
    after = date(2026, 3, 30)  # Monday, CEST in Berlin
    for tz in (BERLIN, NEW_YORK):
        assert local(at(tz, day=before), tz) == "Mon 2026-03-23 10:00"
        assert local(at(tz, day=after), tz) == "Mon 2026-03-30 10:00"
    assert at(NEW_YORK, day=before) - at(BERLIN, day=before) == timedelta(hours=5)
    assert at(NEW_YORK, day=after) - at(BERLIN, day=after) == timedelta(hours=6)


ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    local_time=st.booleans(),
)
def test_sends_are_never_early_never_quiet_and_on_the_day_and_hour_when_allowed(
    zone: str, day: date, hour: int, minute: int, local_time: bool
) -> None:
    tz = ZoneInfo(zone)
    start = period_start(day, hour, minute)
    moment = send_time(
        period_start=start,
        day=day,
        hour=hour,
        minute=minute,
        tz=tz,
        local_time=local_time,
        quiet=QUIET,
    )
    assert moment.tzinfo is UTC or moment.utcoffset() == timedelta(0)
    assert moment >= start
    assert not in_quiet_hours(moment, tz, QUIET)
    # The last zones to reach a day are 25 hours behind UTC+14; quiet hours add at most 11.
    assert moment - start <= timedelta(hours=25 + 11 + 1)
    wanted_is_quiet = hour >= QUIET[0] or hour < QUIET[1]
    if local_time and not wanted_is_quiet:
        shown = moment.astimezone(tz)
        assert shown.date() == day  # the recipient's own day, never the next one
        if (shown.hour, shown.minute) != (hour, minute):
            # Only when that wall time did not exist that day (clocks went forward).
            naive = datetime.combine(day, time(hour, minute))
            real = naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
            assert real != naive and shown.replace(tzinfo=None) == real
    if not local_time:
        assert moment == after_quiet_hours(start, tz, QUIET)
    if wanted_is_quiet or not local_time:
        assert after_quiet_hours(moment, tz, QUIET) == moment
