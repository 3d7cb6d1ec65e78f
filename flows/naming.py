"""Flow run names that say what a run is about: ``weekly_newsletter 2026-W49``,
``send-surveys 2026-12-05T10:05``, instead of Prefect's random ``auburn-tench``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from prefect.runtime import flow_run

from campaigns.cadence import period_at
from campaigns.definitions import find, load_all
from campaigns.run import inactive_reason
from models.settings import get_settings


def _moment() -> datetime:
    """The run's ``now`` parameter when given (a back-fill), else its scheduled start."""
    given = flow_run.parameters.get("now")
    if given:
        moment = datetime.fromisoformat(str(given).replace("Z", "+00:00"))
    else:
        moment = flow_run.scheduled_start_time or datetime.now(UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def timed(flow_name: str) -> Callable[[], str]:
    """``NAME 2026-12-05T10:05`` (UTC), for flows that act as of a moment."""
    return lambda: f"{flow_name} {_moment():%Y-%m-%dT%H:%M}"


def campaign_period() -> str:
    """``CAMPAIGN PERIOD``; the period running at the run's moment when none is given, or
    why there is none (``autumn_promotion ended on 2026-11-30``)."""
    name = str(flow_run.parameters.get("campaign"))
    period = flow_run.parameters.get("period")
    if period:
        return f"{name} {period}"
    campaign = find(name, load_all()[0])
    if campaign is None:
        return f"{name} {_moment():%Y-%m-%dT%H:%M}"  # the run itself says what is wrong
    reason = inactive_reason(campaign, _moment(), get_settings())
    if reason:
        return reason
    try:
        return f"{name} {period_at(campaign, _moment()).key}"
    except ValueError:  # no period at that moment: the run itself says why
        return f"{name} {_moment():%Y-%m-%dT%H:%M}"
