"""Provider events (SES bounce, complaint, delivery, open, click, send) into suppression and
interactions.

Events arrive SES -> SNS -> SQS (the queue body is an SNS envelope whose ``Message`` is the
SES event; raw delivery is accepted too) or through the web service's SNS endpoint. Every
event is recorded once in ``provider_event`` under its identity, so duplicates change
nothing; consent only ever moves towards suppression here, so an event arriving late (a
delivery after a bounce) never resubscribes anyone. Each event finds its ledger row through
the ledger id message tag, then the provider message id.

Reading SES's JSON is ``campaigns.ses_events`` (its names are importable from here too);
the consent and interaction writes, shared with the web service, are ``campaigns.consent``.
This module applies events and drains the queue.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select, update

from campaigns.consent import add_interaction, set_consent
from campaigns.event_batch import ENGAGEMENT, apply_batch
from campaigns.reconcile import note_drained
from campaigns.ses_events import MalformedEvent, SesEvent, parse_ses_event, unwrap
from models.base import table, utcnow
from models.campaigns import Message
from models.dialect import insert_new
from models.settings import Settings, get_settings
from models.store import Channel, ConsentStatus, Customer
from models.surveys import ProviderEvent

log = logging.getLogger(__name__)

EVENT = table(ProviderEvent)
MESSAGE = table(Message)

BATCH = 500  # events per bulk write: a few statements each, well under any parameter limit


def _find_ledger_row(conn: Connection, event: SesEvent) -> tuple[int | None, int | None]:
    """(message id, customer id): by the ledger tag, else by the provider's message id."""
    m = MESSAGE.c
    if event.ledger_id is not None:
        row = conn.execute(
            select(m.id, m.customer_id, m.provider_message_id).where(m.id == event.ledger_id)
        ).first()
        if row is not None and (
            row.provider_message_id in (None, event.provider_message_id)
            or event.provider_message_id is None
        ):
            return row.id, row.customer_id
    if event.provider_message_id:
        row = conn.execute(
            select(m.id, m.customer_id)
            .where(m.provider_message_id == event.provider_message_id)
            .limit(1)
        ).first()
        if row is not None:
            return row.id, row.customer_id
    return None, None


def _customers_by_address(conn: Connection, addresses: Iterable[str]) -> list[int]:
    lowered = sorted({a.strip().lower() for a in addresses})
    if not lowered:
        return []
    c = table(Customer).c
    return list(conn.execute(select(c.id).where(func.lower(c.email).in_(lowered))).scalars())


def _soft_bounces(conn: Connection, customer_id: int, since: datetime) -> int:
    e = EVENT.c
    return int(
        conn.execute(
            select(
                func.count(func.distinct(func.coalesce(e.provider_message_id, e.event_key)))
            ).where(
                e.customer_id == customer_id,
                e.event_type == "bounce",
                or_(e.detail.like("Transient%"), e.detail.like("Undetermined%")),
                e.occurred_at >= since,
            )
        ).scalar_one()
    )


def apply_event(
    conn: Connection, event: SesEvent, *, settings: Settings, now: datetime | None = None
) -> str:
    """Record one event and what it changes, in the caller's transaction; returns the outcome.

    Outcomes: ``duplicate``, ``unmatched``, ``suppressed``, ``recorded``.
    """
    message_id, customer_id = _find_ledger_row(conn, event)
    customers = [customer_id] if customer_id is not None else []
    if not customers and event.event_type in ("bounce", "complaint"):
        customers = _customers_by_address(conn, event.recipients)

    permanent = event.event_type == "bounce" and (event.detail or "").startswith("Permanent")
    outcome = "recorded" if customers else "unmatched"
    values = dict(
        event_key=event.key,
        provider="ses",
        event_type=event.event_type,
        detail=event.detail,
        message_id=message_id,
        customer_id=customers[0] if customers else None,
        provider_message_id=event.provider_message_id,
        outcome=outcome,
        occurred_at=event.occurred_at,
        received_at=now or utcnow(),
    )
    if not insert_new(conn, EVENT, values, key=["event_key"]):
        return "duplicate"

    suppressed = False
    for cid in customers:
        ref = event.key if cid == customers[0] else f"{event.key}:{cid}"
        if event.event_type in ENGAGEMENT:
            add_interaction(
                conn,
                customer_id=cid,
                kind=ENGAGEMENT[event.event_type],
                occurred_at=event.occurred_at,
                source_ref=ref,
                message_id=message_id,
            )
        elif event.event_type == "complaint":
            add_interaction(
                conn,
                customer_id=cid,
                kind="complained",
                occurred_at=event.occurred_at,
                source_ref=ref,
                message_id=message_id,
                detail=event.detail,
            )
            suppressed |= set_consent(
                conn,
                customer_id=cid,
                channel=Channel.email,
                status=ConsentStatus.complained,
                source="ses:complaint",
                at=event.occurred_at,
            )
        elif event.event_type == "bounce":
            add_interaction(
                conn,
                customer_id=cid,
                kind="bounced" if permanent else "soft_bounced",
                occurred_at=event.occurred_at,
                source_ref=ref,
                message_id=message_id,
                detail=event.detail,
            )
            window = timedelta(days=settings.soft_bounce_window_days)
            if (
                permanent
                or _soft_bounces(conn, cid, event.occurred_at - window)
                >= settings.soft_bounce_limit
            ):
                suppressed |= set_consent(
                    conn,
                    customer_id=cid,
                    channel=Channel.email,
                    status=ConsentStatus.bounced,
                    source="ses:bounce" if permanent else "ses:soft_bounces",
                    at=event.occurred_at,
                )
    if suppressed:
        outcome = "suppressed"
        conn.execute(update(EVENT).where(EVENT.c.event_key == event.key).values(outcome=outcome))
    return outcome


def process_events(
    engine: Engine,
    events: Iterable[SesEvent | Any],
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """Apply SES event records in one transaction; the outcome of each, in order.

    Events are applied in batches (``campaigns.event_batch``: a few queries per batch).
    A batch that cannot be written as a whole is rolled back to its savepoint and applied
    again one event at a time, each in its own savepoint, so one that fails (outcome
    ``failed``, logged by event type only) leaves the others in place. ``settings`` None
    reads the process's.
    """
    settings = settings if settings is not None else get_settings()
    outcomes: list[str] = []
    parsed: list[tuple[int, SesEvent]] = []
    for item in events:
        try:
            event = (
                item
                if isinstance(item, SesEvent)
                else parse_ses_event(item, tag=settings.ledger_tag)
            )
        except MalformedEvent:
            outcomes.append("malformed")
            continue
        parsed.append((len(outcomes), event))
        outcomes.append("")
    with engine.begin() as conn:
        for start in range(0, len(parsed), BATCH):
            chunk = parsed[start : start + BATCH]
            batch = [event for _, event in chunk]
            try:
                with conn.begin_nested():
                    results = apply_batch(conn, batch, settings=settings, now=now)
            except Exception:
                log.warning("a batch of %d events is applied one by one", len(batch), exc_info=True)
                results = apply_one_by_one(conn, batch, settings=settings, now=now)
            for (position, _), outcome in zip(chunk, results, strict=True):
                outcomes[position] = outcome
    return outcomes


def apply_one_by_one(
    conn: Connection, events: Iterable[SesEvent], *, settings: Settings, now: datetime | None
) -> list[str]:
    """Each event in its own savepoint: the slow path, for a batch that failed as a whole."""
    outcomes = []
    for event in events:
        try:
            with conn.begin_nested():
                outcomes.append(apply_event(conn, event, settings=settings, now=now))
        except Exception:
            log.exception("could not apply a %s event", event.event_type)
            outcomes.append("failed")
    return outcomes


def sync_queue(
    engine: Engine,
    *,
    queue_url: str | None = None,
    client: Any = None,
    max_messages: int = 10_000,
    batch_size: int = 100,
    wait_seconds: int = 1,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> dict[str, int]:
    """Drain up to ``max_messages`` from the SQS queue; delete each only after its commit.

    A message that is not an SES event is left in the queue (its redrive policy moves it
    to the dead-letter queue) and counted as ``malformed``. ``settings`` (the queue, the
    ledger tag, the bounce rules) are read here once unless given.
    """
    settings = settings if settings is not None else get_settings()
    queue_url = queue_url or settings.sqs_queue_url
    if not queue_url:
        raise ValueError("no queue: set HOMECOMING_SQS_QUEUE_URL")
    if client is None:
        import boto3

        client = boto3.client("sqs")
    totals: Counter[str] = Counter()
    received = 0
    started = utcnow()  # every event published before this is in the queue or read
    drained = False
    while received < max_messages:
        batch: list[tuple[str, str, SesEvent]] = []  # (receipt handle, SQS message id, event)
        while len(batch) < batch_size and received < max_messages:
            reply = client.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, max_messages - received),
                WaitTimeSeconds=wait_seconds if not batch else 0,
            )
            messages = reply.get("Messages", [])
            if not messages:
                drained = not batch
                break
            received += len(messages)
            for message in messages:
                try:
                    event = parse_ses_event(unwrap(message["Body"]), tag=settings.ledger_tag)
                except MalformedEvent as exc:
                    totals["malformed"] += 1
                    log.warning("queue message %s left in the queue: %s", message["MessageId"], exc)
                    continue
                batch.append((message["ReceiptHandle"], message["MessageId"], event))
        if not batch:
            break
        outcomes = process_events(
            engine, [event for _, _, event in batch], now=now, settings=settings
        )
        done = []
        for (handle, message_id, event), outcome in zip(batch, outcomes, strict=True):
            totals[outcome] += 1
            totals[f"type:{event.event_type}"] += 1
            if outcome == "failed":
                log.warning("queue message %s left in the queue: not applied", message_id)
            else:
                done.append(handle)
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            reply = client.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
            )
            totals["deleted"] += len(reply.get("Successful", []))
    totals["received"] = received
    if drained:  # read to its end: a missing Send event now says something (reconcile)
        note_drained(engine, started)
    return dict(totals)


__all__ = [
    "MalformedEvent",
    "SesEvent",
    "apply_batch",
    "apply_event",
    "apply_one_by_one",
    "parse_ses_event",
    "process_events",
    "sync_queue",
    "unwrap",
]
