"""Local send times: the campaign's hour in each recipient's zone, DST, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.localtime import after_quiet_hours, in_quiet_hours, send_time, wall

QUIET = (21, 8)
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
# Monday 2026-11-23 10:00 in Berlin, the start of a weekly period.
START = datetime(2026, 11, 23, 9, tzinfo=UTC)


def local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")


def at(tz: ZoneInfo, hour: int = 10, start: datetime = START, quiet=QUIET) -> datetime:
    return send_time(period_start=start, hour=hour, minute=0, tz=tz, local_time=True, quiet=quiet)


def test_each_recipient_gets_the_hour_on_their_own_clock() -> None:
    assert local(at(BERLIN), BERLIN) == "Mon 2026-11-23 10:00"
    assert local(at(NEW_YORK), NEW_YORK) == "Mon 2026-11-23 10:00"  # 16:00 in Berlin
    assert at(NEW_YORK) == datetime(2026, 11, 23, 15, tzinfo=UTC)
    # In Tokyo Monday 10:00 came before the period started: Tuesday 10:00 Tokyo time.
    assert local(at(TOKYO), TOKYO) == "Tue 2026-11-24 10:00"
    assert all(at(tz) >= START for tz in (BERLIN, NEW_YORK, TOKYO))


def test_one_fixed_zone_sends_everyone_at_the_start_unless_quiet() -> None:
    fixed = {
        tz.key: send_time(
            period_start=START, hour=10, minute=0, tz=tz, local_time=False, quiet=QUIET
        )
        for tz in (BERLIN, NEW_YORK, TOKYO)
    }
    assert fixed["Europe/Berlin"] == START
    assert fixed["Asia/Tokyo"] == START  # 18:00 in Tokyo, outside quiet hours
    # 04:00 in New York is quiet: moved to 08:00 there.
    assert local(fixed["America/New_York"], NEW_YORK) == "Mon 2026-11-23 08:00"


def test_quiet_hours_move_to_their_end() -> None:
    assert local(at(BERLIN, hour=22), BERLIN) == "Tue 2026-11-24 08:00"
    assert local(at(BERLIN, hour=6), BERLIN) == "Tue 2026-11-24 08:00"  # Mon 06:00 was past
    day_quiet = (12, 14)  # quiet hours that do not wrap midnight
    assert local(at(BERLIN, hour=13, quiet=day_quiet), BERLIN) == "Mon 2026-11-23 14:00"
    assert not in_quiet_hours(START, BERLIN, (0, 0))  # start == end: no quiet hours


def test_a_time_skipped_by_the_spring_change_moves_forward() -> None:
    # 2026-03-29 02:30 does not exist in Berlin: clocks jump from 02:00 to 03:00.
    start = datetime(2026, 3, 28, 23, tzinfo=UTC)
    moment = send_time(
        period_start=start, hour=2, minute=30, tz=BERLIN, local_time=True, quiet=(0, 0)
    )
    assert local(moment, BERLIN) == "Sun 2026-03-29 03:30"
    assert moment == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # New York changed on 2026-03-08 at 02:00.
    moment = wall(datetime(2026, 3, 8).date(), 2, 15, NEW_YORK)
    assert local(moment, NEW_YORK) == "Sun 2026-03-08 03:15"


def test_a_time_repeated_by_the_autumn_change_is_the_first() -> None:
    # 2026-10-25 02:30 happens twice in Berlin (CEST, then CET).
    moment = wall(datetime(2026, 10, 25).date(), 2, 30, BERLIN)
    assert moment == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_the_local_hour_holds_on_both_sides_of_a_dst_change() -> None:
    before = datetime(2026, 3, 23, 9, tzinfo=UTC)  # Monday 10:00 CET
    after = datetime(2026, 3, 30, 8, tzinfo=UTC)  # Monday 10:00 CEST
    for tz in (BERLIN, NEW_YORK):
        assert at(tz, start=before).astimezone(tz).hour == 10
        assert at(tz, start=after).astimezone(tz).hour == 10
    assert at(NEW_YORK, start=before) - at(BERLIN, start=before) == timedelta(hours=5)


ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    local_time=st.booleans(),
)
def test_sends_are_never_early_never_quiet_and_at_the_hour_when_allowed(
    zone: str, start: datetime, hour: int, minute: int, local_time: bool
) -> None:
    tz = ZoneInfo(zone)
    moment = send_time(
        period_start=start, hour=hour, minute=minute, tz=tz, local_time=local_time, quiet=QUIET
    )
    assert moment.tzinfo is UTC or moment.utcoffset() == timedelta(0)
    assert moment >= start
    assert not in_quiet_hours(moment, tz, QUIET)
    assert moment - start < timedelta(days=2, hours=12)
    wanted_is_quiet = hour >= QUIET[0] or hour < QUIET[1]
    if local_time and not wanted_is_quiet:
        shown = moment.astimezone(tz)
        if (shown.hour, shown.minute) != (hour, minute):
            # Only when that wall time did not exist that day (clocks went forward).
            naive = datetime.combine(shown.date(), time(hour, minute))
            real = naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
            assert real != naive and shown.replace(tzinfo=None) == real
    if wanted_is_quiet or not local_time:
        assert after_quiet_hours(moment, tz, QUIET) == moment
