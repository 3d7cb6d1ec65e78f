"""Settling rows caught mid-send before anything is resent.

A row left in ``sending`` by a claim nobody works on any more (its process is gone, or its
lease ran out) is uncertain: the provider may or may not have the message. The evidence is
weighed in this order:

1. a provider message id on the row: sent;
2. the transport's own record (:meth:`Transport.lookup`): the outbox file named by the
   ledger id, or in tests moto's list of received messages: sent. For an *authoritative*
   transport (the outbox) a miss proves the message was never sent;
3. provider events for the row (SES send, delivery, bounce... events carry the ledger id
   tag; ``sync-provider-events`` records them): sent;
4. the claim's journal (``campaigns/journal.py``, readable when the claim was made on this
   host): accepted -> sent, refused -> failed, definitely not taken or never attempted ->
   back to planned;
5. with ``HOMECOMING_SES_SEND_EVENTS`` on (the configuration set publishes every Send event
   to the queue), once the queue has been read to its end later than the claim's last
   renewal plus its lease plus the publishing delay: no Send event proves SES never took the
   message, so it goes back to planned (``no_send_event``). A live sender renews its claim
   at least every quarter lease, so every call the dead claim made lies before that;
6. otherwise (an attempt with no answer, a 5xx, a dropped connection, a crash inside the
   call, or a claim from another host): still uncertain. It is never resent blindly: it
   stays ``sending`` and is reported (``uncertain``) until evidence arrives, and the
   operator decides. Only with ``HOMECOMING_RESEND_UNCERTAIN_AFTER_GRACE`` on does it go
   back to planned once ``reconcile_grace_minutes`` have passed (counted as
   ``resent_after_grace``, and logged); ``release_uncertain`` does the same on request.

Every decision is reported (counts per kind) and only rows still held by the abandoned claim
are changed, so two workers reconciling at once agree.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, select

from campaigns import journal as journals
from campaigns.channels.base import Transport
from campaigns.ledger import HOST, insert_for, is_abandoned
from models.base import table, utcnow
from models.campaigns import Message, MessageStatus, Reason
from models.settings import Settings
from models.surveys import ProviderEvent, ProviderQueueDrain

log = logging.getLogger(__name__)
M = table(Message)
EVENTS = table(ProviderEvent)
DRAINS = table(ProviderQueueDrain)


def note_drained(engine: Engine, at: datetime, *, provider: str = "ses") -> None:
    """Record that the provider's event queue was read to its end at ``at`` (never moved back)."""
    with engine.begin() as conn:
        moved = conn.execute(
            DRAINS.update()
            .where(DRAINS.c.provider == provider, DRAINS.c.drained_at < at)
            .values(drained_at=at)
        ).rowcount
        if not moved:
            conn.execute(
                insert_for(conn, DRAINS)
                .values(provider=provider, drained_at=at)
                .on_conflict_do_nothing(index_elements=["provider"])
            )


def send_events_drained(
    engine: Engine, transport: Transport, settings: Settings
) -> datetime | None:
    """Until when the transport's Send events are all recorded, when that proves anything."""
    if transport.name != "ses" or not settings.ses_send_events:
        return None
    with engine.connect() as conn:
        return conn.execute(
            select(DRAINS.c.drained_at).where(DRAINS.c.provider == "ses")
        ).scalar_one_or_none()


@dataclass
class ReconcileReport:
    checked: int = 0
    in_progress: int = 0  # claimed by a worker still at it
    confirmed_sent: int = 0
    failed: int = 0
    resent: int = 0  # proven never sent: back to planned
    resent_after_grace: int = 0  # no evidence either way within the grace period
    uncertain: int = 0  # still waiting for evidence
    evidence: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "in_progress": self.in_progress,
            "confirmed_sent": self.confirmed_sent,
            "failed": self.failed,
            "resent": self.resent,
            "resent_after_grace": self.resent_after_grace,
            "uncertain": self.uncertain,
            "evidence": dict(self.evidence),
        }

    @property
    def settled(self) -> int:
        return self.confirmed_sent + self.failed + self.resent + self.resent_after_grace

    def merge(self, other: ReconcileReport) -> None:
        """Add another channel's reconciliation to this one (a run may send on two)."""
        self.checked += other.checked
        self.in_progress += other.in_progress
        self.confirmed_sent += other.confirmed_sent
        self.failed += other.failed
        self.resent += other.resent
        self.resent_after_grace += other.resent_after_grace
        self.uncertain += other.uncertain
        self.evidence.update(other.evidence)


def reconcile(
    engine: Engine,
    *,
    campaign: str,
    period: str | None,
    transport: Transport,
    settings: Settings,
    now: datetime | None = None,
    journal_dir: Path | None = None,
    lease: timedelta | None = None,
    grace: timedelta | None = None,
    channel: str | None = None,
) -> ReconcileReport:
    """Settle the abandoned 'sending' rows of a campaign (one period, or all with None);
    ``channel`` only that channel's rows, the ones ``transport`` sent."""
    clock = utcnow()
    sent_at = now or clock
    lease = lease or timedelta(minutes=settings.send_lease_minutes)
    grace = grace or timedelta(minutes=settings.reconcile_grace_minutes)
    directory = Path(journal_dir or settings.send_journal_dir)
    report = ReconcileReport()

    query = select(M.c.id, M.c.claimed_by, M.c.claimed_at, M.c.provider_message_id).where(
        M.c.campaign == campaign, M.c.status == MessageStatus.sending
    )
    if period is not None:
        query = query.where(M.c.period == period)
    if channel is not None:
        query = query.where(M.c.channel == channel)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    report.checked = len(rows)
    stale = [r for r in rows if is_abandoned(r.claimed_by, r.claimed_at, lease=lease)]
    report.in_progress = len(rows) - len(stale)
    if not stale:
        return report

    ids = [r.id for r in stale]
    held = transport.lookup(ids)
    with engine.connect() as conn:
        events: dict[int, str | None] = {}
        for start in range(0, len(ids), 500):
            for message_id, provider_id in conn.execute(
                select(EVENTS.c.message_id, EVENTS.c.provider_message_id).where(
                    EVENTS.c.message_id.in_(ids[start : start + 500])
                )
            ):
                events[message_id] = events.get(message_id) or provider_id
    notes: dict[str, dict[int, journals.Entry] | None] = {}
    drained = send_events_drained(engine, transport, settings)
    publishing = lease + timedelta(minutes=settings.ses_event_delay_minutes)

    sent: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    back: list[dict[str, Any]] = []
    for r in stale:
        key = {"mid": r.id, "claimer": r.claimed_by}
        if r.provider_message_id:
            sent.append({**key, "pid": r.provider_message_id})
            report.evidence["provider_id"] += 1
            continue
        if r.id in held:
            sent.append({**key, "pid": held[r.id]})
            report.evidence["transport"] += 1
            continue
        if transport.authoritative:
            back.append(key)
            report.resent += 1
            report.evidence["transport_absent"] += 1
            continue
        if r.id in events:
            sent.append({**key, "pid": events[r.id] or f"event:{r.id}"})
            report.evidence["provider_event"] += 1
            continue
        claimer = r.claimed_by or ""
        entry = None
        readable = claimer.split(":", 1)[0] == HOST
        if readable:
            if claimer not in notes:
                notes[claimer] = journals.read(directory, claimer)
            found = notes[claimer]
            readable = found is not None
            entry = found.get(r.id) if found is not None else None
        if readable and (entry is None or entry.state == "not_sent"):
            back.append(key)
            report.resent += 1
            report.evidence["journal_not_sent"] += 1
            continue
        if entry is not None and entry.state == "accepted":
            sent.append({**key, "pid": entry.detail or f"journal:{r.id}"})
            report.evidence["journal_accepted"] += 1
            continue
        if entry is not None and entry.state == "refused":
            failed.append({**key, "err": (entry.detail or "refused")[:500]})
            report.failed += 1
            report.evidence["journal_refused"] += 1
            continue
        if (
            drained is not None
            and r.claimed_at is not None
            and r.claimed_at + publishing <= drained
        ):
            back.append(key)
            report.resent += 1
            report.evidence["no_send_event"] += 1
            continue
        graced = r.claimed_at is not None and clock - r.claimed_at >= grace
        if graced and settings.resend_uncertain_after_grace:
            back.append(key)
            report.resent_after_grace += 1
            report.evidence["grace_elapsed"] += 1
            continue
        report.uncertain += 1

    guard = (
        M.c.id == bindparam("mid"),
        M.c.status == MessageStatus.sending,
        M.c.claimed_by == bindparam("claimer"),
    )
    with engine.begin() as conn:
        if sent:
            conn.execute(
                M.update()
                .where(*guard)
                .values(
                    status=MessageStatus.sent, sent_at=sent_at, provider_message_id=bindparam("pid")
                ),
                sent,
            )
        if failed:
            conn.execute(
                M.update()
                .where(*guard)
                .values(
                    status=MessageStatus.failed, reason=Reason.send_failed, error=bindparam("err")
                ),
                failed,
            )
        if back:
            conn.execute(
                M.update()
                .where(*guard)
                .values(status=MessageStatus.planned, claimed_by=None, claimed_at=None),
                back,
            )
    report.confirmed_sent = len(sent)
    if report.resent_after_grace:
        log.warning(
            "campaign %s: %d uncertain rows resent without evidence "
            "(HOMECOMING_RESEND_UNCERTAIN_AFTER_GRACE is on)",
            campaign,
            report.resent_after_grace,
        )
    return report


def release_uncertain(
    engine: Engine,
    *,
    campaign: str,
    period: str | None,
    settings: Settings,
    lease: timedelta | None = None,
) -> int:
    """Put the abandoned, unproven rows of a campaign back to planned, to be sent again.

    The operator's explicit choice (``homecoming campaigns resend-uncertain``) after
    reconciliation found no evidence either way: a message the provider did take is then
    sent a second time. Returns how many rows were released; the count is logged.
    """
    lease = lease or timedelta(minutes=settings.send_lease_minutes)
    query = select(M.c.id, M.c.claimed_by, M.c.claimed_at).where(
        M.c.campaign == campaign,
        M.c.status == MessageStatus.sending,
        M.c.provider_message_id.is_(None),
    )
    if period is not None:
        query = query.where(M.c.period == period)
    with engine.begin() as conn:
        stale = [
            {"mid": r.id, "claimer": r.claimed_by}
            for r in conn.execute(query)
            if is_abandoned(r.claimed_by, r.claimed_at, lease=lease)
        ]
        if stale:
            conn.execute(
                M.update()
                .where(
                    M.c.id == bindparam("mid"),
                    M.c.status == MessageStatus.sending,
                    M.c.claimed_by == bindparam("claimer"),
                )
                .values(status=MessageStatus.planned, claimed_by=None, claimed_at=None),
                stale,
            )
    log.warning("campaign %s: %d uncertain rows released to be sent again", campaign, len(stale))
    return len(stale)
