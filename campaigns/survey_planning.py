"""Planning triggered surveys: one ledger row per trigger, decided once, never twice.

Each trigger due by now becomes a row keyed (campaign, trigger key, customer, channel):
planned with a send time after the recipient's quiet hours, held out, or suppressed with
the reason (no consent or address, too late, a cap). A checkpoint per campaign advances in
the same transaction as the rows, one day of due times per transaction, under a lock row
and the campaign's cap lock. Kept apart from finding triggers (``campaigns.survey_triggers``)
and from sending (``campaigns.surveys``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, select, update

from campaigns.cap_ledger import PREFERENCE_REACH, cap_lock, slot_times
from campaigns.caps import Caps, cap_group, caps_for, preference_caps, violates_all
from campaigns.definitions import Campaign
from campaigns.eligibility import (
    has_address_sql,
    has_device_sql,
    is_held_out,
    pick_variant,
    suppression_reason,
)
from campaigns.localtime import after_quiet_hours, zone
from campaigns.send_rules import campaign_window, quiet_hours_for
from campaigns.survey_triggers import TriggerEvent, max_age, trigger_rows
from models.base import table
from models.campaigns import Message, MessageStatus, Reason
from models.dialect import insert_for, insert_new
from models.settings import Settings, get_settings
from models.store import Consent, Customer
from models.surveys import ContactPreference, SurveyCheckpoint

M = table(Message)
C = table(Customer)
CONSENT = table(Consent)
PREFERENCE = table(ContactPreference)
CHECKPOINT = table(SurveyCheckpoint)

LOCK_ROW = "*"
SLICE = timedelta(days=1)


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
    trigger: TriggerEvent,
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
        reason = Reason.no_customer
    elif due < now - max_age:
        reason = Reason.too_late
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
            reason = (
                Reason.survey_cap if cap_group(campaign.kind) == "survey" else Reason.frequency_cap
            )
    if reason is not None:
        return {**row, "status": MessageStatus.suppressed, "reason": reason}
    if is_held_out(campaign, trigger.customer_id):
        return {**row, "status": MessageStatus.held_out}
    variant, template = pick_variant(campaign, trigger.customer_id)
    return {
        **row,
        "status": MessageStatus.planned,
        "variant": variant,
        "template": template,
        "send_at": send_at,
    }


def plan_triggers(
    engine: Engine,
    campaign: Campaign,
    *,
    now: datetime,
    since: datetime | None = None,
    settings: Settings | None = None,
) -> PlanCounts:
    """Write a ledger row for every trigger of ``campaign`` that is due by ``now``.

    The due times scanned run from the checkpoint minus the look-back (on the first run:
    ``since``, default ``now`` minus the look-back) to ``now``, one day per transaction,
    each advancing the checkpoint in the same transaction as its rows. ``settings`` (caps,
    quiet hours, time zone) come from the caller; None reads the process's.
    """
    assert campaign.trigger is not None
    settings = settings if settings is not None else get_settings()
    lookback = campaign.survey_options.lookback
    oldest = max_age(campaign)
    quiet = quiet_hours_for(campaign, settings)
    caps = caps_for(campaign, settings)
    reach = caps.reach + PREFERENCE_REACH  # a customer's own frequency may be a month
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
    found: list[TriggerEvent],
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
        history.update(slot_times(conn, campaign, chunk, lo, hi))
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
        if row["status"] == MessageStatus.planned:
            history[t.customer_id].append(row["send_at"])
    for start in range(0, len(rows), 1000):
        conn.execute(
            insert_for(conn, M).on_conflict_do_nothing(
                index_elements=["campaign", "period", "customer_id", "channel"]
            ),
            rows[start : start + 1000],
        )
    for row in rows:
        if row["status"] == MessageStatus.planned:
            counts.planned += 1
        elif row["status"] == MessageStatus.held_out:
            counts.held_out += 1
        else:
            counts.suppressed[row["reason"]] += 1
