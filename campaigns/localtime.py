"""Local send times: the campaign's hour in each recipient's own zone, never in quiet hours.

Rules (pinned by tests):

* With ``local_time`` a recipient gets the message when their own clock shows the
  campaign's day and hour: ``day: tuesday, hour: 10`` is Tuesday 10:00 in Tokyo, in Berlin
  and in New York alike. Such a period starts where that day comes first (10:00 on Tuesday
  in UTC+14, :data:`FIRST_ZONE`), so no recipient's moment has passed when it starts.
  Without ``local_time`` everyone gets it at the period's start.
* A wall-clock time that does not exist (the hour skipped when clocks go forward) is moved
  forward by the gap, e.g. 02:30 on 2026-03-29 in Europe/Berlin becomes 03:30 CEST; a time
  that exists twice (clocks go back) is the first of the two.
* A send time inside quiet hours (default 21:00-08:00, local) moves to their end.

Everything returned is aware and in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The zone where each calendar day begins first (UTC+14): a local-time period starts there.
FIRST_ZONE = "Pacific/Kiritimati"
# The zone where each calendar day ends last (UTC-12): a local-time campaign's end date.
LAST_ZONE = "Etc/GMT+12"


@lru_cache(maxsize=1024)
def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The zone named, or ``fallback`` for an unknown or empty name (bad data never stops a send)."""
    try:
        return ZoneInfo(name) if name else ZoneInfo(fallback)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def is_valid_zone(name: str | None) -> bool:
    try:
        return bool(name) and ZoneInfo(name) is not None  # type: ignore[arg-type]
    except (ZoneInfoNotFoundError, ValueError):
        return False


def wall(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    """The instant a local clock in ``tz`` shows ``hour:minute`` on ``day`` (DST rules above)."""
    return datetime.combine(day, time(hour, minute), tz).astimezone(UTC)


def in_quiet_hours(moment: datetime, tz: ZoneInfo, quiet: tuple[int, int]) -> bool:
    start, end = quiet
    if start == end:
        return False
    local = moment.astimezone(tz)
    minutes = local.hour * 60 + local.minute
    if start < end:
        return start * 60 <= minutes < end * 60
    return minutes >= start * 60 or minutes < end * 60


def after_quiet_hours(moment: datetime, tz: ZoneInfo, quiet: tuple[int, int]) -> datetime:
    """``moment``, or the end of the quiet hours it falls in."""
    if not in_quiet_hours(moment, tz, quiet):
        return moment
    local_day = moment.astimezone(tz).date()
    for offset in (0, 1):
        end = wall(local_day + timedelta(days=offset), quiet[1], 0, tz)
        if end > moment and not in_quiet_hours(end, tz, quiet):
            return end
    return moment  # unreachable for sane quiet hours


def send_time(
    *,
    period_start: datetime,
    day: date,
    hour: int,
    minute: int,
    tz: ZoneInfo,
    local_time: bool,
    quiet: tuple[int, int],
) -> datetime:
    """When one recipient in ``tz`` gets the message of a period starting at ``period_start``
    on the local calendar ``day`` (the period's date where it starts)."""
    start = period_start.astimezone(UTC)
    moment = max(start, wall(day, hour, minute, tz)) if local_time else start
    return after_quiet_hours(moment, tz, quiet)
