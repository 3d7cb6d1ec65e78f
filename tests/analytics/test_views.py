"""The BI views give the numbers the reports give (UTC, 7-day window)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from analytics.campaigns import campaign_effects
from analytics.cohorts import cohort_table
from analytics.csat import csat_by_survey_month
from analytics.orders import Window
from analytics.segments import segment_outcomes
from tests.analytics import reference


def rows(engine: Engine, sql: str) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()


def test_customer_orders_is_the_order_definition(store: Engine) -> None:
    o = reference.orders(store)
    [(n, total)] = rows(store, "SELECT count(*), sum(total) FROM v_customer_orders")
    assert n == len(o) and total == pytest.approx(o.total.sum())


def test_cohort_view_matches_the_report(store: Engine) -> None:
    report = {c["cohort"]: c for c in cohort_table(store)}
    view = rows(
        store,
        "SELECT cohort, month_number, customers, cohort_size, retention FROM v_cohort_retention",
    )
    nonzero = sum(1 for c in report.values() for n in c["customers"] if n)
    assert len(view) == nonzero  # months in which nobody ordered have no row
    for cohort, k, customers, size, retention in view:
        assert customers == report[cohort]["customers"][k]
        assert size == report[cohort]["size"]
        assert retention == pytest.approx(customers / size)


def test_segment_view_matches_the_report(store: Engine) -> None:
    outcomes = segment_outcomes(store, window=Window())
    view = rows(
        store,
        "SELECT segment, as_of, count(*), sum(ordered_30d), sum(ordered_90d), sum(revenue_90d) "
        "FROM v_segment_retention GROUP BY segment, as_of",
    )
    assert len(view) == len(outcomes)
    for segment, as_of, members, o30, o90, revenue in view:
        o = outcomes[(segment, _date(as_of))]
        assert (members, o30, o90) == (o.members, o.ordered_within(30), o.ordered_within(90))
        assert revenue == pytest.approx(o.revenue[90])


def _date(value):  # type: ignore[no-untyped-def]
    from datetime import date

    return value if isinstance(value, date) else date.fromisoformat(value)


def test_campaign_view_matches_the_report(store: Engine) -> None:
    report, _ = campaign_effects(store, window=Window())
    view = rows(
        store,
        "SELECT period, grp, count(*), sum(converted), sum(revenue) FROM v_campaign_outcomes "
        "WHERE campaign = 'newsletter' GROUP BY period, grp",
    )
    by_period = {r["period"]: r for r in report if r["variant"] == "all"}
    for period, group, customers, converted, revenue in view:
        r = by_period[period]
        if group == "sent":
            assert (customers, converted) == (r["recipients"], r["converted"])
            assert revenue / customers == pytest.approx(r["revenue_per_recipient"], abs=0.005)
        else:
            assert (customers, converted) == (r["holdout"], r["holdout_converted"])


def test_survey_view_matches_the_report(store: Engine) -> None:
    report = {(r["survey"], r["month"]): r for r in csat_by_survey_month(store, window=Window())}
    view = rows(
        store,
        "SELECT survey, month, csat_answers, satisfied, nps_answers, promoters, detractors FROM v_survey_scores",
    )
    counted = [v for v in view if v[2] or v[4]]
    assert len(counted) == len(report)
    for survey, month, n_csat, satisfied, n_nps, promoters, detractors in counted:
        r = report[(survey, month)]
        assert (n_csat, satisfied, n_nps, promoters, detractors) == (
            r["csat_answers"], r["satisfied"], r["nps_answers"], r["promoters"], r["detractors"],
        )  # fmt: skip


def test_downgrade_drops_the_views_and_upgrade_restores_them(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from models.db import alembic_config, get_engine

    views = {"v_customer_orders", "v_cohort_retention", "v_segment_retention",
             "v_campaign_outcomes", "v_survey_scores"}  # fmt: skip
    engine = get_engine(database_url)
    assert views <= set(inspect(engine).get_view_names())
    command.downgrade(alembic_config(database_url), "0001")
    try:
        assert not views & set(inspect(engine).get_view_names())
    finally:
        command.upgrade(alembic_config(database_url), "head")
    assert views <= set(inspect(engine).get_view_names())
