"""CSAT and NPS by survey, month and segment against pandas."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from analytics.csat import csat_rows
from analytics.orders import Window
from analytics.report import MIN_BASE
from models import SegmentMember
from tests.analytics import reference


def _check(row: dict, group) -> None:  # type: ignore[no-untyped-def]
    n_csat, csat, n_nps, nps = reference.csat_of(group)
    assert (row["csat_answers"], row["nps_answers"]) == (n_csat, n_nps)
    for name, want, n in (("csat", csat, n_csat), ("nps", nps, n_nps)):
        if n >= MIN_BASE:
            assert row[name] == pytest.approx(want, abs=1e-9)
        else:  # too few answers to act on: n/a, and the note says why
            assert row[name] is None
            assert n == 0 or f"{n} {name.upper()} answers" in row["note"]


def test_by_survey(store: Engine) -> None:
    rows = {r["survey"]: r for r in csat_rows(store, window=Window(), by="survey")}
    a = reference.answers(store)
    assert set(rows) == set(a.survey)
    for survey, group in a.groupby("survey"):
        _check(rows[survey], group)


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
def test_by_month(store: Engine, zone: str) -> None:
    rows = {r["month"]: r for r in csat_rows(store, window=Window.of(None, None, zone), by="month")}
    a = reference.answers(store, zone)
    for month, group in a.groupby("month"):
        _check(rows[month], group)


def test_by_segment_of_the_latest_snapshot(store: Engine) -> None:
    rows = {r["segment"]: r for r in csat_rows(store, window=Window(), by="segment")}
    members = reference.frame(
        store, SegmentMember.segment, SegmentMember.as_of, SegmentMember.customer_id
    )
    latest = members[members.as_of == members.as_of.max()]
    a = reference.answers(store)
    for segment, group in latest.groupby("segment"):
        _check(rows[segment], a[a.customer_id.isin(set(group.customer_id))])


def test_answers_outside_the_scale_do_not_count(store: Engine) -> None:
    a = reference.answers(store)
    off_scale = a[((a.kind == "csat") & (a.score > 5)) | ((a.kind == "nps") & (a.score > 10))]
    assert len(off_scale) > 0
    total = sum(r["csat_answers"] + r["nps_answers"] for r in csat_rows(store, window=Window()))
    assert total == len(a) - len(off_scale) - int((a.kind == "feedback").sum())
