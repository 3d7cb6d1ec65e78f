"""Small builders for web and survey tests: a customer, a ledger row, a signed link, a
survey email from the outbox."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html import unescape
from pathlib import Path

from sqlalchemy import Engine, insert, select

from models.campaigns import Message
from models.store import Consent, Customer, Interaction

_PERIODS = itertools.count(1)


def customer(
    engine: Engine,
    *,
    external_id: str = "c1",
    locale: str = "en",
    email: str | None = "ada@example.com",
    consent: str | None = "subscribed",
) -> int:
    with engine.begin() as conn:
        cid = conn.execute(
            insert(Customer.__table__)
            .values(
                external_id=external_id,
                email=email,
                first_name="Ada",
                locale=locale,
                time_zone="Europe/Istanbul",
                created_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
            .returning(Customer.__table__.c.id)
        ).scalar_one()
        if consent:
            conn.execute(
                insert(Consent.__table__).values(
                    customer_id=cid,
                    channel="email",
                    status=consent,
                    source="import",
                    updated_at=datetime(2025, 1, 1, tzinfo=UTC),
                )
            )
    return cid


def message(
    engine: Engine,
    customer_id: int,
    *,
    campaign: str = "csat_after_ticket",
    kind: str = "csat",
    template: str | None = "csat_survey",
    channel: str = "email",
    period: str | None = None,
    provider_message_id: str | None = None,
) -> int:
    with engine.begin() as conn:
        return conn.execute(
            insert(Message.__table__)
            .values(
                campaign=campaign,
                period=period or f"t{next(_PERIODS)}",
                customer_id=customer_id,
                channel=channel,
                kind=kind,
                status="sent",
                template=template,
                locale="en",
                sent_at=datetime(2026, 1, 1, tzinfo=UTC),
                provider_message_id=provider_message_id,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
            .returning(Message.__table__.c.id)
        ).scalar_one()


def rows(engine: Engine, table, *where) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).where(*where)).mappings()]


def path(url: str) -> str:
    """The path of an absolute link (the test client talks to the app directly)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def resolved_ticket(engine: Engine, customer_id: int, resolved_at: datetime) -> int:
    from models.store import SupportTicket

    t = SupportTicket.__table__
    with engine.begin() as conn:
        return conn.execute(
            insert(t)
            .values(
                external_id=f"ticket-{customer_id}-{next(_PERIODS)}",
                customer_id=customer_id,
                channel="email",
                topic="delivery",
                opened_at=resolved_at,
                resolved_at=resolved_at,
            )
            .returning(t.c.id)
        ).scalar_one()


def survey_email(engine: Engine, tmp_path: Path, *, locale: str = "en") -> EmailMessage:
    """Send a CSAT survey through the file outbox, as the send-surveys run does; the email."""
    from campaigns.channels.outbox import OutboxTransport
    from campaigns.surveys import send_due_surveys, triggered_campaigns

    cid = customer(engine, locale=locale)
    resolved = datetime.now(UTC).replace(hour=10) - timedelta(days=1)
    resolved_ticket(engine, cid, resolved)
    (csat,) = [c for c in triggered_campaigns()[0] if c.name == "csat_after_ticket"]
    folder = tmp_path / "outbox"
    result = send_due_surveys(
        engine,
        now=resolved + timedelta(hours=1),
        campaigns=[csat],
        email_transport=OutboxTransport(folder, channel="email"),
    )
    assert result["sent"] == 1
    (eml,) = folder.glob("*.eml")
    email = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert isinstance(email, EmailMessage)
    return email


def email_links(email: EmailMessage) -> list[str]:
    """Every URL in an email: the HTML and text parts and the List-Unsubscribe header, as a
    mail scanner sees them."""
    found: list[str] = []
    for part in email.walk():
        if part.get_content_type() == "text/html":
            found += [unescape(u) for u in re.findall(r'href="([^"]+)"', part.get_content())]
        elif part.get_content_type() == "text/plain":
            found += re.findall(r"https?://[^\s<>\"')]+", part.get_content())
    found += re.findall(r"<([^>]+)>", str(email.get("List-Unsubscribe", "")))
    return list(dict.fromkeys(found))


def interactions(engine: Engine, customer_id: int, kind: str) -> list[dict]:
    t = Interaction.__table__
    return rows(engine, t, t.c.customer_id == customer_id, t.c.kind == kind)
