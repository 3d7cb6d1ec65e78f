"""SES event records: the parts homecoming uses, read from SES's JSON.

An SES event (bounce, complaint, delivery, open, click, send, ...) arrives as an SNS
envelope whose ``Message`` is the event, or as the event itself (raw delivery). Only the
format is handled here, without the database: what an event is applied to and how is
``campaigns.events``. Each event gets a stable identity, so a duplicate from the queue or a
replayed notification is recognised wherever it comes from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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


class MalformedEvent(ValueError):
    """A queue message that is not an SES event; it stays in the queue for the dead letters."""


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


def parse_ses_event(data: Any, *, tag: str) -> SesEvent:
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
    values = tags.get(tag) if isinstance(tags, Mapping) else None
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


__all__ = ["EVENT_TYPES", "MalformedEvent", "SesEvent", "parse_ses_event", "unwrap"]
