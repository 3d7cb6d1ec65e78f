"""Repeat-purchase rate and the customer retention rate (E - N) / S against pandas."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, insert

from analytics.localtime import month_label
from analytics.orders import Window
from analytics.repeat import repeat_rate, retention_rate
from analytics.report import MIN_BASE
from models import Customer, Order
from tests.analytics import reference


@pytest.mark.parametrize("by", ["none", "locale", "country"])
def test_repeat_rate_by_group(store: Engine, by: str) -> None:
    got = {
        r["group" if by == "none" else by]: r for r in repeat_rate(store, window=Window(), by=by)
    }
    expected = reference.repeat(store, by)
    assert set(got) == set(expected)
    for key, (customers, repeaters) in expected.items():
        assert got[key]["customers"] == customers
        assert got[key]["repeat_customers"] == repeaters
        if customers >= MIN_BASE:
            assert got[key]["repeat_rate"] == pytest.approx(repeaters / customers, abs=1e-12)
            assert got[key]["note"] == ""
        else:  # too few customers to act on: not available, and the note says why
            assert got[key]["repeat_rate"] is None
            assert str(MIN_BASE) in got[key]["note"]


def test_repeat_rate_counts_only_orders_inside_the_window(store: Engine) -> None:
    window = Window.of(date(2025, 3, 1), date(2025, 8, 31), "UTC")
    [row] = repeat_rate(store, window=window)
    o = reference.orders(store)
    inside = o[(o.ordered_at >= "2025-03-01") & (o.ordered_at < "2025-09-01")]
    per = inside.groupby("customer_id").size()
    assert (row["customers"], row["repeat_customers"]) == (len(per), int((per >= 2).sum()))


def test_repeat_rate_by_segment_uses_the_latest_snapshot(store: Engine) -> None:
    rows = {r["segment"]: r for r in repeat_rate(store, window=Window(), by="segment")}
    members = reference.frame(store, *_member_columns())
    latest = members[members.as_of == members.as_of.max()]
    per = reference.orders(store).groupby("customer_id").size()
    for segment, group in latest.groupby("segment"):
        buyers = per[per.index.isin(set(group.customer_id))]
        assert rows[segment]["customers"] == len(buyers)
        assert rows[segment]["repeat_customers"] == int((buyers >= 2).sum())


def _member_columns():  # type: ignore[no-untyped-def]
    from models import SegmentMember

    return SegmentMember.segment, SegmentMember.as_of, SegmentMember.customer_id


def test_unknown_grouping_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="expected one of none, locale, country, segment"):
        repeat_rate(engine, window=Window(), by="colour")


def test_monthly_retention_rate_matches_the_definition(store: Engine) -> None:
    monthly, overall = retention_rate(store, window=Window())
    assert len(monthly) >= 12
    last_day = reference.orders(store).ordered_at.max()
    for row in monthly:
        year, month = map(int, row["period"].split("-"))
        k = (year - 1970) * 12 + month - 1
        expected = reference.retention(store, k)
        assert {key: row[key] for key in expected} == expected
        s, churned = expected["start_customers"], expected["churned"]
        assert row["retained"] == s - churned
        over = (last_day + pd.Timedelta(days=1)).month != month or last_day.year != year
        if s >= MIN_BASE and over:
            assert row["retention_rate"] == pytest.approx((s - churned) / s, abs=1e-12)
        else:
            assert row["retention_rate"] is None and row["note"]
    # The store's data ends on 29 June: June is not over, so its rate is not available.
    assert monthly[-1]["period"] == "2026-06" and monthly[-1]["retention_rate"] is None
    assert "not over" in monthly[-1]["note"]
    assert overall is not None and overall["period"].endswith("to 2026-05")


def test_retention_rate_over_a_window(store: Engine) -> None:
    window = Window.of(date(2025, 6, 1), date(2026, 3, 31), "UTC")
    monthly, overall = retention_rate(store, window=window)
    assert monthly[0]["period"] == "2025-06"
    assert monthly[-1]["period"] == "2026-03"
    assert overall["period"] == "2025-06 to 2026-03"
    o = reference.orders(store)
    first_month = o.groupby("customer_id").month.min()
    k1, k2 = (2025 - 1970) * 12 + 5, (2026 - 1970) * 12 + 2
    start = reference.retention(store, k1)["start_customers"]
    end = reference.retention(store, k2)["end_customers"]
    new = int(((first_month >= k1) & (first_month <= k2)).sum())
    kept = reference.retained(store, k1, k2)
    assert (overall["start_customers"], overall["end_customers"], overall["new_customers"]) == (
        start,
        end,
        new,
    )
    assert (overall["retained"], overall["churned"]) == (kept, start - kept)
    assert start >= MIN_BASE
    assert overall["retention_rate"] == pytest.approx(kept / start, abs=1e-12)
    assert month_label(k1) == "2025-06"


def test_whole_window_rate_is_a_share_of_the_start_base(engine: Engine) -> None:
    """The analyst's case: a small first month, many new customers who lapse within the
    window. (E − N) / S is far below 0 there; retained / S is the share of S kept."""
    t = datetime(2024, 1, 10, tzinfo=UTC)
    orders = [(c, t) for c in range(1, 51)]  # S: 50 customers of January 2024
    orders += [(c, t + timedelta(days=365)) for c in range(1, 11)]  # 10 of them come back
    orders += [(c, t + timedelta(days=30 + c % 150)) for c in range(51, 251)]  # once, then gone
    orders.append((251, datetime(2025, 12, 31, 12, tzinfo=UTC)))  # the data ends with December
    write_orders(engine, orders)
    _, overall = retention_rate(engine, window=Window())
    s, e, n = overall["start_customers"], overall["end_customers"], overall["new_customers"]
    assert overall["period"] == "2024-02 to 2025-12"
    assert (s, e, n) == (50, 11, 201) and (e - n) / s < -3
    assert (overall["retained"], overall["churned"]) == (10, 40)
    assert overall["retention_rate"] == pytest.approx(10 / 50)


def test_a_start_base_below_the_minimum_is_not_shown(engine: Engine) -> None:
    t = datetime(2024, 1, 10, tzinfo=UTC)
    orders = [(c, t) for c in range(1, MIN_BASE)]  # one customer short of the minimum
    orders += [(c, t + timedelta(days=40)) for c in range(1, 200)]
    orders.append((300, datetime(2024, 6, 30, 12, tzinfo=UTC)))
    write_orders(engine, orders)
    monthly, overall = retention_rate(engine, window=Window())
    assert overall["start_customers"] == MIN_BASE - 1 and overall["retention_rate"] is None
    assert f"minimum base of {MIN_BASE}" in overall["note"]
    assert monthly[0]["retention_rate"] is None and monthly[0]["note"]
    assert monthly[-1]["start_customers"] >= MIN_BASE
    assert monthly[-1]["retention_rate"] is not None


def write_orders(engine: Engine, orders: list[tuple[int, datetime]]) -> None:
    created = datetime(2023, 1, 1, tzinfo=UTC)
    ids = sorted({c for c, _ in orders})
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [{"id": c, "external_id": f"c{c}", "created_at": created} for c in ids],
        )
        conn.execute(
            insert(Order),
            [
                {
                    "external_id": f"o{i}",
                    "customer_id": c,
                    "ordered_at": at,
                    "total": 10.0,
                    "items": 1,
                }
                for i, (c, at) in enumerate(orders)
            ],
        )


def test_a_window_ending_mid_month_leaves_that_month_out(store: Engine) -> None:
    window = Window.of(date(2025, 6, 1), date(2026, 3, 15), "UTC")
    monthly, overall = retention_rate(store, window=window)
    assert monthly[-1]["period"] == "2026-03" and monthly[-1]["retention_rate"] is None
    assert overall["period"] == "2025-06 to 2026-02"


def test_shorter_activity_window(store: Engine) -> None:
    monthly, _ = retention_rate(store, window=Window(), active_months=3)
    for row in monthly[:6]:
        year, month = map(int, row["period"].split("-"))
        k = (year - 1970) * 12 + month - 1
        expected = reference.retention(store, k, active_months=3)
        assert {key: row[key] for key in expected} == expected


def test_the_first_year_of_data_says_no_one_can_have_lapsed_yet(store: Engine) -> None:
    monthly, _ = retention_rate(store, window=Window())
    first = reference.orders(store).month.min()
    for row in monthly:
        year, month = map(int, row["period"].split("-"))
        k = (year - 1970) * 12 + month - 1
        assert ("no one can have lapsed yet" in row["note"]) == (k < first + 12), row
