"""Sending the due rows of the ledger, batch by batch, exactly once.

For each batch: one transaction claims it (planned -> sending), re-reads every recipient's
consent, address and device (a customer who opted out since planning is suppressed now, not
sent to) and reads the template context. Outside any transaction, before every few dozen
messages, the send-time rules (``campaigns.send_rules``: dates, lateness, quiet hours, gap
and caps) are checked at that moment; then each message is rendered and handed to the
transport, after a last look at the row (``campaigns.last_moment``: still this claim's, the
customer still consents) that also renews the claim's lease; non-authoritative transports
note each call in the journal first and its answer right after. One transaction then records the batch (sent with the provider's id and the
moment it accepted the message, failed with the reason, deferred to a later moment,
skipped, released, devices disabled) and claims the next.

``now`` None runs on the clock: claims, rules and ``sent_at`` use the time of each step. A
given ``now`` (back-fills, tests, the demo) stands for every one of those moments.

A crash anywhere leaves at most one batch in ``sending``; ``campaigns.reconcile`` settles it
before anything is resent. A problem with one recipient (a template that cannot render for
their locale, an address the provider refuses) fails that row and the batch goes on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formataddr
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from campaigns.channels.base import Outgoing, SendError, Transport
from campaigns.eligibility import has_address, suppression_reason
from campaigns.journal import Journal
from campaigns.last_moment import LOST, LastMoment
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
from campaigns.send_rules import SendRules
from models.base import utcnow
from models.settings import get_settings

log = logging.getLogger(__name__)
UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"
# Calls to the throttle are grouped so a shared rate limit costs one request per group.
THROTTLE_GROUP = 10
# The send-time rules are checked before every this many messages (one query each time).
RULES_EVERY = 50
Clock = Callable[[], datetime]


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    released: int = 0
    uncertain: int = 0
    batches: int = 0
    reconciled: int = 0  # rows an earlier try left mid-send, settled before this step sent
    suppressed: Counter[str] = field(default_factory=Counter)  # skipped at send, by reason
    deferred: Counter[str] = field(default_factory=Counter)  # moved to a later moment
    failures: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None

    def add(self, result: BatchResult) -> None:
        self.batches += 1
        self.sent += len(result.sent)
        self.failed += len(result.failed)
        self.released += len(result.released)
        self.uncertain += len(result.uncertain)
        self.suppressed.update(reason for _, reason in result.suppressed)
        self.deferred.update(reason for _, _, reason in result.deferred)
        for _, reason in result.failed:
            self.failures[reason.split(":", 1)[0][:60]] += 1

    def merge(self, other: SendReport) -> None:
        """Add another step's report to this one (a run sends in several steps)."""
        self.sent += other.sent
        self.failed += other.failed
        self.released += other.released
        self.uncertain += other.uncertain
        self.batches += other.batches
        self.reconciled += other.reconciled
        self.suppressed.update(other.suppressed)
        self.deferred.update(other.deferred)
        self.failures.update(other.failures)
        self.stopped = other.stopped or self.stopped

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "suppressed_at_send": dict(self.suppressed),
            "deferred": dict(self.deferred),
            "released": self.released,
            "uncertain": self.uncertain,
            "batches": self.batches,
            "reconciled": self.reconciled,
            "failure_reasons": dict(self.failures),
            "stopped": self.stopped,
        }


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


def headers_for(r: Recipient, unsubscribe: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe on every message, and the ledger id for tracing."""
    return {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": UNSUBSCRIBE_POST,
        "X-Homecoming-Ledger-Id": str(r.id),
    }


def _render_errors() -> tuple[type[Exception], ...]:
    """The templates' per-recipient error (a row fails with its message, the batch goes on)."""
    try:
        from templates import RenderError
    except ImportError:
        return ()
    return (RenderError,)


class Sender:
    """Renders and sends claimed batches for one campaign through one transport."""

    def __init__(
        self,
        *,
        transport: Transport,
        renderer: Any,
        context: ContextBuilder,
        throttle: Callable[[int], None] | None = None,
        journal: Journal | None = None,
        rules: SendRules | None = None,
        engine: Engine | None = None,
        clock: Clock = utcnow,
        last_moment: LastMoment | None = None,
    ) -> None:
        self.transport = transport
        self.renderer = renderer
        self.context = context
        self.throttle = throttle
        self.journal = journal
        self.rules = rules
        self.engine = engine
        self.last_moment = last_moment
        self.clock = clock
        self.render_errors = _render_errors()
        self.sender = get_settings().email_from
        self._allowance = 0

    def outgoing(self, r: Recipient, context: dict[str, Any]) -> Outgoing:
        template = r.template or r.kind
        if r.channel == "email":
            email = self.renderer.email(
                template, locale=r.locale, context=context, variant=r.variant
            )
            name = " ".join(p for p in (r.first_name, r.last_name) if p)
            item = Outgoing(
                ledger_id=r.id,
                customer_id=r.customer_id,
                campaign=r.campaign,
                kind=r.kind,
                channel="email",
                sender=self.sender,
                to=formataddr((name, r.email or "")) if name else r.email,
                address=r.email,
                headers=headers_for(r, context["links"]["unsubscribe"]),
                email=email,
            )
            item.mime()  # a message that cannot be written fails here, before any call
            return item
        push = self.renderer.push(template, locale=r.locale, context=context, variant=r.variant)
        return Outgoing(
            ledger_id=r.id,
            customer_id=r.customer_id,
            campaign=r.campaign,
            kind=r.kind,
            channel="push",
            push=push,
            device_id=r.device_id,
            platform=r.platform,
            token=r.token,
            endpoint_arn=r.endpoint_arn,
        )

    def _take_slot(self) -> None:
        if self.throttle is None:
            return
        if self._allowance <= 0:
            self.throttle(THROTTLE_GROUP)
            self._allowance = THROTTLE_GROUP
        self._allowance -= 1

    def allowed(self, part: Sequence[Recipient], result: BatchResult) -> list[Recipient]:
        """The rows of ``part`` the send-time rules let go now; the others are noted in
        ``result`` as deferred or skipped."""
        if self.rules is None or self.engine is None or not part:
            return list(part)
        with self.engine.connect() as conn:
            verdict = self.rules.check(conn, part, self.clock())
        result.deferred.extend((r.id, at, why) for r, at, why in verdict.deferred)
        result.suppressed.extend((r.id, why) for r, why in verdict.skipped)
        return verdict.send

    def send_batch(
        self, batch: Sequence[Recipient], contexts: dict[int, dict[str, Any]]
    ) -> tuple[BatchResult, str | None]:
        """Send one claimed batch; the result, and why sending must stop (if it must)."""
        result = BatchResult.empty()
        stop: str | None = None
        for start in range(0, len(batch), RULES_EVERY):
            part = batch[start : start + RULES_EVERY]
            if stop is None:
                part = self.allowed(part, result)
            stop = self._send_part(part, contexts, result, stop)
        return result, stop

    def _send_part(
        self,
        part: Sequence[Recipient],
        contexts: dict[int, dict[str, Any]],
        result: BatchResult,
        stop: str | None,
    ) -> str | None:
        journal = self.journal
        for r in part:
            if stop is not None:
                result.released.append(r.id)
                continue
            try:
                item = self.outgoing(r, contexts[r.id])
            except self.render_errors as exc:
                result.failed.append((r.id, f"render: {exc}"[:500]))
                continue
            except Exception as exc:  # one recipient never stops the batch
                # The type only: a message could quote the recipient's data.
                log.warning("rendering ledger row %s failed: %s", r.id, type(exc).__name__)
                result.failed.append((r.id, f"render: {type(exc).__name__}"))
                continue
            self._take_slot()
            refusal = self.last_moment.refusal(r.id) if self.last_moment else None
            if refusal is not None:  # lost to another worker: theirs to send and record
                if refusal != LOST:
                    result.suppressed.append((r.id, refusal))
                continue
            if journal:
                journal.attempt(r.id)
            try:
                delivery = self.transport.send(item)
            except SendError as problem:
                if problem.outcome == "failed":
                    if journal:
                        journal.refused(r.id, problem.reason)
                    result.failed.append((r.id, problem.reason))
                    if problem.disable_device and r.device_id is not None:
                        result.disabled_devices.append(r.device_id)
                elif problem.outcome == "uncertain":
                    result.uncertain.append(r.id)
                    stop = problem.reason
                else:  # retry later, or stop everything: the provider did not take it
                    if journal:
                        journal.not_sent(r.id)
                    result.released.append(r.id)
                    if problem.outcome == "stop" or problem.outcome == "retry":
                        stop = problem.reason
                continue
            except Exception as exc:  # an unknown answer is an uncertain one
                log.warning(
                    "transport %s: no answer for ledger row %s (%s)",
                    self.transport.name,
                    r.id,
                    type(exc).__name__,
                )
                result.uncertain.append(r.id)
                stop = f"{type(exc).__name__}"
                continue
            accepted_at = self.clock()
            if journal:
                journal.accepted(r.id, delivery.provider_id)
            result.sent.append((r.id, delivery.provider_id, r.device_id, accepted_at))
            if self.rules is not None:
                self.rules.note_sent(r.customer_id, r.id, accepted_at)
            if delivery.endpoint_arn and r.device_id is not None:
                result.endpoints.append((r.device_id, delivery.endpoint_arn))
        return stop


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
    """Claim, re-check consent, and read the context, in the caller's transaction."""
    while True:
        ids = claim(conn, campaign=campaign, period=period, now=now, limit=limit, claimer=claimer)
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
    renderer: Any = None,
    context: ContextBuilder | None = None,
    definition: Any = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    throttle: Callable[[int], None] | None = None,
    journal_dir: Path | None = None,
) -> SendReport:
    """Send the planned rows of ``campaign`` (one ``period``, or all with None) that are due.

    ``now`` None runs on the clock; a given ``now`` stands for every moment of the run.
    ``definition`` (the campaign) turns on the send-time rules. ``context`` builds the
    template context of a batch (default: the campaign's, from ``definition``); surveys pass
    their own with the answer links. ``throttle(n)`` is called before every ``n`` messages
    (the flow passes a Prefect rate limit).
    """
    settings = get_settings()
    if renderer is None:
        from campaigns.render import default_renderer

        renderer = default_renderer()
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
    sender = Sender(
        transport=transport,
        renderer=renderer,
        context=context,
        throttle=throttle,
        journal=journal,
        rules=SendRules(definition, settings) if definition is not None else None,
        engine=engine,
        clock=clock,
        last_moment=LastMoment(engine, claimer, lease=lease),
    )
    report = SendReport()
    common = {
        "campaign": campaign,
        "period": period,
        "limit": limit,
        "channel": getattr(definition, "channel", None),
    }
    try:
        with engine.begin() as conn:
            batch, contexts = _claim_batch(
                conn, claimer=claimer, context=context, report=report, now=clock(), **common
            )
        while batch:
            result, stop = sender.send_batch(batch, contexts)
            report.add(result)
            more = stop is None and (max_batches is None or report.batches < max_batches)
            with engine.begin() as conn:
                finish(conn, claimer=claimer, result=result)
                batch, contexts = (
                    _claim_batch(
                        conn,
                        claimer=claimer,
                        context=context,
                        report=report,
                        now=clock(),
                        **common,
                    )
                    if more
                    else ([], {})
                )
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
