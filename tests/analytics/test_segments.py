"""Segment retention after snapshots against pandas."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from sqlalchemy import Engine

from analytics.orders import Window
from analytics.segments import segment_outcomes, segment_rows
from tests.analytics import reference


@pytest.mark.parametrize("zone", ["UTC", "Europe/London"])
def test_every_snapshot_matches_pandas(store: Engine, zone: str) -> None:
    outcomes = segment_outcomes(store, window=Window.of(None, None, zone))
    expected = reference.segment_retention(store, zone)
    assert set(outcomes) == set(expected)
    rows = {(r["segment"], r["as_of"]): r for r in segment_rows(outcomes)}
    for (segment, as_of), e in expected.items():
        o = outcomes[(segment, as_of)]
        row = rows[(segment, as_of.isoformat())]
        assert o.members == row["members"] == e["members"]
        assert o.observed == row["observed_days"] == e["observed"]
        for d in (30, 60, 90):
            assert o.ordered_within(d) == e[f"buyers_{d}"]
            assert o.revenue[d] == pytest.approx(e[f"revenue_{d}"])
            if e["observed"] >= d:
                assert row[f"ordered_{d}d"] == round(e[f"buyers_{d}"] / e["members"], 4)
                assert row[f"revenue_per_member_{d}d"] == round(e[f"revenue_{d}"] / e["members"], 2)
            else:  # the window has not passed yet: no number rather than a low one
                assert row[f"ordered_{d}d"] is None and row[f"revenue_per_member_{d}d"] is None


def test_curve_is_cumulative_and_ends_at_the_90_day_share(store: Engine) -> None:
    for o in segment_outcomes(store, window=Window()).values():
        if o.observed == 90:
            curve = o.curve()
            assert len(curve) == 91 and curve[0] == 0.0
            assert all(a <= b for a, b in itertools.pairwise(curve))
            assert curve[90] == o.ordered_within(90) / o.members


def test_pooled_by_segment_uses_only_fully_observed_snapshots(store: Engine) -> None:
    outcomes = segment_outcomes(store, window=Window())
    pooled = {r["segment"]: r for r in segment_rows(outcomes, by="segment")}
    expected = reference.segment_retention(store)
    for segment, row in pooled.items():
        seen = [e for (s, _), e in expected.items() if s == segment and e["observed"] >= 30]
        members = sum(e["members"] for e in seen)
        assert row["ordered_30d"] == round(sum(e["buyers_30"] for e in seen) / members, 4)
        assert row["members"] == sum(e["members"] for (s, _), e in expected.items() if s == segment)


def test_window_selects_snapshot_dates(store: Engine) -> None:
    outcomes = segment_outcomes(store, window=Window.of(date(2025, 10, 1), date(2026, 2, 1), "UTC"))
    assert {as_of for _, as_of in outcomes} == {date(2026, 1, 31)}


def test_no_snapshots_no_rows(engine: Engine) -> None:
    assert segment_outcomes(engine, window=Window()) == {}
