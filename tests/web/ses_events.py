"""SES event records shaped like the ones SES publishes to SNS (event publishing with a
configuration set, so message tags are included), for tests."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def mail(
    *, ledger_id: int | None, provider_id: str, to: str = "ada@example.com", at: datetime = T0
) -> dict[str, Any]:
    tags: dict[str, list[str]] = {
        "ses:configuration-set": ["homecoming-events"],
        "ses:source-ip": ["192.0.2.0"],
        "ses:from-domain": ["example.com"],
        "ses:caller-identity": ["homecoming"],
    }
    if ledger_id is not None:
        tags["ledger_id"] = [str(ledger_id)]
    return {
        "timestamp": _iso(at),
        "source": "Homecoming Store <store@example.com>",
        "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/store@example.com",
        "sendingAccountId": "123456789012",
        "messageId": provider_id,
        "destination": [to],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "Homecoming Store <store@example.com>"},
            {"name": "To", "value": to},
            {"name": "Subject", "value": "How did we do?"},
            {"name": "MIME-Version", "value": "1.0"},
        ],
        "commonHeaders": {
            "from": ["Homecoming Store <store@example.com>"],
            "to": [to],
            "messageId": provider_id,
            "subject": "How did we do?",
        },
        "tags": tags,
    }


def provider_id() -> str:
    return f"0102018e{uuid.uuid4().hex[:8]}-{uuid.uuid4()}-000000"


def event(
    kind: str,
    *,
    ledger_id: int | None,
    provider: str | None = None,
    to: str = "ada@example.com",
    at: datetime = T0 + timedelta(minutes=1),
    bounce_type: str = "Permanent",
    link: str = "https://shop.example/products/teapot",
) -> dict[str, Any]:
    """One event of ``kind`` (Bounce, Complaint, Delivery, Open, Click, Send)."""
    record: dict[str, Any] = {
        "eventType": kind,
        "mail": mail(ledger_id=ledger_id, provider_id=provider or provider_id(), to=to),
    }
    stamp = _iso(at)
    if kind == "Bounce":
        record["bounce"] = {
            "bounceType": bounce_type,
            "bounceSubType": "General" if bounce_type == "Permanent" else "MailboxFull",
            "bouncedRecipients": [
                {
                    "emailAddress": to,
                    "action": "failed",
                    "status": "5.1.1" if bounce_type == "Permanent" else "4.2.2",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": stamp,
            "feedbackId": f"0102018e-{uuid.uuid4()}-000000",
            "reportingMTA": "dsn; mta.example.com",
        }
    elif kind == "Complaint":
        record["complaint"] = {
            "feedbackId": f"0102018e-{uuid.uuid4()}-000000",
            "complaintSubType": None,
            "complainedRecipients": [{"emailAddress": to}],
            "timestamp": stamp,
            "userAgent": "Mozilla/5.0",
            "complaintFeedbackType": "abuse",
            "arrivalDate": stamp,
        }
    elif kind == "Delivery":
        record["delivery"] = {
            "timestamp": stamp,
            "processingTimeMillis": 1200,
            "recipients": [to],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "mta.example.com",
        }
    elif kind == "Open":
        record["open"] = {"ipAddress": "192.0.2.1", "timestamp": stamp, "userAgent": "Mozilla/5.0"}
    elif kind == "Click":
        record["click"] = {
            "ipAddress": "192.0.2.1",
            "timestamp": stamp,
            "userAgent": "Mozilla/5.0",
            "link": link,
            "linkTags": {},
        }
    elif kind == "Send":
        record["send"] = {}
    else:
        raise ValueError(kind)
    return record


def sns_envelope(record: dict[str, Any], *, topic: str, message_id: str | None = None) -> str:
    """The body SQS holds when SNS delivers the event without raw message delivery."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": message_id or str(uuid.uuid4()),
            "TopicArn": topic,
            "Message": json.dumps(record),
            "Timestamp": _iso(T0),
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem",
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
        }
    )
