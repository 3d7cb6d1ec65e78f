"""Cohort retention against pandas, in UTC and in a store time zone, with windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from analytics.cohorts import cohort_counts, cohort_table
from analytics.localtime import month_label
from analytics.orders import Window
from analytics.report import MIN_BASE
from models import Customer, Order
from tests.analytics import reference
from tests.conftest import truncate_all


@pytest.mark.parametrize("zone", ["UTC", "Europe/London", "Asia/Tokyo", "America/Los_Angeles"])
def test_cohort_counts_match_pandas(store: Engine, zone: str) -> None:
    got, last = cohort_counts(store, window=Window.of(None, None, zone))
    expected = reference.cohorts(store, zone)
    assert got == expected
    assert last == max(c + max(ks) for c, ks in expected.items())


def test_zone_moves_orders_across_month_boundaries(store: Engine) -> None:
    """The generated store has orders at 23:30 UTC on the last day of months: in summer
    they belong to the next month in London, so the tables must differ, as pandas says."""
    utc, _ = cohort_counts(store, window=Window.of(None, None, "UTC"))
    london, _ = cohort_counts(store, window=Window.of(None, None, "Europe/London"))
    assert utc != london


def test_table_shape_fractions_and_counts(store: Engine) -> None:
    rows = cohort_table(store)
    expected = reference.cohorts(store)
    last = max(c + max(ks) for c, ks in expected.items())
    assert [r["cohort"] for r in rows] == [month_label(c) for c in sorted(expected)]
    for row, cohort in zip(rows, sorted(expected), strict=True):
        counts = expected[cohort]
        assert row["size"] == counts[0]
        assert len(row["retention"]) == last - cohort + 1  # up to the last month with data
        for k, share in enumerate(row["retention"]):
            assert row["customers"][k] == counts.get(k, 0)
            if counts[0] < MIN_BASE:  # too small a cohort to act on: no rates, a note
                assert share is None and f"minimum base of {MIN_BASE}" in row["note"]
            elif cohort + k == last:  # the data stops on 29 June: June is not over
                assert share is None and "is not over" in row["note"]
            else:
                assert share == pytest.approx(counts.get(k, 0) / counts[0], abs=1e-12)
    assert rows[0]["size"] >= MIN_BASE and rows[0]["retention"][0] == 1.0
    assert any(r["size"] < MIN_BASE for r in rows)  # the store has both kinds


def test_window_selects_cohorts_and_cuts_activity(store: Engine) -> None:
    window = Window.of(date(2025, 4, 1), date(2025, 12, 31), "UTC")
    rows = cohort_table(store, window=window)
    assert rows[0]["cohort"] == "2025-04"
    assert rows[-1]["cohort"] <= "2025-12"
    assert all(len(r["retention"]) == window.last_month - _index(r["cohort"]) + 1 for r in rows)
    # A cohort's months up to --to are the same as without the window: the first order
    # is still found before --from.
    full = {r["cohort"]: r for r in cohort_table(store)}
    for r in rows:
        assert r["customers"] == full[r["cohort"]]["customers"][: len(r["customers"])]


def _index(label: str) -> int:
    year, month = label.split("-")
    return (int(year) - 1970) * 12 + int(month) - 1


def test_empty_database_gives_no_cohorts(engine: Engine) -> None:
    assert cohort_table(engine) == []


ORDERS = st.lists(
    st.tuples(
        st.integers(1, 6),  # customer
        st.integers(0, 500 * 24),  # hours after the start
        st.sampled_from([0.0, 5.0, 12.5]),  # total
        st.sampled_from([0, 1, 3]),  # items
        st.booleans(),  # guest
    ),
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ORDERS, zone=st.sampled_from(["UTC", "Europe/London", "Australia/Sydney"]))
def test_any_small_store(engine: Engine, rows: list, zone: str) -> None:
    truncate_all(engine)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [{"id": i, "external_id": f"c{i}", "created_at": start} for i in range(1, 7)],
        )
        if rows:
            conn.execute(
                insert(Order),
                [
                    {
                        "external_id": f"o{n}",
                        "customer_id": None if guest else customer,
                        "ordered_at": start + timedelta(hours=hours),
                        "total": total,
                        "items": items,
                    }
                    for n, (customer, hours, total, items, guest) in enumerate(rows)
                ],
            )
    got, _ = cohort_counts(engine, window=Window.of(None, None, zone))
    assert got == reference.cohorts(engine, zone)
