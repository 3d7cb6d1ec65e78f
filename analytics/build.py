"""Build reports by kind: the one entry point for the CLI and the flow."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from analytics.campaigns import campaign_report
from analytics.cohorts import cohort_report
from analytics.csat import csat_report
from analytics.repeat import repeat_report
from analytics.report import Report
from analytics.segments import segment_report

KINDS = ("repeat", "cohorts", "segments", "campaigns", "csat")
BY = {
    "repeat": ("none", "locale", "country"),
    "csat": ("survey", "month", "segment"),
    "segments": None,
}


def build(
    engine: Engine,
    kind: str,
    *,
    by: str | None = None,
    start: date | None = None,
    end: date | None = None,
    window: int = 7,
) -> Report:
    if kind == "repeat":
        return repeat_report(engine, start=start, end=end, by=by or "none")
    if kind == "cohorts":
        return cohort_report(engine, start=start, end=end)
    if kind == "segments":
        return segment_report(engine, start=start, end=end, by=by)
    if kind == "campaigns":
        return campaign_report(engine, window=window, start=start, end=end)
    if kind == "csat":
        return csat_report(engine, by=by or "survey", start=start, end=end)
    raise ValueError(f"unknown report {kind!r}; expected one of {', '.join(KINDS)} or all")


def build_all(
    engine: Engine, *, start: date | None = None, end: date | None = None, window: int = 7
) -> list[Report]:
    return [build(engine, kind, start=start, end=end, window=window) for kind in KINDS]
