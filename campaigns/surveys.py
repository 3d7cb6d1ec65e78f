"""Triggered surveys: a CSAT after a resolved ticket, feedback or a review request after a
delivery, sent once per trigger through the campaigns ledger, caps and channels.

A campaign definition with ``trigger: {after: delivered|ticket_resolved, delay: 3d}`` is
planned here. Each trigger (an order delivered, a ticket resolved) becomes one ledger row
keyed (campaign, ``delivered:<order id>`` or ``ticket:<ticket id>``, customer, channel), so
no run, restart or overlapping run can write it twice. A checkpoint per campaign (the due
time up to which triggers were planned) is advanced in the same transaction as the rows,
and each run re-scans a look-back window behind it, so events recorded late are not
missed. Planning is serialised (a lock row, plus the campaigns cap lock), and sending uses
the campaigns sender, whose claims make overlapping sends safe.

Options in the definition's ``survey:`` mapping: ``lookback`` (default 2d), ``max_age``
(default 7d: a trigger due longer ago than that is recorded as ``too_late``, not sent; it is
also how late a planned survey may still go out, unless the definition gives
``max_lateness``) and ``choices`` (feedback surveys: the one-click answers, keys of the
template's catalog). Sending goes through ``campaigns.send.send_due``, so the send-time rules
(quiet hours, the survey cap, lateness) hold at the moment each survey goes out.

Finding triggers is ``campaigns.survey_triggers``, planning them
``campaigns.survey_planning``, the template context ``campaigns.survey_context``; this
module runs them for every triggered campaign and sends (and re-exports their names).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from campaigns import render
from campaigns.channels import transport_for
from campaigns.channels.base import Transport
from campaigns.definitions import Campaign
from campaigns.run_steps import send_step
from campaigns.survey_context import SurveyContext
from campaigns.survey_planning import PlanCounts, plan_triggers
from campaigns.survey_triggers import (
    TRIGGER_KEY,
    TriggerEvent,
    choices,
    max_age,
    trigger_rows,
    triggered_campaigns,
)
from models.base import utcnow
from models.settings import get_settings
from models.store import Channel
from templates.renderer import MessageRenderer

log = logging.getLogger(__name__)


class SurveyError(ValueError):
    """Kept for the callers that catch it (``homecoming surveys send``). Bad ``survey:``
    options no longer raise it: they are definition errors, with file and line, found when
    the definitions load (``campaigns.spec``)."""


def send_due_surveys(
    engine: Engine,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    campaigns: Sequence[Campaign] | None = None,
    email_transport: Transport | None = None,
    push_transport: Transport | None = None,
    renderer: MessageRenderer | None = None,
    batch_size: int | None = None,
    throttle: Callable[[int], None] | None = None,
    journal_dir: Path | None = None,
    send: bool = True,
) -> dict[str, Any]:
    """Plan every due trigger of every triggered campaign, then send what is due.

    Safe to run at any time and as often as wanted, also twice at once. ``since`` bounds
    the first run of a campaign (default: ``now`` minus its look-back). ``now`` None plans
    as of the clock and sends on the clock (the send-time rules and ``sent_at`` at each
    message). ``throttle(n)`` is the shared send rate limit. Returns counts per campaign and
    in total, at least ``{"sent": N}``.
    """
    settings = get_settings()  # read once here, passed down to planning and the context
    on_clock = now is None
    now = now or utcnow()
    errors: list[str] = []
    if campaigns is None:
        campaigns, errors = triggered_campaigns()
    if send and renderer is None and campaigns:
        renderer = render.default_renderer()  # looked up on the module: tests replace it
    transports: dict[str, Transport] = {}
    result: dict[str, Any] = {"now": now.isoformat(), "sent": 0, "failed": 0, "planned": 0}
    suppressed: Counter[str] = Counter()
    per_campaign: dict[str, Any] = {}
    for campaign in campaigns:
        counts = plan_triggers(engine, campaign, now=now, since=since, settings=settings)
        entry: dict[str, Any] = {"kind": campaign.kind, **counts.as_dict()}
        result["planned"] += counts.planned
        suppressed.update(counts.suppressed)
        if send:
            if campaign.channel not in transports:
                given = email_transport if campaign.channel == Channel.email else push_transport
                transports[campaign.channel] = given or transport_for(campaign.channel, settings)
            transport = transports[campaign.channel]
            report = send_step(
                engine,
                campaign=campaign,
                period=None,
                now=None if on_clock else now,
                transport=transport,
                settings=settings,
                renderer=renderer,
                context=SurveyContext(campaign, settings),
                batch_size=batch_size,
                throttle=throttle,
                journal_dir=journal_dir,
            )
            entry.update(
                sent=report.sent,
                failed=report.failed,
                suppressed_at_send=dict(report.suppressed),
                deferred=dict(report.deferred),
                failure_reasons=dict(report.failures),
                reconciled=report.reconciled,
                uncertain=report.uncertain,
                stopped=report.stopped,
            )
            result["sent"] += report.sent
            result["failed"] += report.failed
        per_campaign[campaign.name] = entry
    for transport in transports.values():
        close = getattr(transport, "close", None)
        if close:
            close()
    result["suppressed"] = dict(sorted(suppressed.items()))
    result["campaigns"] = per_campaign
    result["errors"] = errors
    return result


__all__ = [
    "TRIGGER_KEY",
    "PlanCounts",
    "SurveyContext",
    "SurveyError",
    "TriggerEvent",
    "choices",
    "max_age",
    "plan_triggers",
    "send_due_surveys",
    "trigger_rows",
    "triggered_campaigns",
]
