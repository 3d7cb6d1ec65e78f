"""Campaign effect: recipients against the hold-out of the same campaign period."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, and_, case, func, literal, select

from analytics.orders import DEFINITION, ORD, counted, instant
from analytics.report import Report
from analytics.stats import compare
from models.campaigns import Message
from models.sqltime import plus_days
from models.store import Interaction, Order

M = Message.__table__.c
I = Interaction.__table__.c  # noqa: E741
ENGAGEMENT = ("delivered", "bounced", "complained", "opened", "clicked", "unsubscribed")
TEXT = (
    "Campaign effect: recipients (messages sent) against the hold-out of the same campaign period. Conversion: "
    "an order within the attribution window after the send (the planned send time for the hold-out). Uplift: "
    "difference of conversion rates with a 95 % Newcombe interval and a two-proportion z-test (Fisher's exact "
    "test for small counts); relative uplift with a log risk-ratio interval. " + DEFINITION
)


def outcomes(
    engine: Engine, *, window: int = 7, start: date | None = None, end: date | None = None
) -> list[tuple]:
    """(campaign, period, variant, group, customers, converted, revenue) per group."""
    t0 = func.coalesce(M.sent_at, M.send_at)
    per_message = (
        select(
            M.id,
            M.campaign,
            M.period,
            M.variant,
            M.status,
            func.count(ORD.id).label("orders"),
            func.coalesce(func.sum(ORD.total), 0.0).label("revenue"),
        )
        .select_from(Message.__table__)
        .outerjoin(
            Order.__table__,
            and_(
                ORD.customer_id == M.customer_id,
                counted(),
                ORD.ordered_at > t0,
                ORD.ordered_at <= plus_days(t0, literal(window)),
            ),
        )
        .where(M.status.in_(("sent", "held_out")), t0.is_not(None))
        .group_by(M.id, M.campaign, M.period, M.variant, M.status)
    )
    if start:
        per_message = per_message.where(t0 >= instant(start))
    if end:
        per_message = per_message.where(t0 < instant(end))
    p = per_message.subquery()
    query = (
        select(
            p.c.campaign,
            p.c.period,
            p.c.variant,
            p.c.status,
            func.count(),
            func.sum(case((p.c.orders > 0, 1), else_=0)),
            func.sum(p.c.revenue),
        )
        .group_by(p.c.campaign, p.c.period, p.c.variant, p.c.status)
        .order_by(p.c.campaign, p.c.period, p.c.variant)
    )
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def engagement(engine: Engine) -> dict[tuple[str, str], dict[str, int]]:
    query = (
        select(M.campaign, M.period, I.kind, func.count(func.distinct(I.message_id)))
        .join(Message.__table__, M.id == I.message_id)
        .where(I.kind.in_(ENGAGEMENT))
        .group_by(M.campaign, M.period, I.kind)
    )
    out: dict[tuple[str, str], dict[str, int]] = {}
    with engine.connect() as conn:
        for campaign, period, kind, n in conn.execute(query):
            out.setdefault((campaign, period), {})[kind] = n
    return out


def campaign_effects(
    engine: Engine,
    *,
    window: int = 7,
    start: date | None = None,
    end: date | None = None,
    by_variant: bool = True,
) -> list[dict]:
    groups: dict[tuple[str, str], dict] = {}
    for campaign, period, variant, status, n, x, revenue in outcomes(
        engine, window=window, start=start, end=end
    ):
        g = groups.setdefault((campaign, period), {"sent": {}, "holdout": [0, 0, 0.0]})
        if status == "held_out":
            h = g["holdout"]
            h[0], h[1], h[2] = h[0] + n, h[1] + int(x), h[2] + float(revenue)
        else:
            s = g["sent"].setdefault(variant or "all", [0, 0, 0.0])
            s[0], s[1], s[2] = s[0] + n, s[1] + int(x), s[2] + float(revenue)
    engaged = engagement(engine)
    rows = []
    for (campaign, period), g in sorted(groups.items()):
        variants = dict(g["sent"])
        if len(variants) > 1 or "all" not in variants:
            total = [sum(v[i] for v in variants.values()) for i in range(3)]
            variants = {"all": total, **(variants if by_variant else {})}
        n_c, x_c, rev_c = g["holdout"]
        for variant, (n_t, x_t, rev_t) in variants.items():
            c = compare(x_t, n_t, x_c, n_c)
            rows.append(
                {
                    "campaign": campaign,
                    "period": period,
                    "variant": variant,
                    "recipients": n_t,
                    "holdout": n_c,
                    "conversion": round(c.p_t, 4),
                    "holdout_conversion": round(c.p_c, 4),
                    "uplift": round(c.uplift, 4),
                    "ci_low": round(c.ci_low, 4),
                    "ci_high": round(c.ci_high, 4),
                    "relative_uplift": None if c.relative is None else round(c.relative, 4),
                    "p_value": round(c.p_value, 4),
                    "revenue_per_recipient": round(rev_t / n_t, 2) if n_t else 0.0,
                    "revenue_per_holdout": round(rev_c / n_c, 2) if n_c else 0.0,
                    "warning": c.warning or "",
                    **{
                        k: engaged.get((campaign, period), {}).get(k, 0)
                        for k in ENGAGEMENT
                        if variant == "all"
                    },
                }
            )
    return rows


def campaign_report(
    engine: Engine, *, window: int = 7, start: date | None = None, end: date | None = None
) -> Report:
    rows = campaign_effects(engine, window=window, start=start, end=end)
    columns = [
        "campaign", "period", "variant", "recipients", "holdout", "conversion", "holdout_conversion", "uplift",
        "ci_low", "ci_high", "relative_uplift", "p_value", "revenue_per_recipient", "revenue_per_holdout", "warning",
    ]  # fmt: skip
    return Report(
        "campaigns",
        f"Campaign uplift against hold-out ({window}-day attribution)",
        columns,
        rows,
        TEXT,
    )
