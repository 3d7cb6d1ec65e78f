"""Repeat-purchase rate and the customer retention rate (E - N) / S against pandas."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from analytics.localtime import month_label
from analytics.orders import Window
from analytics.repeat import repeat_rate, retention_rate
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
        assert got[key]["repeat_rate"] == round(repeaters / customers, 4)


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
    for row in monthly:
        year, month = map(int, row["period"].split("-"))
        k = (year - 1970) * 12 + month - 1
        expected = reference.retention(store, k)
        assert {key: row[key] for key in expected} == expected
        s, e, n = expected["start_customers"], expected["end_customers"], expected["new_customers"]
        assert row["retention_rate"] == round((e - n) / s, 4)
    assert overall is not None


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
    assert (overall["start_customers"], overall["end_customers"], overall["new_customers"]) == (
        start,
        end,
        new,
    )
    assert overall["retention_rate"] == round((end - new) / start, 4)
    assert month_label(k1) == "2025-06"


def test_shorter_activity_window(store: Engine) -> None:
    monthly, _ = retention_rate(store, window=Window(), active_months=3)
    for row in monthly[:6]:
        year, month = map(int, row["period"].split("-"))
        k = (year - 1970) * 12 + month - 1
        expected = reference.retention(store, k, active_months=3)
        assert {key: row[key] for key in expected} == expected
