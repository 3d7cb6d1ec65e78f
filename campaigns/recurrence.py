"""Cron and RRULE texts as Prefect's scheduler reads them: will it run this, and does it ever?

The campaign spec checks a written cadence here and ``campaigns.cadence`` expands it with
the same code, so a definition that passes ``homecoming campaigns validate`` is one the
Prefect server schedules. This module knows nothing of campaigns: text and a zone in, a
rule or an error out.

Prefect's server schemas take most of a second to import, and only cron and rrule cadences
need them, so each function imports them when first called.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

# Cron texts are checked for a first run from here, as the scheduler would look.
_CRON_FROM = datetime(2024, 1, 1, tzinfo=UTC)


class NeverFires(ValueError):
    """A valid expression with no date at all (30 February, an RRULE that ends at once)."""


def rrule_of(text: str, time_zone: str) -> Any:
    """The dateutil rule (or rule set) Prefect's scheduler expands for an RRULE text in a zone;
    dateutil's ``ValueError`` for text it cannot parse."""
    from prefect.server.schemas.schedules import RRuleSchedule

    return RRuleSchedule.model_construct(rrule=text, timezone=time_zone).to_rrule()


def check_cron(text: str, time_zone: str) -> None:
    """``ValueError`` when Prefect's cron parser refuses ``text``; :class:`NeverFires` when no
    day matches all its fields."""
    from prefect.server.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        plan = CronSchedule(cron=text, timezone=time_zone)
    except ValidationError as exc:
        raise ValueError(f"cron {text!r} is not valid") from exc
    try:
        next(plan._get_dates_generator(n=1, start=_CRON_FROM))
    except (StopIteration, ValueError):
        raise NeverFires(f"cron {text!r} never fires") from None


def check_rrule(text: str, time_zone: str) -> None:
    """``ValueError`` (dateutil's words) when ``text`` (with its DTSTART) does not parse;
    :class:`NeverFires` when it has no occurrence, or is a set of rules rather than one."""
    from dateutil.rrule import rrule

    try:
        rule = rrule_of(text, time_zone)
    except (ValueError, TypeError, StopIteration) as exc:
        raise ValueError(str(exc)) from None
    since = datetime(1970, 1, 1, tzinfo=ZoneInfo(time_zone))
    if not isinstance(rule, rrule) or rule.after(since, inc=True) is None:
        raise NeverFires("rrule never fires")
