"""Cadences: when a campaign's periods start, their keys, and the Prefect schedule for them.

Weekly and monthly cadences are cron expressions and biweekly ones an RRULE with a DTSTART
(an RRULE without one is anchored at 2020-01-01 by Prefect), all in the cadence's time zone.
:func:`prefect_schedule` is the deployment's schedule, and every occurrence here comes from
the Prefect server's own schedule code applied to that same schedule, so a period starts
exactly when Prefect runs it, also in DST gaps and overlaps. A period runs from one
occurrence to the next; its key is the ISO week (``2026-W48``, weekly and biweekly), the
month (``2026-11``) or the occurrence's local date (cron and rrule).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from campaigns.campaign import WEEKDAYS, Cadence, Campaign

if TYPE_CHECKING:
    from prefect.schedules import Schedule
    from prefect.server.schemas.schedules import CronSchedule, RRuleSchedule

WEEK_KEY = re.compile(r"^(\d{4})-W(\d{2})$")
MONTH_KEY = re.compile(r"^(\d{4})-(\d{2})$")
DAY_KEY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
TIME_KEY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$")
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# How far back to look for the occurrence at or before a moment (a monthly rrule may skip
# months; a year covers every cadence a campaign can sensibly have).
LOOKBACK = timedelta(days=400)
# Occurrences are generated and cached a UTC week at a time, counted from this Monday.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
WEEK = timedelta(days=7)
# Prefect's scheduler returns at most this many dates per call (MAX_ITERATIONS).
BATCH = 1000


class PeriodError(ValueError):
    """A period key or moment that names no period of the campaign."""


@dataclass(frozen=True)
class Period:
    key: str
    starts_at: datetime  # UTC, the scheduled occurrence
    ends_at: datetime  # UTC, the next occurrence
    local_start: datetime  # the occurrence in the cadence's zone


def schedule(cadence: Cadence) -> tuple[str, str]:
    """``("cron", text)`` or ``("rrule", text)``: the cadence as Prefect schedules it."""
    if cadence.every == "weekly":
        assert cadence.day is not None  # a weekly cadence always has its weekday
        cron_day = (cadence.day + 1) % 7  # cron counts from Sunday
        return "cron", f"{cadence.minute} {cadence.hour} * * {cron_day}"
    if cadence.every == "monthly":
        return "cron", f"{cadence.minute} {cadence.hour} {cadence.day} * *"
    if cadence.every == "biweekly":
        assert cadence.anchor is not None and cadence.day is not None
        first = datetime.combine(
            cadence.anchor + timedelta(days=cadence.day), time(cadence.hour, cadence.minute)
        )
        rule = f"RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY={RRULE_DAYS[cadence.day]}"
        return "rrule", f"DTSTART:{first:%Y%m%dT%H%M%S}\n{rule}"
    assert cadence.expression is not None
    return cadence.every, cadence.expression


def prefect_schedule(cadence: Cadence) -> Schedule:
    """The deployment's schedule: a Prefect ``Cron`` or ``RRule`` in the cadence's zone.

    Periods are computed from this same object, so the deployment must be built with it.
    """
    from prefect.schedules import Cron, RRule

    kind, text = schedule(cadence)
    if kind == "cron":
        return Cron(text, timezone=cadence.time_zone)
    return RRule(text, timezone=cadence.time_zone)


@lru_cache(maxsize=512)
def _server_schedule(cadence: Cadence) -> CronSchedule | RRuleSchedule:
    """The schedule as the Prefect server stores it, through the same client and API schemas
    a deployment's schedule passes (which may add a DTSTART to an RRULE)."""
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.server.schemas.actions import DeploymentScheduleCreate as ServerCreate

    sent = DeploymentScheduleCreate.from_schedule(prefect_schedule(cadence))
    received = ServerCreate.model_validate(sent.model_dump(mode="json"))
    return received.schedule  # type: ignore[return-value]


def _instant(moment: datetime) -> datetime:
    """``moment`` as a plain UTC datetime: aware datetimes in one zone compare by wall time,
    which repeats, and Prefect's datetime subclass does its own arithmetic."""
    utc = moment.astimezone(UTC)
    return datetime.combine(utc.date(), utc.time(), UTC)


def _dates(cadence: Cadence, start: datetime, end: datetime | None = None) -> Iterator[datetime]:
    """Occurrences from ``start`` to ``end`` (both included), aware in the cadence's zone.

    These are the dates the server's scheduler creates runs for: the same generator it
    calls, resumed from the last date while a call comes near its limit of dates (one that
    yields far fewer has reached ``end`` or the schedule's last date).
    """
    plan = _server_schedule(cadence)
    zone = ZoneInfo(cadence.time_zone)
    last: datetime | None = None
    while True:
        count = 0
        for found in plan._get_dates_generator(n=BATCH, start=last or start, end=end):
            count += 1
            moment = datetime.fromtimestamp(found.timestamp(), zone)
            if last is None or _instant(moment) > _instant(last):
                last = moment
                yield moment
        if count < BATCH // 2:
            return


def _week(moment: datetime) -> int:
    return (_instant(moment) - EPOCH) // WEEK


@lru_cache(maxsize=4096)
def _occurrences_in_week(cadence: Cadence, week: int) -> tuple[datetime, ...]:
    """One UTC week's occurrences, cached: periods are looked up many times over."""
    start = EPOCH + week * WEEK
    return tuple(_dates(cadence, start, end=start + WEEK - timedelta(microseconds=1)))


@lru_cache(maxsize=4096)
def _next_week(cadence: Cadence, week: int) -> int | None:
    """The first week after ``week`` with an occurrence; None once the schedule has ended."""
    found = next(_dates(cadence, EPOCH + (week + 1) * WEEK), None)
    return None if found is None else _week(found)


def occurrences(
    cadence: Cadence, *, after: datetime, inclusive: bool = False
) -> Iterator[datetime]:
    """Occurrences at (``inclusive``) or after ``after``, aware in the cadence's zone."""
    at = _instant(after)
    week: int | None = _week(at)
    while week is not None:
        for moment in _occurrences_in_week(cadence, week):
            if _instant(moment) > at or (inclusive and _instant(moment) == at):
                yield moment
        week = _next_week(cadence, week)


def occurrence_at_or_before(cadence: Cadence, moment: datetime) -> datetime | None:
    """The last occurrence at or before ``moment``, a week at a time back to LOOKBACK."""
    at = _instant(moment)
    for week in range(_week(at), _week(at - LOOKBACK) - 1, -1):
        earlier = [m for m in _occurrences_in_week(cadence, week) if _instant(m) <= at]
        if earlier:
            return earlier[-1]
    return None


def period_key(cadence: Cadence, local: datetime, *, shares_day: bool = False) -> str:
    """The ISO week, the month, or for cron and rrule cadences the local date (with the time,
    ``2026-11-23T14:00``, when the cadence runs more than once that day)."""
    if cadence.every in ("weekly", "biweekly"):
        iso = local.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if cadence.every == "monthly":
        return f"{local.year}-{local.month:02d}"
    return f"{local:%Y-%m-%dT%H:%M}" if shares_day else local.date().isoformat()


def _period(campaign: Campaign, local: datetime) -> Period:
    cadence = _require_cadence(campaign)
    following = next(occurrences(cadence, after=local))
    shares_day = False
    if cadence.every in ("cron", "rrule"):
        zone = ZoneInfo(cadence.time_zone)
        before = occurrence_at_or_before(cadence, local - timedelta(seconds=1))
        shares_day = local.date() in {
            following.astimezone(zone).date(),
            before.astimezone(zone).date() if before else None,
        }
    return Period(
        key=period_key(cadence, local, shares_day=shares_day),
        starts_at=local.astimezone(UTC),
        ends_at=following.astimezone(UTC),
        local_start=local,
    )


def _require_cadence(campaign: Campaign) -> Cadence:
    if campaign.cadence is None:
        raise PeriodError(
            f"{campaign.name} is triggered ({campaign.trigger.after if campaign.trigger else '?'}"
            "), not scheduled: its periods are trigger keys, run by send-surveys"
        )
    return campaign.cadence


def period_at(campaign: Campaign, moment: datetime) -> Period:
    """The period running at ``moment``: the one that started last, at or before it."""
    cadence = _require_cadence(campaign)
    local = occurrence_at_or_before(cadence, moment)
    if local is None or not campaign.active_on(local.date()):
        if campaign.start and (local is None or local.date() < campaign.start):
            first = first_run(campaign)
            when = f"; its first run is {first.isoformat()}" if first else ""
            raise PeriodError(f"{campaign.name} has no period yet at {moment.isoformat()}{when}")
        if campaign.end and local is not None and local.date() > campaign.end:
            last = occurrence_at_or_before(
                cadence, datetime.combine(campaign.end, time(23, 59), ZoneInfo(cadence.time_zone))
            )
            if last is None:
                raise PeriodError(f"{campaign.name} ended on {campaign.end}")
            local = last
        else:
            raise PeriodError(f"{campaign.name} has no period at {moment.isoformat()}")
    return _period(campaign, local)


def _key_start(cadence: Cadence, key: str) -> date | datetime:
    if match := WEEK_KEY.match(key):
        if cadence.every not in ("weekly", "biweekly"):
            raise PeriodError(f"{key!r} is a week; this cadence is {cadence.every}")
        try:
            return date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            raise PeriodError(f"{key!r} is not an ISO week") from None
    if match := MONTH_KEY.match(key):
        if cadence.every != "monthly":
            raise PeriodError(f"{key!r} is a month; this cadence is {cadence.every}")
        try:
            return date(int(match[1]), int(match[2]), 1)
        except ValueError:
            raise PeriodError(f"{key!r} is not a month") from None
    if match := TIME_KEY.match(key):
        if cadence.every not in ("cron", "rrule"):
            raise PeriodError(f"{key!r} is a time of day; this cadence is {cadence.every}")
        year, month, day, hour, minute = (int(part) for part in match.groups())
        try:
            return datetime(year, month, day, hour, minute)
        except ValueError:
            raise PeriodError(f"{key!r} is not a date and time") from None
    if DAY_KEY.match(key):
        if cadence.every not in ("cron", "rrule"):
            raise PeriodError(f"{key!r} is a day; this cadence is {cadence.every}")
        try:
            return date.fromisoformat(key)
        except ValueError:
            raise PeriodError(f"{key!r} is not a date") from None
    example = {"weekly": "2026-W48", "biweekly": "2026-W48", "monthly": "2026-11"}
    raise PeriodError(
        f"period {key!r} is not valid for a {cadence.every} cadence; e.g. "
        f"{example.get(cadence.every, '2026-11-23')}"
    )


def period_from_key(campaign: Campaign, key: str) -> Period:
    """The period a key names; a biweekly off-week or a day without a run is an error."""
    cadence = _require_cadence(campaign)
    zone = ZoneInfo(cadence.time_zone)
    start = _key_start(cadence, key)
    if not isinstance(start, datetime):
        start = datetime.combine(start, time(0))
    local = next(occurrences(cadence, after=start.replace(tzinfo=zone), inclusive=True), None)
    found = _period(campaign, local) if local is not None else None
    if found is None or found.key != key:
        raise PeriodError(f"{campaign.name} does not run in period {key!r} ({cadence.every})")
    if not campaign.active_on(found.local_start.date()):
        raise PeriodError(
            f"{campaign.name} is not active in {key} (start {campaign.start}, end {campaign.end})"
        )
    return found


def next_runs(campaign: Campaign, *, after: datetime, count: int = 1) -> list[datetime]:
    """The next ``count`` scheduled starts after ``after`` within the campaign's dates."""
    if campaign.cadence is None:
        return []
    found: list[datetime] = []
    start = after
    if campaign.start:
        zone = ZoneInfo(campaign.cadence.time_zone)
        start = max(after, datetime.combine(campaign.start, time(0), zone))
    for moment in occurrences(campaign.cadence, after=start, inclusive=start != after):
        if campaign.end and moment.date() > campaign.end:
            break
        found.append(moment)
        if len(found) >= count:
            break
    return found


def first_run(campaign: Campaign) -> datetime | None:
    if campaign.cadence is None or campaign.start is None:
        return None
    runs = next_runs(
        campaign,
        after=datetime.combine(campaign.start, time(0), ZoneInfo(campaign.cadence.time_zone))
        - timedelta(seconds=1),
    )
    return runs[0] if runs else None


def describe(cadence: Cadence | None) -> str:
    """Words for people: ``weekly on monday at 10:00 Europe/Berlin``, or with local time
    ``weekly on monday at 10:00 in each recipient's zone``."""
    if cadence is None:
        return "triggered"
    zone = "each recipient's zone" if cadence.local else cadence.time_zone
    clock = f"{cadence.hour:02d}:{cadence.minute:02d}"
    at = f"{clock} in {zone}" if cadence.local else f"{clock} {zone}"
    if cadence.every in ("weekly", "biweekly"):
        return f"{cadence.every} on {WEEKDAYS[cadence.day or 0]} at {at}"
    if cadence.every == "monthly":
        return f"monthly on day {cadence.day} at {at}"
    return f"{cadence.every} {cadence.expression!r} in {zone}"
