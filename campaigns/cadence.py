"""Cadences: when a campaign's periods start, their keys, and the Prefect schedule for them.

Weekly and monthly cadences are cron expressions and biweekly ones an RRULE with a DTSTART
(an RRULE without one is anchored at 2020-01-01 by Prefect), all in the cadence's time zone,
so Prefect's scheduler and these functions agree on every run. A period runs from one
occurrence to the next; its key is the ISO week (``2026-W48``, weekly and biweekly), the
month (``2026-11``) or the occurrence's local date (cron and rrule).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from campaigns.definitions import WEEKDAYS, Cadence, Campaign

WEEK_KEY = re.compile(r"^(\d{4})-W(\d{2})$")
MONTH_KEY = re.compile(r"^(\d{4})-(\d{2})$")
DAY_KEY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# How far back to look for the occurrence at or before a moment (a monthly cadence with an
# rrule may skip months; a year covers every cadence a campaign can sensibly have).
LOOKBACK = timedelta(days=400)


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


def _rrule(text: str, zone: ZoneInfo):  # type: ignore[no-untyped-def]
    """The rule with its naive DTSTART placed in ``zone`` (as Prefect's scheduler does)."""
    from dateutil.rrule import rrulestr

    lines = text.splitlines()
    start_line = next(ln for ln in lines if ln.upper().startswith("DTSTART"))
    rest = "\n".join(ln for ln in lines if ln is not start_line)
    start = datetime.strptime(start_line.split(":", 1)[1].strip(), "%Y%m%dT%H%M%S")
    return rrulestr(rest, dtstart=start.replace(tzinfo=zone))


def _normal(moment: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time that may fall into a DST gap, as the instant it really is."""
    return moment.astimezone(UTC).astimezone(zone)


def occurrences(
    cadence: Cadence, *, after: datetime, inclusive: bool = False
) -> Iterator[datetime]:
    """Occurrences at (``inclusive``) or after ``after``, aware in the cadence's zone."""
    zone = ZoneInfo(cadence.time_zone)
    kind, text = schedule(cadence)
    start = after.astimezone(zone)
    if kind == "cron":
        from cronsim import CronSim

        base = start - timedelta(seconds=1) if inclusive else start
        for moment in CronSim(text, base.replace(microsecond=0)):
            moment = _normal(moment, zone)
            if moment > start or (inclusive and moment == start):
                yield moment
        return
    rule = _rrule(text, zone)
    moment = rule.after(start, inc=inclusive)
    while moment is not None:
        yield _normal(moment, zone)
        moment = rule.after(moment, inc=False)


def occurrence_at_or_before(cadence: Cadence, moment: datetime) -> datetime | None:
    zone = ZoneInfo(cadence.time_zone)
    kind, text = schedule(cadence)
    at = moment.astimezone(zone)
    if kind == "cron":
        from cronsim import CronSim

        for found in CronSim(
            text, (at + timedelta(seconds=1)).replace(microsecond=0), reverse=True
        ):
            found = _normal(found, zone)
            if found <= at:
                return found
            if found < at - LOOKBACK:
                return None
        return None
    found = _rrule(text, zone).before(at, inc=True)
    return _normal(found, zone) if found is not None else None


def period_key(cadence: Cadence, local: datetime) -> str:
    if cadence.every in ("weekly", "biweekly"):
        iso = local.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if cadence.every == "monthly":
        return f"{local.year}-{local.month:02d}"
    return local.date().isoformat()


def _period(campaign: Campaign, local: datetime) -> Period:
    assert campaign.cadence is not None
    following = next(occurrences(campaign.cadence, after=local))
    return Period(
        key=period_key(campaign.cadence, local),
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


def _key_start(cadence: Cadence, key: str) -> date:
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
    day = _key_start(cadence, key)
    local = next(
        occurrences(cadence, after=datetime.combine(day, time(0), zone), inclusive=True), None
    )
    if local is None or period_key(cadence, local) != key:
        raise PeriodError(f"{campaign.name} does not run in period {key!r} ({cadence.every})")
    if not campaign.active_on(local.date()):
        raise PeriodError(
            f"{campaign.name} is not active in {key} (start {campaign.start}, end {campaign.end})"
        )
    return _period(campaign, local)


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
    """Words for people: ``weekly on monday at 10:00 Europe/Berlin``."""
    if cadence is None:
        return "triggered"
    at = f"{cadence.hour:02d}:{cadence.minute:02d} {cadence.time_zone}"
    if cadence.every in ("weekly", "biweekly"):
        return f"{cadence.every} on {WEEKDAYS[cadence.day or 0]} at {at}"
    if cadence.every == "monthly":
        return f"monthly on day {cadence.day} at {at}"
    return f"{cadence.every} {cadence.expression!r} in {cadence.time_zone}"
