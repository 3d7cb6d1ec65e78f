"""Triggered surveys: a CSAT after a resolved ticket, feedback or a review request after a
delivery, sent once per trigger through the campaigns ledger, caps and channels.

A campaign definition with ``trigger: {after: delivered|ticket_resolved, delay: 3d}`` is
planned here. Each trigger (an order delivered, a ticket resolved) becomes one ledger row
keyed (campaign, ``delivered:<order id>`` or ``ticket:<ticket id>``, customer, channel), so
no run, restart or overlapping run can write it twice. A checkpoint per campaign (the due
time up to which triggers were planned) is advanced in the same transaction as the rows,
and each run re-scans a look-back window behind it, so events recorded late are not
missed. Planning is serialised (a lock row, plus the campaigns cap lock), and sending uses
the campaigns sender, whose claims make overlapping sends safe.

Options in the definition's ``survey:`` mapping: ``lookback`` (default 2d), ``max_age``
(default 7d: a trigger due longer ago than that is recorded as ``too_late``, not sent; it is
also how late a planned survey may still go out, unless the definition gives
``max_lateness``) and ``choices`` (feedback surveys: the one-click answers, keys of the
template's catalog). Sending goes through ``campaigns.send.send_due``, so the send-time rules
(quiet hours, the survey cap, lateness) hold at the moment each survey goes out.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, select, update

from campaigns.cap_ledger import cap_lock
from campaigns.caps import Caps, cap_group, caps_for, group_kinds, preference_caps, violates_all
from campaigns.definitions import Campaign, load_all
from campaigns.eligibility import (
    has_address_sql,
    has_device_sql,
    is_held_out,
    pick_variant,
    suppression_reason,
)
from campaigns.events import insert_for, insert_new
from campaigns.links import survey_links
from campaigns.localtime import after_quiet_hours, zone
from campaigns.send_rules import campaign_window, quiet_hours_for
from models.base import UTCDateTime, utcnow
from models.campaigns import ANSWER_KINDS, Message
from models.settings import get_settings
from models.store import (
    Consent,
    Customer,
    Order,
    OrderLine,
    Product,
    ShipmentEvent,
    SupportTicket,
)
from models.surveys import ContactPreference, SurveyCheckpoint

log = logging.getLogger(__name__)

M = Message.__table__
C = Customer.__table__
CONSENT = Consent.__table__
PREFERENCE = ContactPreference.__table__
CHECKPOINT = SurveyCheckpoint.__table__
SHIPMENT = ShipmentEvent.__table__
ORDER = Order.__table__
LINE = OrderLine.__table__
PRODUCT = Product.__table__
TICKET = SupportTicket.__table__

LOCK_ROW = "*"
COUNTED = ("planned", "sending", "sent")
# The answer each survey kind takes.
SLICE = timedelta(days=1)
PRODUCTS_SHOWN = 3
TRIGGER_KEY = re.compile(r"^(delivered|ticket):(\d+)$")


class SurveyError(ValueError):
    """Kept for the callers that catch it (``homecoming surveys send``). Bad ``survey:``
    options no longer raise it: they are definition errors, with file and line, found when
    the definitions load (``campaigns.spec``)."""


def max_age(campaign: Campaign) -> timedelta:
    """How long after it fell due a trigger may still be surveyed (``survey.max_age``)."""
    return campaign.survey_options.max_age


def choices(campaign: Campaign) -> list[str]:
    """The one-click choices of a feedback survey (``survey.choices``)."""
    return list(campaign.survey_options.choices)


def triggered_campaigns(
    paths: list[Path] | None = None,
) -> tuple[list[Campaign], list[str]]:
    """Every valid triggered campaign, highest priority first, and the errors of the others
    (their ``survey:`` options among them, checked when the definitions load)."""
    campaigns, errors = load_all(paths)
    found = [c for c in campaigns if c.trigger is not None]
    return sorted(found, key=lambda c: (-c.priority, c.name)), [str(e) for e in errors]


# --- finding triggers ----------------------------------------------------------------------


def trigger_rows(conn: Connection, campaign: Campaign, lo: datetime, hi: datetime) -> list[Any]:
    """Triggers whose event happened in [lo, hi): (key, source id, customer id, at)."""
    assert campaign.trigger is not None
    if campaign.trigger.after == "delivered":
        at = func.min(SHIPMENT.c.occurred_at).label("at")
        query = (
            select(SHIPMENT.c.order_id.label("source_id"), ORDER.c.customer_id, at)
            .select_from(SHIPMENT.join(ORDER, ORDER.c.id == SHIPMENT.c.order_id))
            .where(
                SHIPMENT.c.status == "delivered",
                SHIPMENT.c.occurred_at >= lo,
                SHIPMENT.c.occurred_at < hi,
                ORDER.c.customer_id.is_not(None),
            )
            .group_by(SHIPMENT.c.order_id, ORDER.c.customer_id)
        )
        prefix = "delivered"
    else:
        query = select(
            TICKET.c.id.label("source_id"),
            TICKET.c.customer_id,
            TICKET.c.resolved_at.label("at"),
        ).where(TICKET.c.resolved_at >= lo, TICKET.c.resolved_at < hi)
        prefix = "ticket"
    rows = conn.execute(query).all()
    return sorted(
        (
            _Trigger(f"{prefix}:{r.source_id}", r.source_id, r.customer_id, _aware(r.at))
            for r in rows
        ),
        key=lambda t: (t.at, t.source_id),
    )


def _aware(value: Any) -> datetime:
    """Aggregates lose the column type on SQLite; bring the value back to aware UTC."""
    return UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Trigger:
    key: str
    source_id: int
    customer_id: int
    at: datetime


# --- planning ------------------------------------------------------------------------------


@dataclass
class PlanCounts:
    triggers: int = 0
    planned: int = 0
    held_out: int = 0
    already_recorded: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    checked_until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "triggers": self.triggers,
            "planned": self.planned,
            "held_out": self.held_out,
            "already_recorded": self.already_recorded,
            "suppressed": dict(sorted(self.suppressed.items())),
            "checked_until": self.checked_until.isoformat() if self.checked_until else None,
        }


def _lock(conn: Connection, campaign: Campaign, now: datetime) -> None:
    """Serialise survey planning, then take the cap lock of the campaign's group.

    The lock row is written first: on PostgreSQL that holds a row lock, on SQLite the
    database's write lock, until the transaction ends.
    """
    insert_new(conn, CHECKPOINT, {"campaign": LOCK_ROW, "updated_at": now}, key=["campaign"])
    conn.execute(update(CHECKPOINT).where(CHECKPOINT.c.campaign == LOCK_ROW).values(updated_at=now))
    cap_lock(conn, campaign)


def _checkpoint(conn: Connection, name: str) -> datetime | None:
    return conn.execute(
        select(CHECKPOINT.c.checked_until).where(CHECKPOINT.c.campaign == name)
    ).scalar_one_or_none()


def _advance(conn: Connection, name: str, until: datetime, now: datetime) -> None:
    """Move the checkpoint forward, never back (an older overlapping run may finish later)."""
    values = {"campaign": name, "checked_until": until, "runs": 1, "updated_at": now}
    if insert_new(conn, CHECKPOINT, values, key=["campaign"]):
        return
    c = CHECKPOINT.c
    conn.execute(
        update(CHECKPOINT)
        .where(c.campaign == name)
        .values(
            checked_until=case(
                (c.checked_until.is_(None), until),
                (c.checked_until < until, until),
                else_=c.checked_until,
            ),
            runs=c.runs + 1,
            updated_at=now,
        )
    )


def _customers(conn: Connection, campaign: Campaign, ids: Sequence[int]) -> dict[int, Any]:
    """What a decision needs per customer (no contact data beyond 'has an address')."""
    consent = CONSENT.alias("consent")
    columns = [
        C.c.id,
        C.c.locale,
        C.c.time_zone,
        has_address_sql(C.c.email).label("has_address"),
        consent.c.status.label("consent"),
        PREFERENCE.c.frequency,
        has_device_sql(campaign.channel, C.c.id).label("has_device"),
    ]
    query = (
        select(*columns)
        .select_from(
            C.outerjoin(
                consent,
                and_(consent.c.customer_id == C.c.id, consent.c.channel == campaign.channel),
            ).outerjoin(PREFERENCE, PREFERENCE.c.customer_id == C.c.id)
        )
        .where(C.c.id.in_(list(ids)))
    )
    return {r.id: r for r in conn.execute(query)}


def _history(
    conn: Connection, campaign: Campaign, ids: Sequence[int], lo: datetime, hi: datetime
) -> dict[int, list[datetime]]:
    """Send times of the messages in the campaign's cap group near [lo, hi], per customer."""
    at = func.coalesce(M.c.sent_at, M.c.send_at, type_=UTCDateTime())
    rows = conn.execute(
        select(M.c.customer_id, at.label("at")).where(
            M.c.customer_id.in_(list(ids)),
            M.c.channel == campaign.channel,
            M.c.kind.in_(group_kinds(campaign.kind)),
            M.c.status.in_(COUNTED),
            at > lo,
            at < hi,
        )
    )
    found: dict[int, list[datetime]] = {}
    for r in rows:
        found.setdefault(r.customer_id, []).append(r.at)
    return found


def _recorded(conn: Connection, campaign: Campaign, keys: Sequence[str]) -> set[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    for start in range(0, len(keys), 500):
        part = list(keys[start : start + 500])
        found |= {
            (r.period, r.customer_id)
            for r in conn.execute(
                select(M.c.period, M.c.customer_id).where(
                    M.c.campaign == campaign.name,
                    M.c.channel == campaign.channel,
                    M.c.period.in_(part),
                )
            )
        }
    return found


def _decide(
    campaign: Campaign,
    trigger: _Trigger,
    customer: Any,
    history: list[datetime],
    *,
    now: datetime,
    caps: Caps,
    max_age: timedelta,
    quiet: tuple[int, int],
    default_zone: str,
) -> dict[str, Any]:
    assert campaign.trigger is not None
    due = trigger.at + campaign.trigger.delay
    row: dict[str, Any] = {
        "campaign": campaign.name,
        "period": trigger.key,
        "customer_id": trigger.customer_id,
        "channel": campaign.channel,
        "kind": campaign.kind,
        "locale": customer.locale if customer is not None else None,
        "priority": campaign.priority,
        "attempts": 0,
        "created_at": now,
        "reason": None,
        "variant": None,
        "template": campaign.template,
        "send_at": None,
    }
    reason = None
    if customer is None:
        reason = "no_customer"
    elif due < now - max_age:
        reason = "too_late"
    else:
        reason = suppression_reason(
            campaign.channel,
            customer.consent,
            has_address=customer.has_address,
            has_device=customer.has_device,
        )
    send_at = after_quiet_hours(
        due, zone(customer.time_zone if customer else None, default_zone), quiet
    )
    if reason is None:
        limits = [caps, preference_caps(campaign.kind, customer.frequency)]
        if violates_all(history, send_at, limits):
            reason = "survey_cap" if cap_group(campaign.kind) == "survey" else "frequency_cap"
    if reason is not None:
        return {**row, "status": "suppressed", "reason": reason}
    if is_held_out(campaign, trigger.customer_id):
        return {**row, "status": "held_out"}
    variant, template = pick_variant(campaign, trigger.customer_id)
    return {
        **row,
        "status": "planned",
        "variant": variant,
        "template": template,
        "send_at": send_at,
    }


def plan_triggers(
    engine: Engine, campaign: Campaign, *, now: datetime, since: datetime | None = None
) -> PlanCounts:
    """Write a ledger row for every trigger of ``campaign`` that is due by ``now``.

    The due times scanned run from the checkpoint minus the look-back (on the first run:
    ``since``, default ``now`` minus the look-back) to ``now``, one day per transaction,
    each advancing the checkpoint in the same transaction as its rows.
    """
    assert campaign.trigger is not None
    settings = get_settings()
    lookback = campaign.survey_options.lookback
    oldest = max_age(campaign)
    quiet = quiet_hours_for(campaign, settings)
    caps = caps_for(campaign, settings)
    reach = caps.reach + timedelta(days=31)  # a customer's own frequency may be a month
    delay = campaign.trigger.delay
    counts = PlanCounts()
    with engine.connect() as conn:
        checked = _checkpoint(conn, campaign.name)
    start = (checked - lookback) if checked else (since or now - lookback)
    starts, ends = campaign_window(campaign, settings)
    if starts:
        start = max(start, starts)
    end = min(now, ends) if ends else now
    cursor = start
    while True:
        stop = min(cursor + SLICE, end)
        with engine.begin() as conn:
            _lock(conn, campaign, now)
            if cursor < stop:
                # Due in [cursor, stop] <=> the event happened in [cursor - delay, stop - delay].
                found = trigger_rows(
                    conn, campaign, cursor - delay, stop - delay + timedelta(microseconds=1)
                )
                _plan_slice(
                    conn,
                    campaign,
                    found,
                    counts,
                    now=now,
                    caps=caps,
                    reach=reach,
                    max_age=oldest,
                    quiet=quiet,
                    default_zone=settings.default_time_zone,
                )
            _advance(conn, campaign.name, max(stop, start), now)
        counts.checked_until = max(stop, start)
        if stop >= end:
            break
        cursor = stop
    return counts


def _plan_slice(
    conn: Connection,
    campaign: Campaign,
    found: list[_Trigger],
    counts: PlanCounts,
    *,
    now: datetime,
    caps: Caps,
    reach: timedelta,
    max_age: timedelta,
    quiet: tuple[int, int],
    default_zone: str,
) -> None:
    if not found:
        return
    counts.triggers += len(found)
    recorded = _recorded(conn, campaign, [t.key for t in found])
    fresh = [t for t in found if (t.key, t.customer_id) not in recorded]
    counts.already_recorded += len(found) - len(fresh)
    if not fresh:
        return
    ids = sorted({t.customer_id for t in fresh})
    customers: dict[int, Any] = {}
    history: dict[int, list[datetime]] = {}
    assert campaign.trigger is not None
    lo = fresh[0].at + campaign.trigger.delay - reach
    hi = fresh[-1].at + campaign.trigger.delay + reach + timedelta(days=1)
    for part in range(0, len(ids), 500):
        chunk = ids[part : part + 500]
        customers.update(_customers(conn, campaign, chunk))
        history.update(_history(conn, campaign, chunk, lo, hi))
    rows = []
    for t in fresh:
        row = _decide(
            campaign,
            t,
            customers.get(t.customer_id),
            history.setdefault(t.customer_id, []),
            now=now,
            caps=caps,
            max_age=max_age,
            quiet=quiet,
            default_zone=default_zone,
        )
        rows.append(row)
        if row["status"] == "planned":
            history[t.customer_id].append(row["send_at"])
    for start in range(0, len(rows), 1000):
        conn.execute(
            insert_for(conn, M).on_conflict_do_nothing(
                index_elements=["campaign", "period", "customer_id", "channel"]
            ),
            rows[start : start + 1000],
        )
    for row in rows:
        if row["status"] == "planned":
            counts.planned += 1
        elif row["status"] == "held_out":
            counts.held_out += 1
        else:
            counts.suppressed[row["reason"]] += 1


# --- the template context --------------------------------------------------------------


class SurveyContext:
    """The campaigns context plus the answer links and, after a delivery, that order."""

    def __init__(self, campaign: Campaign) -> None:
        from campaigns.render import CampaignContext

        self.campaign = campaign
        self.base = CampaignContext(campaign)
        self.answer_kind = ANSWER_KINDS.get(campaign.kind)
        self.choices = choices(campaign)

    def __call__(self, conn: Connection, batch: Sequence[Any]) -> dict[int, dict[str, Any]]:
        contexts = self.base(conn, batch)
        orders = _orders(
            conn,
            [
                int(m.group(2))
                for r in batch
                if (m := TRIGGER_KEY.match(r.period)) and m.group(1) == "delivered"
            ],
        )
        for r in batch:
            context = contexts[r.id]
            if self.answer_kind:
                context["links"].update(
                    survey_links(
                        message_id=r.id,
                        customer_id=r.customer_id,
                        kind=self.answer_kind,
                        choices=self.choices,
                    )
                )
            match = TRIGGER_KEY.match(r.period)
            if match and match.group(1) == "delivered":
                found = orders.get(int(match.group(2)))
                if found:
                    context["order"], context["products"] = found(self.base.shop)
        return contexts


def _orders(conn: Connection, order_ids: Sequence[int]) -> dict[int, Callable[[str], Any]]:
    """The delivered orders of a batch with up to three products each."""
    if not order_ids:
        return {}
    orders = {
        o.id: o
        for o in conn.execute(
            select(
                ORDER.c.id, ORDER.c.external_id, ORDER.c.ordered_at, ORDER.c.total, ORDER.c.currency
            ).where(ORDER.c.id.in_(list(order_ids)))
        )
    }
    lines: dict[int, list[Any]] = {}
    for line in conn.execute(
        select(LINE.c.order_id, LINE.c.sku, LINE.c.unit_price, PRODUCT.c.name)
        .select_from(LINE.outerjoin(PRODUCT, PRODUCT.c.sku == LINE.c.sku))
        .where(LINE.c.order_id.in_(list(orders)))
        .order_by(LINE.c.order_id, LINE.c.line_no)
    ):
        shown = lines.setdefault(line.order_id, [])
        if len(shown) < PRODUCTS_SHOWN and all(p.sku != line.sku for p in shown):
            shown.append(line)

    def build(order: Any) -> Callable[[str], Any]:
        def make(shop: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            return (
                {
                    "number": order.external_id,
                    "date": order.ordered_at.date(),
                    "total": order.total,
                    "currency": order.currency,
                },
                [
                    {
                        "name": line.name or line.sku,
                        "url": f"{shop}/products/{line.sku}",
                        "price": line.unit_price,
                        "currency": order.currency,
                    }
                    for line in lines.get(order.id, [])
                ],
            )

        return make

    return {order_id: build(order) for order_id, order in orders.items()}


# --- the run -------------------------------------------------------------------------------


def send_due_surveys(
    engine: Engine,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    campaigns: Sequence[Campaign] | None = None,
    email_transport: Any = None,
    push_transport: Any = None,
    renderer: Any = None,
    batch_size: int | None = None,
    throttle: Callable[[int], None] | None = None,
    journal_dir: Path | None = None,
    send: bool = True,
) -> dict[str, Any]:
    """Plan every due trigger of every triggered campaign, then send what is due.

    Safe to run at any time and as often as wanted, also twice at once. ``since`` bounds
    the first run of a campaign (default: ``now`` minus its look-back). ``now`` None plans
    as of the clock and sends on the clock (the send-time rules and ``sent_at`` at each
    message). ``throttle(n)`` is the shared send rate limit. Returns counts per campaign and
    in total, at least ``{"sent": N}``.
    """
    from campaigns.channels import transport_for
    from campaigns.run import send_step  # the one send step; run imports the planners

    on_clock = now is None
    now = now or utcnow()
    errors: list[str] = []
    if campaigns is None:
        campaigns, errors = triggered_campaigns()
    if send and renderer is None and campaigns:
        from campaigns.render import default_renderer

        renderer = default_renderer()
    transports: dict[str, Any] = {}
    result: dict[str, Any] = {"now": now.isoformat(), "sent": 0, "failed": 0, "planned": 0}
    suppressed: Counter[str] = Counter()
    per_campaign: dict[str, Any] = {}
    for campaign in campaigns:
        counts = plan_triggers(engine, campaign, now=now, since=since)
        entry: dict[str, Any] = {"kind": campaign.kind, **counts.as_dict()}
        result["planned"] += counts.planned
        suppressed.update(counts.suppressed)
        if send:
            if campaign.channel not in transports:
                given = email_transport if campaign.channel == "email" else push_transport
                transports[campaign.channel] = given or transport_for(campaign.channel)
            transport = transports[campaign.channel]
            report = send_step(
                engine,
                campaign=campaign,
                period=None,
                now=None if on_clock else now,
                transport=transport,
                renderer=renderer,
                context=SurveyContext(campaign),
                batch_size=batch_size,
                throttle=throttle,
                journal_dir=journal_dir,
            )
            entry.update(
                sent=report.sent,
                failed=report.failed,
                suppressed_at_send=dict(report.suppressed),
                deferred=dict(report.deferred),
                failure_reasons=dict(report.failures),
                reconciled=report.reconciled,
                uncertain=report.uncertain,
                stopped=report.stopped,
            )
            result["sent"] += report.sent
            result["failed"] += report.failed
        per_campaign[campaign.name] = entry
    for transport in transports.values():
        close = getattr(transport, "close", None)
        if close:
            close()
    result["suppressed"] = dict(sorted(suppressed.items()))
    result["campaigns"] = per_campaign
    result["errors"] = errors
    return result


__all__ = [
    "PlanCounts",
    "SurveyContext",
    "SurveyError",
    "plan_triggers",
    "send_due_surveys",
    "triggered_campaigns",
]
