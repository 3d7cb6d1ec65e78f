"""Consent changes and interactions: the two writes every source of customer feedback shares.

Provider events (``campaigns.events``: bounces, complaints, engagement) and the web service
(``web.actions``: unsubscribes, preferences, answers) both move a customer's consent and
record what the customer did. Both go through here, so the rules hold whichever source
writes: consent moves only towards suppression unless a caller says otherwise, a customer's
own newer choice on the web is not overridden by an older event, and each interaction is
recorded once under its source reference, whatever is replayed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, update

from models.base import table
from models.dialect import insert_new
from models.store import Channel, Consent, ConsentStatus, Interaction

CONSENT = table(Consent)
INTERACTION = table(Interaction)

# How strongly each status keeps mail away; provider events only ever move up this scale.
RANK = {
    ConsentStatus.subscribed: 0,
    ConsentStatus.unsubscribed: 1,
    ConsentStatus.complained: 2,
    ConsentStatus.bounced: 3,
}


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
    channel: str | None = Channel.email,
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


__all__ = ["RANK", "add_interaction", "set_consent"]
