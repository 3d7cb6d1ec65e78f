"""Every measure agrees with an independent pandas computation on the same rows."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from analytics.campaigns import campaign_effects
from analytics.cohorts import cohort_table
from analytics.csat import csat_table
from analytics.repeat import repeat_rate, retention_rate
from analytics.segments import segment_retention
from models import Message, Order, SegmentMember, SurveyAnswer


def frame(engine: Engine, query) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def orders(engine: Engine) -> pd.DataFrame:
    o = frame(engine, select(Order.customer_id, Order.ordered_at, Order.total, Order.items))
    o = o[o.customer_id.notna() & (o.total > 0) & (o["items"] > 0)].copy()
    o["ordered_at"] = pd.to_datetime(o.ordered_at, utc=True)
    o["month"] = o.ordered_at.dt.year * 12 + o.ordered_at.dt.month
    return o


def test_cohorts(loaded: Engine) -> None:
    o = orders(loaded)
    first = o.groupby("customer_id").month.min().rename("cohort")
    o = o.join(first, on="customer_id")
    o["k"] = o.month - o.cohort
    active = o.drop_duplicates(["customer_id", "k"]).groupby(["cohort", "k"]).customer_id.count()
    got = cohort_table(loaded)
    assert len(got) == first.nunique()
    for row, cohort in zip(got, sorted(first.unique()), strict=True):
        size = active[(cohort, 0)]
        assert row["size"] == size
        for k, share in enumerate(row["retention"]):
            assert share == pytest.approx(active.get((cohort, k), 0) / size)


def test_repeat_and_retention_rate(loaded: Engine) -> None:
    o = orders(loaded)
    per = o.groupby("customer_id").size()
    [overall] = repeat_rate(loaded)
    assert overall["customers"] == len(per) and overall["repeat_customers"] == int((per >= 2).sum())
    monthly = {r["month"]: r for r in retention_rate(loaded)}
    by_month = o.groupby("month").customer_id.apply(set)
    first = o.groupby("customer_id").month.min()
    for m in by_month.index:
        if m - 1 in by_month.index:
            s, e = by_month[m - 1], by_month[m]
            n = int((first == m).sum())
            label = f"{(m - 1) // 12:04d}-{(m - 1) % 12 + 1:02d}"
            assert monthly[label]["retention_rate"] == round((len(e) - n) / len(s), 4)


def test_segment_retention(loaded: Engine) -> None:
    o = orders(loaded)
    members = frame(
        loaded, select(SegmentMember.segment, SegmentMember.as_of, SegmentMember.customer_id)
    )
    got = {(r["segment"], r["as_of"]): r for r in segment_retention(loaded)}
    for (segment, as_of), group in list(members.groupby(["segment", "as_of"]))[:12]:
        start = pd.Timestamp(as_of, tz="UTC")
        joined = o.merge(group[["customer_id"]], on="customer_id")
        days = (joined.ordered_at.dt.normalize() - start).dt.days
        joined = joined[(days >= 1) & (days <= 90)].assign(days=days)
        row = got[(segment, str(as_of))]
        assert row["members"] == len(group)
        for window in (30, 60, 90):
            buyers = joined[joined.days <= window].customer_id.nunique()
            assert row[f"ordered_{window}d"] == round(buyers / len(group), 4)
        assert row["revenue_per_member_90d"] == round(joined.total.sum() / len(group), 2)


def test_campaign_conversion_counts(loaded: Engine) -> None:
    o = orders(loaded)
    m = frame(
        loaded,
        select(
            Message.customer_id, Message.status, Message.variant, Message.sent_at, Message.send_at
        ),
    )
    m["t0"] = pd.to_datetime(m.sent_at.fillna(m.send_at), utc=True)
    merged = m.merge(o, on="customer_id", how="left")
    hit = (merged.ordered_at > merged.t0) & (merged.ordered_at <= merged.t0 + timedelta(days=7))
    merged["converted"] = hit
    conv = (
        merged.groupby(["customer_id", "status", "variant"], dropna=False)
        .converted.any()
        .reset_index()
    )
    rows = {r["variant"]: r for r in campaign_effects(loaded)}
    treated, control = conv[conv.status == "sent"], conv[conv.status == "held_out"]
    assert rows["all"]["recipients"] == len(treated) and rows["all"]["holdout"] == len(control)
    assert rows["all"]["conversion"] == round(treated.converted.mean(), 4)
    assert rows["all"]["holdout_conversion"] == round(control.converted.mean(), 4)
    assert rows["a"]["conversion"] == round(treated[treated.variant == "a"].converted.mean(), 4)


def test_csat_and_nps(loaded: Engine) -> None:
    a = frame(loaded, select(SurveyAnswer.survey, SurveyAnswer.kind, SurveyAnswer.score))
    rows = {r["survey"]: r for r in csat_table(loaded)}
    for survey, group in a.groupby("survey"):
        csat = group[(group.kind == "csat") & group.score.between(1, 5)]
        nps = group[(group.kind == "nps") & group.score.between(0, 10)]
        if len(csat):
            assert rows[survey]["csat"] == round((csat.score >= 4).mean(), 4)
        if len(nps):
            assert rows[survey]["nps"] == round(
                100 * ((nps.score >= 9).mean() - (nps.score <= 6).mean()), 1
            )


def test_bi_views_give_the_report_numbers(loaded: Engine) -> None:
    from sqlalchemy import text

    with loaded.connect() as conn:
        view = conn.execute(text("SELECT cohort, month, retention FROM v_cohort_retention")).all()
        groups = dict(
            conn.execute(
                text("SELECT status, sum(customers) FROM v_campaign_groups GROUP BY status")
            ).all()
        )
    by_cohort = {row["cohort"]: row["retention"] for row in cohort_table(loaded)}
    assert len(view) == sum(
        1 for rs in by_cohort.values() for r in rs if r
    )  # empty cells have no row
    for cohort, month, retention in view:
        assert retention == pytest.approx(by_cohort[cohort][month])
    rows = {r["variant"]: r for r in campaign_effects(loaded)}
    assert (
        groups["sent"] == rows["all"]["recipients"] and groups["held_out"] == rows["all"]["holdout"]
    )
