"""Plain pandas versions of every measure, written from the definitions, not from the SQL.

They read the raw tables back (every row, no filter in SQL) and apply the definitions
in Python, so a mistake in the queries cannot hide in both.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from sqlalchemy import Engine, select

from models import Customer, Interaction, Message, Order, SegmentMember, SurveyAnswer


def frame(engine: Engine, *columns) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        result = conn.execute(select(*columns))
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def orders(engine: Engine, zone: str = "UTC") -> pd.DataFrame:
    """Orders as defined: a customer, total > 0, items > 0; with local month and day."""
    o = frame(engine, Order.customer_id, Order.ordered_at, Order.total, Order.items)
    o = o[o.customer_id.notna() & (o.total > 0) & (o["items"] > 0)].copy()
    o["customer_id"] = o.customer_id.astype(int)
    o["ordered_at"] = pd.to_datetime(o.ordered_at, utc=True)
    local = o.ordered_at.dt.tz_convert(zone)
    o["month"] = (local.dt.year - 1970) * 12 + local.dt.month - 1
    o["day"] = (local.dt.tz_localize(None).dt.normalize() - pd.Timestamp("1970-01-01")).dt.days
    return o


def cohorts(engine: Engine, zone: str = "UTC") -> dict[int, dict[int, int]]:
    """{cohort month: {k: customers who ordered in month cohort + k}}."""
    o = orders(engine, zone)
    first = o.groupby("customer_id").month.min()
    o["cohort"] = o.customer_id.map(first)
    o["k"] = o.month - o.cohort
    active = o.drop_duplicates(["customer_id", "k"]).groupby(["cohort", "k"]).size()
    out: dict[int, dict[int, int]] = {}
    for (cohort, k), n in active.items():
        out.setdefault(int(cohort), {})[int(k)] = int(n)
    return out


def repeat(engine: Engine, by: str = "none") -> dict[str, tuple[int, int]]:
    """{group: (customers with an order, customers with two or more)}."""
    o = orders(engine)
    per = o.groupby("customer_id").size()
    if by == "none":
        return {"all": (len(per), int((per >= 2).sum()))}
    c = frame(engine, Customer.id, getattr(Customer, by)).set_index("id")[by]
    key = per.index.map(c).fillna("unknown")
    grouped = per.groupby(key)
    return {g: (len(v), int((v >= 2).sum())) for g, v in grouped}


def retention(engine: Engine, k: int, active_months: int = 12) -> dict[str, int]:
    """S, E, N and churned for month ``k`` straight from the definition, with sets."""
    o = orders(engine)
    months = o.groupby("customer_id").month.apply(set)

    def active_at_start(m: int) -> set[int]:
        return {c for c, ms in months.items() if any(m - active_months <= x < m for x in ms)}

    s, e = active_at_start(k), active_at_start(k + 1)
    first = o.groupby("customer_id").month.min()
    return {
        "start_customers": len(s),
        "end_customers": len(e),
        "new_customers": int((first == k).sum()),
        "churned": len(s - e),
    }


def retained(engine: Engine, k1: int, k2: int, active_months: int = 12) -> int:
    """Customers active at the start of every month from ``k1`` to ``k2 + 1``: active at
    the start of the period and at its end without lapsing in between."""
    o = orders(engine)
    months = o.groupby("customer_id").month.apply(set)

    def active_at_start(m: int) -> set[int]:
        return {c for c, ms in months.items() if any(m - active_months <= x < m for x in ms)}

    kept = active_at_start(k1)
    for m in range(k1 + 1, k2 + 2):
        kept &= active_at_start(m)
    return len(kept)


def segment_retention(engine: Engine, zone: str = "UTC") -> dict[tuple[str, date], dict]:
    """{(segment, as_of): members, buyers within 30/60/90 days, revenue within, observed}."""
    o = orders(engine, zone)
    members = frame(engine, SegmentMember.segment, SegmentMember.as_of, SegmentMember.customer_id)
    last_day = int(o.day.max())
    out = {}
    for (segment, as_of), group in members.groupby(["segment", "as_of"]):
        as_of = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of))
        day0 = (as_of - date(1970, 1, 1)).days
        joined = o[o.customer_id.isin(set(group.customer_id))]
        after = joined.day - day0
        row = {"members": len(group), "observed": max(0, min(90, last_day - day0))}
        for d in (30, 60, 90):
            inside = joined[(after >= 1) & (after <= d)]
            row[f"buyers_{d}"] = inside.customer_id.nunique()
            row[f"revenue_{d}"] = float(inside.total.sum())
        out[(segment, as_of)] = row
    return out


def campaign_groups(engine: Engine, days: int = 7) -> pd.DataFrame:
    """One row per (campaign, period, customer, status) with converted and revenue."""
    m = frame(
        engine,
        Message.campaign,
        Message.period,
        Message.customer_id,
        Message.status,
        Message.variant,
        Message.sent_at,
        Message.send_at,
    )
    m = m[m.status.isin(["sent", "held_out"])].copy()
    m["t0"] = pd.to_datetime(m.sent_at.where(m.status == "sent", m.send_at), utc=True)
    m = m[m.t0.notna()]
    g = (
        m.groupby(["campaign", "period", "customer_id", "status"], dropna=False)
        .agg(t0=("t0", "min"), variant=("variant", "min"))
        .reset_index()
    )
    o = orders(engine)
    joined = g.merge(o[["customer_id", "ordered_at", "total"]], on="customer_id", how="left")
    hit = (joined.ordered_at > joined.t0) & (joined.ordered_at <= joined.t0 + timedelta(days=days))
    joined["revenue"] = joined.total.where(hit, 0.0)
    joined["converted"] = hit
    keys = ["campaign", "period", "customer_id", "status"]
    out = joined.groupby(keys).agg(converted=("converted", "any"), revenue=("revenue", "sum"))
    return out.reset_index().merge(g[[*keys, "variant"]], on=keys)


def engagement(engine: Engine) -> pd.DataFrame:
    i = frame(engine, Interaction.message_id, Interaction.kind)
    m = frame(engine, Message.id, Message.campaign, Message.period, Message.variant, Message.status)
    j = i.merge(m, left_on="message_id", right_on="id")
    return j[j.status == "sent"].drop_duplicates(["message_id", "kind"])


def answers(engine: Engine, zone: str = "UTC") -> pd.DataFrame:
    a = frame(
        engine,
        SurveyAnswer.customer_id,
        SurveyAnswer.survey,
        SurveyAnswer.kind,
        SurveyAnswer.score,
        SurveyAnswer.answered_at,
    )
    local = pd.to_datetime(a.answered_at, utc=True).dt.tz_convert(zone)
    a["month"] = local.dt.strftime("%Y-%m")
    return a


def csat_of(group: pd.DataFrame) -> tuple[int, float | None, int, float | None]:
    """(CSAT answers, CSAT, NPS answers, NPS) of a group of answers."""
    c = group[(group.kind == "csat") & group.score.between(1, 5)]
    n = group[(group.kind == "nps") & group.score.between(0, 10)]
    csat = (c.score >= 4).mean() if len(c) else None
    nps = 100 * ((n.score >= 9).mean() - (n.score <= 6).mean()) if len(n) else None
    return len(c), csat, len(n), nps
