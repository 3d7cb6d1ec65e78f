"""Build reports by kind: the one entry point for the CLI, the flow and the demo."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from analytics import campaigns, csat, repeat, segments
from analytics.cohorts import cohort_report
from analytics.localtime import store_zone
from analytics.orders import Window
from analytics.report import Report

KINDS = ("repeat", "cohorts", "segments", "campaigns", "csat")
BY: dict[str, tuple[str, ...]] = {
    "repeat": repeat.BY,
    "segments": segments.BY,
    "csat": csat.BY,
}


def check(kind: str, by: str | None) -> None:
    """Raise ValueError naming what would be valid, before any query runs."""
    if kind not in KINDS:
        raise ValueError(f"unknown report {kind!r}; expected one of {', '.join(KINDS)} or all")
    if by is not None:
        allowed = BY.get(kind, ())
        if by not in allowed:
            valid = f"expected one of {', '.join(allowed)}" if allowed else "it takes no --by"
            raise ValueError(f"--by {by!r} does not apply to {kind}; {valid}")


def build(
    engine: Engine,
    kind: str,
    *,
    by: str | None = None,
    start: date | None = None,
    end: date | None = None,
    window: int | None = None,
    zone: str | None = None,
) -> Report:
    """One report. ``window`` is the campaigns' attribution window in days (default 7);
    ``zone`` the time zone of months and days (None: the store's ``default_time_zone``)."""
    check(kind, by)
    span = Window.of(start, end, store_zone(zone))
    if kind == "repeat":
        return repeat.repeat_report(engine, window=span, by=by or "none")
    if kind == "cohorts":
        return cohort_report(engine, window=span)
    if kind == "segments":
        return segments.segment_report(engine, window=span, by=by or "snapshot")
    if kind == "campaigns":
        return campaigns.campaign_report(
            engine, window=span, days=window or campaigns.DEFAULT_WINDOW
        )
    return csat.csat_report(engine, window=span, by=by or "survey")


def build_all(
    engine: Engine,
    *,
    start: date | None = None,
    end: date | None = None,
    window: int | None = None,
    zone: str | None = None,
) -> list[Report]:
    """Every kind with its default grouping, in the order of the HTML report."""
    return [build(engine, k, start=start, end=end, window=window, zone=zone) for k in KINDS]
