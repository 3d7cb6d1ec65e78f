"""Provider events (SES bounce, complaint, delivery, open, click, send) into suppression and
interactions.

Events arrive SES -> SNS -> SQS (the queue body is an SNS envelope whose ``Message`` is the
SES event; raw delivery is accepted too) or through the web service's SNS endpoint. Every
event is recorded once in ``provider_event`` under its identity, so duplicates change
nothing; consent only ever moves towards suppression here, so an event arriving late (a
delivery after a bounce) never resubscribes anyone. Each event finds its ledger row through
the ledger id message tag, then the provider message id.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from models.base import utcnow
from models.campaigns import Message
from models.settings import get_settings
from models.store import Consent, ConsentStatus, Customer, Interaction
from models.surveys import ProviderEvent

log = logging.getLogger(__name__)

CONSENT = Consent.__table__
INTERACTION = Interaction.__table__
EVENT = ProviderEvent.__table__
MESSAGE = Message.__table__

# How strongly each status keeps mail away; provider events only ever move up this scale.
RANK = {
    ConsentStatus.subscribed: 0,
    ConsentStatus.unsubscribed: 1,
    ConsentStatus.complained: 2,
    ConsentStatus.bounced: 3,
}
EVENT_TYPES = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "Send": "send",
    "Reject": "reject",
    "Open": "open",
    "Click": "click",
    "Rendering Failure": "rendering_failure",
    "RenderingFailure": "rendering_failure",
    "DeliveryDelay": "delivery_delay",
    "Subscription": "subscription",
}
# The SES object holding each event's details.
DETAIL_FIELD = {
    "bounce": "bounce",
    "complaint": "complaint",
    "delivery": "delivery",
    "send": "send",
    "reject": "reject",
    "open": "open",
    "click": "click",
    "rendering_failure": "failure",
    "delivery_delay": "deliveryDelay",
    "subscription": "subscription",
}
ENGAGEMENT = {"delivery": "delivered", "open": "opened", "click": "clicked"}


class MalformedEvent(ValueError):
    """A queue message that is not an SES event; it stays in the queue for the dead letters."""


def insert_for(conn: Connection, table: Table) -> Any:
    """An INSERT with ``on_conflict_do_nothing`` for the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def insert_new(
    conn: Connection, table: Table, values: Mapping[str, Any], *, key: list[str]
) -> bool:
    """INSERT ... ON CONFLICT (key) DO NOTHING; True when the row is new.

    Asks for the primary key back rather than trusting ``rowcount``, which psycopg
    reports as -1 for an insert that returns rows.
    """
    primary = next(iter(table.primary_key.columns))
    statement = (
        insert_for(conn, table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=key)
        .returning(primary)
    )
    return conn.execute(statement).first() is not None


def _timestamp(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class SesEvent:
    event_type: str
    key: str
    provider_message_id: str | None
    ledger_id: int | None
    occurred_at: datetime
    detail: str | None
    recipients: tuple[str, ...]
    raw: Mapping[str, Any]


def parse_ses_event(data: Any, *, tag: str | None = None) -> SesEvent:
    """The parts of one SES event record homecoming uses; ``MalformedEvent`` if it is none."""
    if not isinstance(data, Mapping):
        raise MalformedEvent("not a JSON object")
    name = data.get("eventType") or data.get("notificationType")
    event_type = EVENT_TYPES.get(name) if isinstance(name, str) else None
    mail = data.get("mail")
    if event_type is None or not isinstance(mail, Mapping):
        raise MalformedEvent("no known eventType and mail object")
    details = data.get(DETAIL_FIELD[event_type]) or {}
    if not isinstance(details, Mapping):
        raise MalformedEvent(f"{DETAIL_FIELD[event_type]} is not an object")
    provider_id = mail.get("messageId") if isinstance(mail.get("messageId"), str) else None
    occurred = _timestamp(details.get("timestamp")) or _timestamp(mail.get("timestamp"))
    if occurred is None:
        raise MalformedEvent("no timestamp")

    ledger_id = None
    tags = mail.get("tags")
    values = tags.get(tag or get_settings().ledger_tag) if isinstance(tags, Mapping) else None
    if isinstance(values, list) and values and str(values[0]).isdigit():
        ledger_id = int(values[0])

    detail = None
    recipients: list[Any] = []
    if event_type == "bounce":
        detail = f"{details.get('bounceType', 'Undetermined')}/{details.get('bounceSubType', '')}"
        recipients = [r.get("emailAddress") for r in details.get("bouncedRecipients") or []]
    elif event_type == "complaint":
        detail = str(details.get("complaintFeedbackType") or "") or None
        recipients = [r.get("emailAddress") for r in details.get("complainedRecipients") or []]
    if not recipients and isinstance(mail.get("destination"), list):
        recipients = list(mail["destination"])

    # The identity of the event itself: SES gives bounces and complaints a feedback id;
    # other events are one per (message, type, time[, link]).
    identity = [event_type, provider_id or "", str(details.get("feedbackId") or "")]
    identity += [
        str(details.get("timestamp") or mail.get("timestamp")),
        str(details.get("link", "")),
    ]
    if not provider_id:
        identity.append(json.dumps(data, sort_keys=True, default=str))
    key = hashlib.sha256("\x1f".join(identity).encode()).hexdigest()
    return SesEvent(
        event_type=event_type,
        key=f"ses:{key}",
        provider_message_id=provider_id,
        ledger_id=ledger_id,
        occurred_at=occurred,
        detail=detail[:64] if detail else None,
        recipients=tuple(r for r in recipients if isinstance(r, str) and r),
        raw=data,
    )


def unwrap(body: str) -> Any:
    """The SES event inside an SQS body: an SNS envelope, or the event itself (raw delivery)."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent("body is not JSON") from exc
    if isinstance(data, Mapping) and data.get("Type") == "Notification" and "Message" in data:
        try:
            return json.loads(data["Message"])
        except (TypeError, ValueError) as exc:
            raise MalformedEvent("SNS Message is not JSON") from exc
    return data


def set_consent(
    conn: Connection,
    *,
    customer_id: int,
    channel: str,
    status: str,
    source: str,
    at: datetime,
    escalate_only: bool = True,
) -> bool:
    """Move one customer's consent on one channel; True when it changed.

    With ``escalate_only`` (provider events, unsubscribes) the status never moves back
    towards sending, and a customer's own newer choice on the web (made after ``at``) wins.
    """
    status = ConsentStatus(status)
    values = dict(
        customer_id=customer_id, channel=channel, status=status, source=source, updated_at=at
    )
    if insert_new(conn, CONSENT, values, key=["customer_id", "channel"]):
        return True
    c = CONSENT.c
    condition = and_(c.customer_id == customer_id, c.channel == channel, c.status != status)
    if escalate_only:
        weaker = [s.value for s, rank in RANK.items() if rank < RANK[status]]
        condition = and_(
            condition,
            c.status.in_(weaker),
            ~and_(c.source.like("web%"), c.updated_at > at),
        )
    changed = conn.execute(
        update(CONSENT).where(condition).values(status=status, source=source, updated_at=at)
    ).rowcount
    return bool(changed)


def add_interaction(
    conn: Connection,
    *,
    customer_id: int,
    kind: str,
    occurred_at: datetime,
    source_ref: str,
    channel: str | None = "email",
    message_id: int | None = None,
    value: float | None = None,
    detail: str | None = None,
) -> bool:
    """One interaction, once per ``source_ref``; True when it is new."""
    values = dict(
        customer_id=customer_id,
        kind=kind,
        channel=channel,
        occurred_at=occurred_at,
        message_id=message_id,
        value=value,
        detail=detail,
        source_ref=source_ref,
    )
    return insert_new(conn, INTERACTION, values, key=["source_ref"])


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
    c = Customer.__table__.c
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


def apply_event(conn: Connection, event: SesEvent, *, now: datetime | None = None) -> str:
    """Record one event and what it changes, in the caller's transaction; returns the outcome.

    Outcomes: ``duplicate``, ``unmatched``, ``suppressed``, ``recorded``.
    """
    settings = get_settings()
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
                channel="email",
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
                    channel="email",
                    status=ConsentStatus.bounced,
                    source="ses:bounce" if permanent else "ses:soft_bounces",
                    at=event.occurred_at,
                )
    if suppressed:
        outcome = "suppressed"
        conn.execute(update(EVENT).where(EVENT.c.event_key == event.key).values(outcome=outcome))
    return outcome


def process_events(
    engine: Engine, events: Iterable[SesEvent | Any], *, now: datetime | None = None
) -> list[str]:
    """Apply SES event records in one transaction; the outcome of each, in order.

    Each event runs in a savepoint, so one that fails (outcome ``failed``, logged by
    event type only) leaves the others in place.
    """
    outcomes: list[str] = []
    with engine.begin() as conn:
        for item in events:
            try:
                event = item if isinstance(item, SesEvent) else parse_ses_event(item)
            except MalformedEvent:
                outcomes.append("malformed")
                continue
            try:
                with conn.begin_nested():
                    outcomes.append(apply_event(conn, event, now=now))
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
) -> dict[str, int]:
    """Drain up to ``max_messages`` from the SQS queue; delete each only after its commit.

    A message that is not an SES event is left in the queue (its redrive policy moves it
    to the dead-letter queue) and counted as ``malformed``.
    """
    queue_url = queue_url or get_settings().sqs_queue_url
    if not queue_url:
        raise ValueError("no queue: set HOMECOMING_SQS_QUEUE_URL")
    if client is None:
        import boto3

        client = boto3.client("sqs")
    totals: Counter[str] = Counter()
    received = 0
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
                break
            received += len(messages)
            for message in messages:
                try:
                    event = parse_ses_event(unwrap(message["Body"]))
                except MalformedEvent as exc:
                    totals["malformed"] += 1
                    log.warning("queue message %s left in the queue: %s", message["MessageId"], exc)
                    continue
                batch.append((message["ReceiptHandle"], message["MessageId"], event))
        if not batch:
            break
        outcomes = process_events(engine, [event for _, _, event in batch], now=now)
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
    return dict(totals)
