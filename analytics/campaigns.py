"""Campaign effect: recipients against the hold-out of the same campaign period."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, case, func, select

from analytics.connection import reading
from analytics.orders import DEFINITION, ORD, Window, counted
from analytics.report import Report, Table
from analytics.stats import CONFIDENCE, benjamini_hochberg, compare, welch
from models.base import table
from models.campaigns import SURVEY_KINDS, Message, MessageStatus
from models.dialect import shift_days
from models.store import Interaction, Order

M = table(Message).c
I = table(Interaction).c  # noqa: E741
ENGAGEMENT = ("delivered", "bounced", "complained", "opened", "clicked", "unsubscribed")
DEFAULT_WINDOW = 7
TEXT = (
    "Campaign effect: for each campaign period, the customers it was sent to (ledger status "
    "sent) against its hold-out (status held_out), which was chosen by a stable hash and sent "
    "nothing. A customer converts with an order within the attribution window (default 7 "
    "days) after the send: the first sent_at of their messages, or the planned send_at for "
    "the hold-out. Uplift is the difference of conversion rates with a 95 % Newcombe "
    "(hybrid score) interval and a two-sided p-value (pooled z-test; Fisher's exact test when "
    "an expected count is below 5); the q-value adjusts the p-values of all comparisons shown "
    "for their number (Benjamini-Hochberg), and only comparisons with q below 5 % are "
    "significant, so at most 5 % of what is flagged is expected to be noise; a period whose "
    "attribution window reaches past the latest order in the store is not observed yet and "
    "shows no rates; relative uplift is the ratio of rates minus 1 with a "
    "log-ratio interval; mde is the smallest uplift the groups would find 80 % of the time. "
    "Revenue per customer is compared with Welch's interval. Each variant is compared with "
    "the whole hold-out of its period. Engagement: sent messages (a customer may get an email "
    "and a push) and how many had at least one provider event of each kind."
)


def outcomes(engine: Engine, *, window: Window, days: int = DEFAULT_WINDOW) -> list[tuple]:
    """(campaign, period, variant, group, customers, converted, revenue, revenue², last t0)."""
    with reading(engine) as conn:
        t0 = case((M.status == MessageStatus.sent, M.sent_at), else_=M.send_at)
        # Only periods with a hold-out can be measured (surveys have none): skip the rest.
        measured = (
            select(M.campaign, M.period)
            .where(M.status == MessageStatus.held_out)
            .distinct()
            .subquery()
        )
        with_holdout = table(Message).join(
            measured, and_(measured.c.campaign == M.campaign, measured.c.period == M.period)
        )
        per_customer = (
            select(
                M.campaign,
                M.period,
                M.customer_id,
                M.status,
                func.min(M.variant).label("variant"),
                func.min(t0).label("t0"),
            )
            .select_from(with_holdout)
            .where(M.status.in_((MessageStatus.sent, MessageStatus.held_out)), t0.is_not(None))
            .group_by(M.campaign, M.period, M.customer_id, M.status)
        )
        if window.start_at:
            per_customer = per_customer.where(t0 >= window.start_at)
        if window.end_at:
            per_customer = per_customer.where(t0 < window.end_at)
        r = per_customer.subquery()
        converted = (
            select(
                r.c.campaign,
                r.c.period,
                r.c.variant,
                r.c.status,
                r.c.t0,
                func.count(ORD.id).label("orders"),
                func.coalesce(func.sum(ORD.total), 0.0).label("revenue"),
            )
            .select_from(r)
            .outerjoin(
                table(Order),
                and_(
                    ORD.customer_id == r.c.customer_id,
                    counted(),
                    ORD.ordered_at > r.c.t0,
                    ORD.ordered_at <= shift_days(r.c.t0, days),
                ),
            )
            .group_by(r.c.campaign, r.c.period, r.c.customer_id, r.c.status, r.c.variant, r.c.t0)
            .subquery()
        )
        c = converted.c
        query = (
            select(
                c.campaign,
                c.period,
                c.variant,
                c.status,
                func.count(),
                func.sum(case((c.orders > 0, 1), else_=0)),
                func.sum(c.revenue),
                func.sum(c.revenue * c.revenue),
                func.max(c.t0),
            )
            .group_by(c.campaign, c.period, c.variant, c.status)
            .order_by(c.campaign, c.period)
        )
        return [tuple(row) for row in conn.execute(query)]


def engagement(engine: Engine, *, window: Window) -> dict[tuple[str, str, str | None], dict]:
    """{(campaign, period, variant): {"messages": sent, kind: messages with that event}}."""
    query = (
        select(M.campaign, M.period, M.variant, I.kind, func.count(func.distinct(I.message_id)))
        .join(table(Message), M.id == I.message_id)
        .where(I.kind.in_(ENGAGEMENT), M.status == MessageStatus.sent)
        .group_by(M.campaign, M.period, M.variant, I.kind)
    )
    sent = (
        select(M.campaign, M.period, M.variant, func.count())
        .where(M.status == MessageStatus.sent)
        .group_by(M.campaign, M.period, M.variant)
    )
    if window.start_at:
        query = query.where(M.sent_at >= window.start_at)
        sent = sent.where(M.sent_at >= window.start_at)
    if window.end_at:
        query = query.where(M.sent_at < window.end_at)
        sent = sent.where(M.sent_at < window.end_at)
    out: dict[tuple[str, str, str | None], dict] = {}
    with reading(engine) as conn:
        for campaign, period, variant, n in conn.execute(sent):
            out.setdefault((campaign, period, variant), {})["messages"] = int(n)
        for campaign, period, variant, kind, n in conn.execute(query):
            out.setdefault((campaign, period, variant), {})[kind] = int(n)
    return out


Group = list[float]  # customers, converted, revenue, revenue squared


def _add(into: Group, row: Sequence[float | None]) -> None:
    for i, value in enumerate(row):
        into[i] += float(value or 0)


def orders_known_until(engine: Engine) -> datetime | None:
    """The latest order time in the store: no conversion after it can be known yet."""
    with reading(engine) as conn:
        return conn.execute(select(func.max(ORD.ordered_at))).scalar()


def campaign_effects(
    engine: Engine, *, window: Window, days: int = DEFAULT_WINDOW
) -> tuple[list[dict], list[dict]]:
    """(uplift rows, engagement rows): per campaign period, all recipients and each variant."""
    periods: dict[tuple[str, str], dict] = {}
    for campaign, period, variant, status, *numbers, last in outcomes(
        engine, window=window, days=days
    ):
        p = periods.setdefault(
            (campaign, period),
            {MessageStatus.sent: {}, MessageStatus.held_out: [0.0] * 4, "last": last},
        )
        p["last"] = max(p["last"], last)
        if status == MessageStatus.held_out:
            _add(p[MessageStatus.held_out], numbers)
        else:
            _add(p[MessageStatus.sent].setdefault(variant, [0.0] * 4), numbers)
    engaged = engagement(engine, window=window)
    known = orders_known_until(engine)
    rows, engagement_rows = [], []
    for (campaign, period), p in sorted(periods.items()):
        if not p[MessageStatus.held_out][0]:
            continue  # held out before the window only: nothing to compare with
        ends = p["last"] + timedelta(days=days)
        unobserved = (
            f"not observed yet: the attribution window of the last send ends {ends:%Y-%m-%d %H:%M} "
            f"UTC, orders are known until {known:%Y-%m-%d %H:%M} UTC"
            if known is None or ends > known
            else None
        )
        groups: dict[str, Group] = {"all": [0.0] * 4}
        for numbers in p[MessageStatus.sent].values():
            _add(groups["all"], numbers)
        named = sorted(v for v in p[MessageStatus.sent] if v is not None)
        if len(p[MessageStatus.sent]) > 1 or named:
            groups.update({v: p[MessageStatus.sent][v] for v in named})
        for variant, treated in groups.items():
            row = _row(treated, p[MessageStatus.held_out], unobserved)
            rows.append({"campaign": campaign, "period": period, "variant": variant, **row})
            events: dict[str, int] = {}
            for (c, per, v), kinds in engaged.items():
                if (c, per) == (campaign, period) and (variant == "all" or v == variant):
                    for kind, n in kinds.items():
                        events[kind] = events.get(kind, 0) + n
            engagement_rows.append(
                {
                    "campaign": campaign,
                    "period": period,
                    "variant": variant,
                    "recipients": int(treated[0]),
                    **{kind: events.get(kind, 0) for kind in ("messages", *ENGAGEMENT)},
                }
            )
    q_values = benjamini_hochberg([r["p_value"] for r in rows])
    for r, q in zip(rows, q_values, strict=True):
        r["q_value"] = q
        r["significant"] = q is not None and q < 1 - CONFIDENCE
    return rows, engagement_rows


def unmeasured(engine: Engine, *, window: Window) -> dict[str, int]:
    """{campaign: periods sent without any hold-out}; surveys ask rather than sell, so they
    are left out."""
    sent = select(M.campaign, M.period).where(
        M.status == MessageStatus.sent, M.kind.not_in(SURVEY_KINDS)
    )
    if window.start_at:
        sent = sent.where(M.sent_at >= window.start_at)
    if window.end_at:
        sent = sent.where(M.sent_at < window.end_at)
    held = select(M.campaign, M.period).where(M.status == MessageStatus.held_out)
    periods = sent.except_(held).subquery()
    query = select(periods.c.campaign, func.count()).group_by(periods.c.campaign)
    with reading(engine) as conn:
        return {c: int(n) for c, n in conn.execute(query.order_by(periods.c.campaign))}


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


MEASURES = (
    "conversion", "holdout_conversion", "uplift", "ci_low", "ci_high", "relative_uplift",
    "relative_ci_low", "relative_ci_high", "p_value", "mde", "revenue_per_recipient",
    "revenue_per_holdout", "revenue_uplift", "revenue_ci_low", "revenue_ci_high",
)  # fmt: skip


def _row(treated: Group, held: Group, unobserved: str | None) -> dict:
    """Counts, rates and their comparison; rates are not available for an unobserved window
    (the missing orders would read as customers who did not convert)."""
    n_t, x_t, rev_t, sq_t = treated
    n_c, x_c, rev_c, sq_c = held
    counts = {
        "recipients": int(n_t),
        "holdout": int(n_c),
        "converted": int(x_t),
        "holdout_converted": int(x_c),
    }
    if unobserved:
        return {**counts, **dict.fromkeys(MEASURES), "test": "", "warning": unobserved}
    c = compare(int(x_t), int(n_t), int(x_c), int(n_c))
    money = welch(int(n_t), rev_t, sq_t, int(n_c), rev_c, sq_c)
    return {
        **counts,
        "conversion": c.p_t if n_t else None,
        "holdout_conversion": c.p_c if n_c else None,
        "uplift": c.uplift if n_t and n_c else None,
        "ci_low": _number(c.ci_low),
        "ci_high": _number(c.ci_high),
        "relative_uplift": c.relative,
        "relative_ci_low": c.rel_low,
        "relative_ci_high": c.rel_high,
        "p_value": c.p_value,
        "test": c.test,
        "mde": c.mde,
        "revenue_per_recipient": rev_t / n_t if n_t else None,
        "revenue_per_holdout": rev_c / n_c if n_c else None,
        "revenue_uplift": money.difference if money else None,
        "revenue_ci_low": money.low if money else None,
        "revenue_ci_high": money.high if money else None,
        "warning": c.warning or "",
    }


UPLIFT_COLUMNS = [
    "campaign", "period", "variant", "recipients", "holdout", "converted", "holdout_converted",
    "conversion", "holdout_conversion", "uplift", "ci_low", "ci_high", "relative_uplift",
    "relative_ci_low", "relative_ci_high", "p_value", "q_value", "significant", "test", "mde",
    "revenue_per_recipient", "revenue_per_holdout", "revenue_uplift", "revenue_ci_low",
    "revenue_ci_high", "warning",
]  # fmt: skip
TERMINAL = [
    "campaign", "period", "variant", "recipients", "holdout", "conversion", "holdout_conversion",
    "uplift", "ci_low", "ci_high", "mde", "relative_uplift", "q_value", "significant",
    "revenue_per_recipient", "revenue_per_holdout", "warning",
]  # fmt: skip


def campaign_report(engine: Engine, *, window: Window, days: int = DEFAULT_WINDOW) -> Report:
    rows, engagement_rows = campaign_effects(engine, window=window, days=days)
    rates = ("conversion", "holdout_conversion", "relative_uplift", "relative_ci_low",
             "relative_ci_high")  # fmt: skip
    return Report(
        kind="campaigns",
        title=f"Campaign uplift against hold-out ({days}-day attribution window)",
        tables=[
            Table(
                "campaign-uplift",
                "Campaign uplift",
                UPLIFT_COLUMNS,
                rows,
                rates,
                TERMINAL,
                points=("uplift", "ci_low", "ci_high", "mde"),
            ),
            Table(
                "campaign-engagement",
                "Provider events per campaign period",
                ["campaign", "period", "variant", "recipients", "messages", *ENGAGEMENT],
                engagement_rows,
            ),
        ],
        definitions=[TEXT, DEFINITION],
        window=window.describe() + "; --from/--to select send dates",
        warnings=[
            f"{r['campaign']} {r['period']} {r['variant']}: {r['warning']}"
            for r in rows
            if r["warning"]
        ]
        + [
            f"{campaign}: {n} period(s) sent without a hold-out, so their effect cannot be measured"
            for campaign, n in unmeasured(engine, window=window).items()
        ],
        data={"attribution_days": days},
    )
