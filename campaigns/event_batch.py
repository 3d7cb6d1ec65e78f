"""Provider events applied a batch at a time: a handful of queries per batch, not per event.

Applying events one by one costs a savepoint and several lookups each (a few hundred events
a second). Here a batch is read in a fixed number of queries (its ledger rows, the customers
of unmatched bounces and complaints, the consent and recent soft bounces of the customers it
touches), the rules of ``campaigns.events.apply_event`` are played in order in memory, and
the result is written in one statement per table. The insert of the ``provider_event`` rows
is the idempotency check (ON CONFLICT DO NOTHING on the event's identity), so an event
recorded before, even by a concurrent reader, changes nothing. The outcomes and the rows
written are those of applying the events one after the other; anything unexpected (a
consent row another writer created first, a database error) raises, and the caller rolls
the batch back and applies its events one by one instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, update

from campaigns.consent import CONSENT, INTERACTION, RANK
from campaigns.ses_events import SesEvent
from models.base import table, utcnow
from models.campaigns import Message
from models.dialect import insert_for, is_postgresql, transaction_lock
from models.settings import Settings
from models.store import Channel, ConsentStatus, Customer
from models.surveys import ProviderEvent

EVENT = table(ProviderEvent)
MESSAGE = table(Message)
CUSTOMER = table(Customer)

ENGAGEMENT = {"delivery": "delivered", "open": "opened", "click": "clicked"}
SOFT = ("Transient", "Undetermined")
RANK_OF = {status.value: rank for status, rank in RANK.items()}


class BatchConflict(RuntimeError):
    """Another writer got there between this batch's reads and its writes."""


@dataclass
class _Consent:
    status: str
    source: str
    updated_at: datetime
    new: bool = False  # no row yet: the batch inserts one
    changed: bool = False


def _ledger_rows(conn: Connection, events: Sequence[SesEvent]) -> tuple[dict, dict]:
    """Ledger rows by id and by provider message id (the lowest id per provider id)."""
    ids = {e.ledger_id for e in events if e.ledger_id is not None}
    pids = {e.provider_message_id for e in events if e.provider_message_id}
    if not ids and not pids:
        return {}, {}
    m = MESSAGE.c
    found = conn.execute(
        select(m.id, m.customer_id, m.provider_message_id)
        .where(or_(m.id.in_(ids), m.provider_message_id.in_(pids)))
        .order_by(m.id)
    ).all()
    by_pid: dict[str, Any] = {}
    for row in found:
        if row.provider_message_id is not None:
            by_pid.setdefault(row.provider_message_id, row)
    return {row.id: row for row in found}, by_pid


def _match(event: SesEvent, by_id: dict, by_pid: dict) -> tuple[int | None, int | None]:
    """(message id, customer id), as ``campaigns.events`` finds them one at a time."""
    row = by_id.get(event.ledger_id) if event.ledger_id is not None else None
    if row is not None and (
        row.provider_message_id in (None, event.provider_message_id)
        or event.provider_message_id is None
    ):
        return row.id, row.customer_id
    row = by_pid.get(event.provider_message_id) if event.provider_message_id else None
    return (row.id, row.customer_id) if row is not None else (None, None)


def _by_address(conn: Connection, events: Sequence[SesEvent]) -> dict[str, list[int]]:
    addresses = {a.strip().lower() for e in events for a in e.recipients}
    if not addresses:
        return {}
    c = CUSTOMER.c
    found: dict[str, list[int]] = defaultdict(list)
    email = func.lower(c.email)
    for cid, address in conn.execute(
        select(c.id, email).where(email.in_(sorted(addresses))).order_by(c.id)
    ):
        found[address].append(cid)
    return found


def _consents(conn: Connection, customers: set[int]) -> dict[int, _Consent]:
    """Email consent of ``customers``, locked until the transaction ends so the batch's
    decisions hold when written (row locks on PostgreSQL, the write lock on SQLite)."""
    if not customers:
        return {}
    c = CONSENT.c
    query = select(c.customer_id, c.status, c.source, c.updated_at).where(
        c.channel == Channel.email, c.customer_id.in_(customers)
    )
    if is_postgresql(conn):
        query = query.with_for_update()
    else:
        transaction_lock(conn, "consent", touch=CONSENT)
    return {r.customer_id: _Consent(r.status, r.source, r.updated_at) for r in conn.execute(query)}


def _soft_bounces(
    conn: Connection, customers: set[int], since: datetime | None
) -> dict[int, list[tuple[str, datetime]]]:
    """Recorded soft bounces of ``customers`` since ``since``: (identity, time) each."""
    found: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    if not customers or since is None:
        return found
    e = EVENT.c
    for cid, ident, at in conn.execute(
        select(
            e.customer_id, func.coalesce(e.provider_message_id, e.event_key), e.occurred_at
        ).where(
            e.customer_id.in_(customers),
            e.event_type == "bounce",
            or_(*(e.detail.like(f"{s}%") for s in SOFT)),
            e.occurred_at >= since,
        )
    ):
        found[cid].append((ident, at))
    return found


def _escalate(
    state: _Consent | None, status: ConsentStatus, source: str, at: datetime
) -> tuple[_Consent, bool]:
    """(new state, changed) under ``campaigns.consent.set_consent``'s escalate-only rules."""
    if state is None:
        return _Consent(status.value, source, at, new=True, changed=True), True
    rank = RANK_OF.get(state.status)
    if rank is None or rank >= RANK[status]:
        return state, False
    if state.source.startswith("web") and state.updated_at > at:
        return state, False  # the customer's own newer choice wins
    return _Consent(status.value, source, at, new=state.new, changed=True), True


@dataclass
class _Read:
    """What a batch needs from the database, read once before anything is written."""

    events: Sequence[SesEvent]
    matched: dict[int, tuple[int | None, int | None]]  # position -> (message, customer)
    customers: dict[int, list[int]]  # position -> customers it concerns
    counted: dict[int, list[tuple[str, datetime]]]  # recorded soft bounces per customer
    consent: dict[int, _Consent]


@dataclass
class _Plan:
    outcomes: dict[int, str]
    event_rows: list[dict[str, Any]]
    interactions: list[dict[str, Any]]
    consent: dict[int, _Consent]


def apply_batch(
    conn: Connection, events: Sequence[SesEvent], *, settings: Settings, now: datetime | None
) -> list[str]:
    """Apply ``events`` in order, in the caller's transaction; the outcome of each.

    The same outcomes as ``apply_event`` per event: ``duplicate`` (recorded before, or
    earlier in the batch), ``unmatched``, ``suppressed``, ``recorded``. The insert of the
    ``provider_event`` rows is the idempotency check: the events played are those it wrote.
    """
    first: dict[str, int] = {}
    for n, ev in enumerate(events):
        first.setdefault(ev.key, n)
    candidates = sorted(first.values())
    received = now or utcnow()
    read = _read(conn, events, candidates, settings)
    plan = _play(read, candidates, settings, received)
    written: set[str] = set()
    if plan.event_rows:
        statement = (
            insert_for(conn, EVENT)
            .on_conflict_do_nothing(index_elements=["event_key"])
            .returning(EVENT.c.event_key)
        )
        written = set(conn.execute(statement, plan.event_rows).scalars())
    if len(written) < len(candidates):  # some were recorded before: play the others again
        fresh = [n for n in candidates if events[n].key in written]
        again = _play(read, fresh, settings, received)
        changed = [
            dict(b_key=events[n].key, b_outcome=again.outcomes[n])
            for n in fresh
            if again.outcomes[n] != plan.outcomes[n]
        ]
        if changed:
            conn.execute(
                update(EVENT)
                .where(EVENT.c.event_key == bindparam("b_key"))
                .values(outcome=bindparam("b_outcome")),
                changed,
            )
        plan = again
    _write(conn, plan.interactions, plan.consent)
    return [plan.outcomes.get(n, "duplicate") for n in range(len(events))]


def _read(
    conn: Connection, events: Sequence[SesEvent], positions: list[int], settings: Settings
) -> _Read:
    by_id, by_pid = _ledger_rows(conn, [events[n] for n in positions])
    matched = {n: _match(events[n], by_id, by_pid) for n in positions}
    suppressing = [n for n in positions if events[n].event_type in ("bounce", "complaint")]
    addresses = _by_address(conn, [events[n] for n in suppressing if matched[n][1] is None])
    customers: dict[int, list[int]] = {}
    for n in positions:
        cid = matched[n][1]
        if cid is not None:
            customers[n] = [cid]
        elif events[n].event_type in ("bounce", "complaint"):
            found = {c for a in events[n].recipients for c in addresses.get(a.strip().lower(), [])}
            customers[n] = sorted(found)
        else:
            customers[n] = []
    window = timedelta(days=settings.soft_bounce_window_days)
    counting = [n for n in suppressing if events[n].event_type == "bounce"]
    counting = [n for n in counting if not _is_permanent(events[n])]
    since = min((events[n].occurred_at - window for n in counting), default=None)
    counted = _soft_bounces(conn, {c for n in counting for c in customers[n]}, since)
    consent = _consents(conn, {c for n in suppressing for c in customers[n]})
    return _Read(events, matched, customers, counted, consent)


def _play(read: _Read, positions: list[int], settings: Settings, received: datetime) -> _Plan:
    """The rules of ``apply_event``, event after event, on what was read: nothing written."""
    window = timedelta(days=settings.soft_bounce_window_days)
    counted = defaultdict(list, {cid: list(seen) for cid, seen in read.counted.items()})
    plan = _Plan({}, [], [], dict(read.consent))
    for n in positions:
        ev, (message_id, _), cids = read.events[n], read.matched[n], read.customers[n]
        if cids and ev.event_type == "bounce" and _is_soft(ev):
            counted[cids[0]].append((ev.provider_message_id or ev.key, ev.occurred_at))
        suppressed = False
        for cid in cids:
            kind, status, source = _effect(ev, cid, counted, settings, window)
            if kind is not None:
                plan.interactions.append(
                    dict(
                        customer_id=cid,
                        kind=kind,
                        channel=Channel.email,
                        occurred_at=ev.occurred_at,
                        message_id=message_id,
                        value=None,
                        detail=None if ev.event_type in ENGAGEMENT else ev.detail,
                        source_ref=ev.key if cid == cids[0] else f"{ev.key}:{cid}",
                    )
                )
            if status is not None and source is not None:
                state, changed = _escalate(plan.consent.get(cid), status, source, ev.occurred_at)
                plan.consent[cid] = state
                suppressed |= changed
        outcome = "suppressed" if suppressed else "recorded" if cids else "unmatched"
        plan.outcomes[n] = outcome
        plan.event_rows.append(
            dict(
                event_key=ev.key,
                provider="ses",
                event_type=ev.event_type,
                detail=ev.detail,
                message_id=message_id,
                customer_id=cids[0] if cids else None,
                provider_message_id=ev.provider_message_id,
                outcome=outcome,
                occurred_at=ev.occurred_at,
                received_at=received,
            )
        )
    return plan


def _is_permanent(event: SesEvent) -> bool:
    return (event.detail or "").startswith("Permanent")


def _is_soft(event: SesEvent) -> bool:
    return (event.detail or "").startswith(SOFT)


def _effect(
    ev: SesEvent,
    cid: int,
    counted: dict[int, list[tuple[str, datetime]]],
    settings: Settings,
    window: timedelta,
) -> tuple[str | None, ConsentStatus | None, str | None]:
    """(interaction kind, consent status, consent source) one event means for one customer."""
    if ev.event_type in ENGAGEMENT:
        return ENGAGEMENT[ev.event_type], None, None
    if ev.event_type == "complaint":
        return "complained", ConsentStatus.complained, "ses:complaint"
    if ev.event_type != "bounce":
        return None, None, None
    if _is_permanent(ev):
        return "bounced", ConsentStatus.bounced, "ses:bounce"
    since = ev.occurred_at - window
    recent = {ident for ident, at in counted.get(cid, []) if at >= since}
    if len(recent) >= settings.soft_bounce_limit:
        return "soft_bounced", ConsentStatus.bounced, "ses:soft_bounces"
    return "soft_bounced", None, None


def _write(
    conn: Connection, interactions: list[dict[str, Any]], consent: dict[int, _Consent]
) -> None:
    """Interactions and consent, one statement per kind of write (psycopg pipelines the
    rows of an executemany)."""
    if interactions:
        conn.execute(
            insert_for(conn, INTERACTION).on_conflict_do_nothing(index_elements=["source_ref"]),
            interactions,
        )
    changed = {cid: s for cid, s in consent.items() if s.changed}
    new = [
        dict(customer_id=cid, channel=Channel.email, status=s.status, source=s.source,
             updated_at=s.updated_at)
        for cid, s in changed.items()
        if s.new
    ]  # fmt: skip
    if new:
        statement = (
            insert_for(conn, CONSENT)
            .on_conflict_do_nothing(index_elements=["customer_id", "channel"])
            .returning(CONSENT.c.customer_id)
        )
        if len(conn.execute(statement, new).scalars().all()) != len(new):
            raise BatchConflict("consent recorded meanwhile by another writer")
    old = [
        dict(b_customer=cid, b_status=s.status, b_source=s.source, b_at=s.updated_at)
        for cid, s in changed.items()
        if not s.new
    ]
    if old:
        c = CONSENT.c
        conn.execute(
            update(CONSENT)
            .where(c.customer_id == bindparam("b_customer"), c.channel == Channel.email)
            .values(
                status=bindparam("b_status"),
                source=bindparam("b_source"),
                updated_at=bindparam("b_at", type_=c.updated_at.type),
            ),
            old,
        )


__all__ = ["ENGAGEMENT", "BatchConflict", "apply_batch"]
