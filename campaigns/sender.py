"""Rendering and sending one claimed batch, message by message, through one transport.

:class:`Sender` checks the send-time rules before every few dozen messages, renders each
message, takes a last look at its row (``campaigns.last_moment``), notes the call in the
journal when the transport is not authoritative, and sorts every answer into the batch's
result. Claiming and recording batches is ``campaigns.send``'s; this module never opens a
transaction of the ledger.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from email.utils import formataddr
from typing import Any

from sqlalchemy import Engine

from campaigns.channels.base import Outgoing, SendError, Transport
from campaigns.journal import Journal
from campaigns.last_moment import LOST, LastMoment
from campaigns.ledger import BatchResult, Recipient
from campaigns.render import ContextBuilder
from campaigns.send_rules import SendRules
from models.base import utcnow
from models.campaigns import Reason
from models.settings import Settings
from models.store import Channel
from templates.errors import LocaleSkipped, RenderError
from templates.renderer import MessageRenderer

log = logging.getLogger(__name__)
UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"
# Calls to the throttle are grouped so a shared rate limit costs one request per group.
THROTTLE_GROUP = 10
# The send-time rules are checked before every this many messages (one query each time).
RULES_EVERY = 50
Clock = Callable[[], datetime]


def headers_for(r: Recipient, unsubscribe: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe on every message, and the ledger id for tracing."""
    return {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": UNSUBSCRIBE_POST,
        "X-Homecoming-Ledger-Id": str(r.id),
    }


class FailureThreshold:
    """Pauses a send whose messages keep failing: a broken template or a refusing provider
    must not burn through a whole audience. Reached when at least ``failures`` messages
    failed and they are more than ``share`` of those tried; the rows not tried stay planned,
    so the run can go on once the cause is fixed."""

    def __init__(self, failures: int, share: float) -> None:
        self.failures, self.share = failures, share
        self.failed = self.tried = 0
        self.reasons: Counter[str] = Counter()

    def count(self, result: BatchResult) -> None:
        """Add a finished batch to the totals of this send."""
        self.failed += len(result.failed)
        self.tried += len(result.failed) + len(result.sent) + len(result.uncertain)
        self.reasons.update(reason[:80] for _, reason in result.failed)

    def reached(self, result: BatchResult) -> str | None:
        """Why sending pauses now (the batch so far counted in), or None."""
        failed = self.failed + len(result.failed)
        tried = self.tried + len(result.failed) + len(result.sent) + len(result.uncertain)
        if failed < max(1, self.failures) or failed <= self.share * tried:
            return None
        top = (self.reasons + Counter(reason[:80] for _, reason in result.failed)).most_common(3)
        reasons = "; ".join(f"{reason} ({n})" for reason, n in top)
        return f"paused: {failed} of {tried} messages failed ({reasons}); fix and run again"


class Sender:
    """Renders and sends claimed batches for one campaign through one transport."""

    def __init__(
        self,
        *,
        transport: Transport,
        renderer: MessageRenderer,
        context: ContextBuilder,
        settings: Settings,
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
        self.sender = settings.email_from
        self._allowance = 0
        self.pause = FailureThreshold(settings.send_pause_failures, settings.send_pause_share)
        campaign = rules.campaign if rules is not None else None
        # The campaign's choice for a customer whose language the template lacks.
        self.language: dict[str, Any] = {
            "fallback": campaign.locale_fallback if campaign else None,
            "skip": None
            if campaign is None or campaign.missing_locale is None
            else campaign.missing_locale == "skip",
        }

    def outgoing(self, r: Recipient, context: dict[str, Any]) -> Outgoing:
        template = r.template or r.kind
        if r.channel == Channel.email:
            email = self.renderer.email(
                template, locale=r.locale, context=context, variant=r.variant, **self.language
            )
            name = " ".join(p for p in (r.first_name, r.last_name) if p)
            item = Outgoing(
                ledger_id=r.id,
                customer_id=r.customer_id,
                campaign=r.campaign,
                kind=r.kind,
                channel=Channel.email,
                sender=self.sender,
                to=formataddr((name, r.email or "")) if name else r.email,
                address=r.email,
                headers=headers_for(r, context["links"]["unsubscribe"]),
                email=email,
            )
            item.mime()  # a message that cannot be written fails here, before any call
            return item
        push = self.renderer.push(
            template, locale=r.locale, context=context, variant=r.variant, **self.language
        )
        return Outgoing(
            ledger_id=r.id,
            customer_id=r.customer_id,
            campaign=r.campaign,
            kind=r.kind,
            channel=Channel.push,
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
        self.pause.count(result)
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
            if stop is None:
                stop = self.pause.reached(result)
            if stop is not None:
                result.released.append(r.id)
                continue
            try:
                item = self.outgoing(r, contexts[r.id])
            except LocaleSkipped:  # the template's choice, not a failure
                result.suppressed.append((r.id, Reason.missing_locale))
                continue
            except RenderError as exc:
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
