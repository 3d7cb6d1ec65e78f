"""Sending the due rows of the ledger, batch by batch, exactly once.

For each batch: one transaction claims it (planned -> sending), re-reads every recipient's
consent, address and device (a customer who opted out since planning is suppressed now, not
sent to) and reads the template context. Outside any transaction, before every few dozen
messages, the send-time rules (``campaigns.send_rules``: dates, lateness, quiet hours, gap
and caps) are checked at that moment; then each message is rendered and handed to the
transport, after a last look at the row (``campaigns.last_moment``: still this claim's, the
customer still consents) that also renews the claim's lease; non-authoritative transports
note each call in the journal first and its answer right after. One transaction then
records the batch (sent with the provider's id and the moment it accepted the message,
failed with the reason, deferred to a later moment, skipped, released, devices disabled)
and claims the next.

``now`` None runs on the clock: claims, rules and ``sent_at`` use the time of each step. A
given ``now`` (back-fills, tests, the demo) stands for every one of those moments.

A crash anywhere leaves at most one batch in ``sending``; ``campaigns.reconcile`` settles it
before anything is resent. A problem with one recipient (a template that cannot render for
their locale, an address the provider refuses) fails that row and the batch goes on.

This module claims and records batches; ``campaigns.sender`` renders and sends one, and
``campaigns.send_report`` adds up the outcomes (both re-exported here).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from campaigns import render
from campaigns.campaign import Campaign
from campaigns.channels.base import Transport
from campaigns.eligibility import has_address, suppression_reason
from campaigns.journal import Journal
from campaigns.last_moment import LastMoment
from campaigns.ledger import (
    ACTIVE_CLAIMERS,
    BatchResult,
    Recipient,
    claim,
    finish,
    new_claimer,
    recipients,
)
from campaigns.render import CampaignContext, ContextBuilder
from campaigns.send_report import SendReport
from campaigns.send_rules import SendRules
from campaigns.sender import (
    RULES_EVERY,
    THROTTLE_GROUP,
    UNSUBSCRIBE_POST,
    Clock,
    Sender,
    headers_for,
)
from models.base import utcnow
from models.settings import Settings
from templates.renderer import MessageRenderer

log = logging.getLogger(__name__)


def fixed_clock(moment: datetime) -> Clock:
    """A clock that always shows ``moment`` (a run with a given ``now``)."""
    return lambda: moment


def recheck(batch: Sequence[Recipient]) -> tuple[list[Recipient], list[tuple[int, str]]]:
    """Split a claimed batch into who may still be sent to and who not (with the reason)."""
    ok: list[Recipient] = []
    refused: list[tuple[int, str]] = []
    for r in batch:
        reason = suppression_reason(
            r.channel,
            r.consent,
            has_address=has_address(r.email),
            has_device=r.device_id is not None,
        )
        if reason is None:
            ok.append(r)
        else:
            refused.append((r.id, reason))
    return ok, refused


def _claim_batch(
    conn: Connection,
    *,
    campaign: str,
    period: str | None,
    now: datetime,
    limit: int,
    claimer: str,
    context: ContextBuilder,
    report: SendReport,
    channel: str | None = None,
) -> tuple[list[Recipient], dict[int, dict[str, Any]]]:
    """Claim (only ``channel``'s rows when given), re-check consent, and read the context, in
    the caller's transaction."""
    while True:
        ids = claim(
            conn,
            campaign=campaign,
            period=period,
            now=now,
            limit=limit,
            claimer=claimer,
            channel=channel,
        )
        if not ids:
            return [], {}
        ok, refused = recheck(recipients(conn, ids, channel=channel))
        if refused:
            gone = BatchResult.empty()
            gone.suppressed.extend(refused)
            finish(conn, claimer=claimer, result=gone)
            report.suppressed.update(reason for _, reason in refused)
        if ok:
            return ok, context(conn, ok)


def send_due(
    engine: Engine,
    *,
    campaign: str,
    period: str | None,
    now: datetime | None,
    transport: Transport,
    settings: Settings,
    renderer: MessageRenderer | None = None,
    context: ContextBuilder | None = None,
    definition: Campaign | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    throttle: Callable[[int], None] | None = None,
    journal_dir: Path | None = None,
    channel: str | None = None,
) -> SendReport:
    """Send the planned rows of ``campaign`` (one ``period``, or all with None) that are due,
    on ``channel`` (default: the definition's) through ``transport``, that channel's.

    ``now`` None runs on the clock; a given ``now`` stands for every moment of the run.
    ``definition`` (the campaign) turns on the send-time rules. ``context`` builds the
    template context of a batch (default: the campaign's, from ``definition``); surveys pass
    their own with the answer links. ``throttle(n)`` is called before every ``n`` messages
    (the flow passes a Prefect rate limit). ``settings`` come from the run's entry point.
    """
    if renderer is None:
        renderer = render.default_renderer()  # looked up on the module: tests replace it
    context = context or CampaignContext(definition, settings, renderer)
    lease = timedelta(minutes=settings.send_lease_minutes)
    limit = batch_size or settings.send_batch_size
    if settings.send_rate_per_second:  # a batch takes at most half a lease at the shared rate
        limit = max(1, min(limit, int(settings.send_rate_per_second * lease.total_seconds() / 2)))
    claimer = new_claimer()
    ACTIVE_CLAIMERS.add(claimer)
    journal = (
        None
        if transport.authoritative
        else Journal(Path(journal_dir or settings.send_journal_dir), claimer)
    )
    clock = utcnow if now is None else fixed_clock(now)
    if channel is None and definition is not None:
        channel = definition.channel
    # The send-time caps of a fallback message are those of the channel it goes on.
    view = definition.on(channel) if definition is not None and channel else definition
    sender = Sender(
        transport=transport,
        renderer=renderer,
        context=context,
        settings=settings,
        throttle=throttle,
        journal=journal,
        rules=SendRules(view, settings) if view is not None else None,
        engine=engine,
        clock=clock,
        last_moment=LastMoment(
            engine, claimer, lease=lease, topic=definition.topic if definition else None
        ),
    )
    report = SendReport()

    def claim_next(conn: Connection) -> tuple[list[Recipient], dict[int, dict[str, Any]]]:
        return _claim_batch(
            conn,
            campaign=campaign,
            period=period,
            now=clock(),
            limit=limit,
            claimer=claimer,
            context=context,
            report=report,
            channel=channel,
        )

    try:
        with engine.begin() as conn:
            batch, contexts = claim_next(conn)
        while batch:
            result, stop = sender.send_batch(batch, contexts)
            report.add(result)
            more = stop is None and (max_batches is None or report.batches < max_batches)
            with engine.begin() as conn:
                finish(conn, claimer=claimer, result=result)
                batch, contexts = claim_next(conn) if more else ([], {})
            log.info(
                "campaign %s: batch of %d sent=%d failed=%d deferred=%d skipped=%d",
                campaign,
                result.size,
                len(result.sent),
                len(result.failed),
                len(result.deferred),
                len(result.suppressed),
            )
            if stop is not None:
                report.stopped = stop
    finally:
        ACTIVE_CLAIMERS.discard(claimer)
        if journal:
            journal.close()
    return report


__all__ = [
    "RULES_EVERY",
    "THROTTLE_GROUP",
    "UNSUBSCRIBE_POST",
    "Clock",
    "SendReport",
    "Sender",
    "fixed_clock",
    "headers_for",
    "recheck",
    "send_due",
]
