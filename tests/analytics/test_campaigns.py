"""Campaign conversion, revenue, uplift and engagement against pandas."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from scipy.stats import chi2_contingency, false_discovery_control
from sqlalchemy import Engine, insert

from analytics import charts
from analytics.campaigns import campaign_effects, campaign_report
from analytics.orders import Window
from analytics.stats import compare
from models import Customer, Message, Order
from tests.analytics import reference


@pytest.mark.parametrize("days", [7, 3])
def test_groups_conversion_and_revenue(store: Engine, days: int) -> None:
    rows, _ = campaign_effects(store, window=Window(), days=days)
    g = reference.campaign_groups(store, days=days)
    g = g[g.campaign == "newsletter"]
    got = {(r["period"], r["variant"]): r for r in rows}
    assert {p for p, _ in got} == set(g.period)
    for period, in_period in g.groupby("period"):
        held = in_period[in_period.status == "held_out"]
        for variant in ("all", "a", "b"):
            sent = in_period[in_period.status == "sent"]
            if variant != "all":
                sent = sent[sent.variant == variant]
            row = got[(period, variant)]
            assert (row["recipients"], row["holdout"]) == (len(sent), len(held))
            assert (row["converted"], row["holdout_converted"]) == (
                int(sent.converted.sum()),
                int(held.converted.sum()),
            )
            assert row["conversion"] == pytest.approx(sent.converted.mean())
            assert row["holdout_conversion"] == pytest.approx(held.converted.mean())
            assert row["revenue_per_recipient"] == pytest.approx(sent.revenue.sum() / len(sent))
            assert row["revenue_per_holdout"] == pytest.approx(held.revenue.sum() / len(held))
            c = compare(int(sent.converted.sum()), len(sent), int(held.converted.sum()), len(held))
            assert row["uplift"] == pytest.approx(c.uplift)
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((c.ci_low, c.ci_high))
            if c.test == "z":  # the pooled z-test is the chi-squared test without correction
                table = [
                    [sent.converted.sum(), len(sent) - sent.converted.sum()],
                    [held.converted.sum(), len(held) - held.converted.sum()],
                ]
                p = chi2_contingency(table, correction=False).pvalue
                assert row["p_value"] == pytest.approx(p)
            diff = sent.revenue.mean() - held.revenue.mean()
            assert row["revenue_uplift"] == pytest.approx(diff)
            assert row["revenue_ci_low"] < row["revenue_uplift"] < row["revenue_ci_high"]


def test_attribution_window_edges_are_exact_on_both_backends(engine: Engine) -> None:
    """After the send and up to the end of the window, both ends to the microsecond."""
    t0 = datetime(2026, 3, 5, 9, 30, 0, 123456, tzinfo=UTC)
    end = t0 + timedelta(days=7)
    orders = {1: end, 2: t0, 3: end + timedelta(microseconds=1), 4: t0 + timedelta(microseconds=1)}
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [{"id": c, "external_id": f"c{c}", "created_at": t0} for c in (1, 2, 3, 4, 5)],
        )
        conn.execute(
            insert(Order),
            [{"external_id": f"o{c}", "customer_id": c, "ordered_at": at, "total": 10.0, "items": 1}
             for c, at in orders.items()],
        )  # fmt: skip
        conn.execute(
            insert(Message),
            [{"campaign": "c", "period": "p", "customer_id": c, "channel": "email",
              "status": "held_out" if c == 5 else "sent", "send_at": t0,
              "sent_at": None if c == 5 else t0, "created_at": t0} for c in (1, 2, 3, 4, 5)],
        )  # fmt: skip
    [row] = campaign_effects(engine, window=Window())[0]
    assert (row["recipients"], row["converted"]) == (4, 2)  # customers 1 and 4
    assert row["revenue_per_recipient"] == 5.0


def test_engagement_counts_messages_once_per_kind(store: Engine) -> None:
    _, engagement = campaign_effects(store, window=Window())
    e = reference.engagement(store)
    e = e[e.campaign == "newsletter"]
    got = {(r["period"], r["variant"]): r for r in engagement}
    for (period, variant, kind), n in e.groupby(["period", "variant", "kind"]).size().items():
        assert got[(period, variant)][kind] == n
    for (period, kind), n in e.groupby(["period", "kind"]).size().items():
        assert got[(period, "all")][kind] == n


def test_periods_without_hold_out_are_named_not_compared(engine: Engine) -> None:
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(Customer), [{"id": 1, "external_id": "c1", "created_at": t0}])
        conn.execute(
            insert(Message),
            [{"campaign": name, "period": "p", "customer_id": 1, "channel": "email",
              "kind": kind, "status": "sent", "send_at": t0, "sent_at": t0, "created_at": t0}
             for name, kind in (("flash_sale", "promotion"), ("csat_after_ticket", "csat_survey"))],
        )  # fmt: skip
    report = campaign_report(engine, window=Window())
    assert report.main.rows == []
    assert [w for w in report.warnings if "without a hold-out" in w] == [
        "flash_sale: 1 period(s) sent without a hold-out, so their effect cannot be measured"
    ]  # surveys ask rather than sell: no hold-out expected


def test_window_selects_send_dates(store: Engine) -> None:
    rows, _ = campaign_effects(store, window=Window.of(date(2026, 1, 1), None, "UTC"))
    assert {r["period"] for r in rows} == {"2026-W10"}


def test_q_values_correct_every_comparison_shown_for_their_number(store: Engine) -> None:
    rows, _ = campaign_effects(store, window=Window())
    tested = [r for r in rows if r["p_value"] is not None]
    assert len(tested) > 2
    expected = false_discovery_control([r["p_value"] for r in tested], method="bh")
    assert [r["q_value"] for r in tested] == pytest.approx(list(expected))
    assert all(r["significant"] == (r["q_value"] < 0.05) for r in tested)


def test_a_window_not_observed_yet_shows_no_rates(engine: Engine) -> None:
    """Orders after the latest one in the store cannot be known: a period whose attribution
    window reaches past it would count them as customers who did not buy."""
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [{"id": c, "external_id": f"c{c}", "created_at": t0} for c in range(1, 5)],
        )
        conn.execute(
            insert(Message),
            [{"campaign": "c", "period": "p", "customer_id": c, "channel": "email",
              "status": "held_out" if c == 4 else "sent", "send_at": t0,
              "sent_at": None if c == 4 else t0, "created_at": t0} for c in range(1, 5)],
        )  # fmt: skip
        conn.execute(
            insert(Order),
            [{"external_id": "o1", "customer_id": 1, "ordered_at": t0 + timedelta(days=6),
              "total": 10.0, "items": 1}],
        )  # fmt: skip
    [row] = campaign_effects(engine, window=Window())[0]
    assert row["recipients"] == 3 and row["converted"] == 1  # counts stay
    assert row["conversion"] is row["uplift"] is row["ci_low"] is row["p_value"] is None
    assert row["warning"].startswith("not observed yet") and not row["significant"]
    report = campaign_report(engine, window=Window())
    assert any("not observed yet" in w for w in report.warnings)
    with engine.begin() as conn:  # a later order somewhere in the store: now it is observed
        conn.execute(
            insert(Order),
            [{"external_id": "o2", "customer_id": 2, "ordered_at": t0 + timedelta(days=8),
              "total": 10.0, "items": 1}],
        )  # fmt: skip
    [row] = campaign_effects(engine, window=Window())[0]
    assert row["conversion"] == pytest.approx(1 / 3) and row["warning"] != ""


def test_forest_plot_colours_only_what_survives_the_correction() -> None:
    items = [
        ("real", 0.05, 0.02, 0.08, "tip", True),
        ("noise above zero", 0.04, 0.001, 0.08, "tip", False),
        ("harm", -0.05, -0.08, -0.02, "tip", True),
        ("nothing", 0.0, -0.03, 0.03, "tip", False),
    ]
    svg = charts.intervals(items, label="uplift")
    dots = re.findall(r'<circle [^>]*fill="(#[0-9a-f]+)"', svg)
    assert dots == ["#16a34a", "#6b7280", "#dc2626", "#6b7280"]
