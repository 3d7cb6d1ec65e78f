"""The two working steps of a period's run, and where they run.

:func:`prepare` opens the run and records the plan; :func:`send_step` settles what an
earlier try left mid-send and sends a few batches. A :class:`Steps` says where they run:
:class:`LocalSteps` in this process (the CLI, the demo, the benchmark, the crash tests);
the campaign flow passes Prefect tasks around the very same functions. Kept apart from
``campaigns.run``, which composes a whole period from these steps.

A campaign with a fallback channel has rows on two channels. Each channel's rows are
reconciled and sent through that channel's own transport (``fallback_transport`` for the
fallback's), with a claim, journal and lease of their own, so the exactly-once machinery
never asks one provider about another's messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, func, select

from campaigns.cadence import Period
from campaigns.campaign import Campaign
from campaigns.channels.base import Transport
from campaigns.planning import PlanSummary, plan
from campaigns.reconcile import ReconcileReport, reconcile
from campaigns.render import ContextBuilder
from campaigns.send import SendReport, send_due
from models.base import table, utcnow
from models.campaigns import CampaignRun, Message, MessageStatus
from models.settings import Settings
from templates.renderer import MessageRenderer

M = table(Message)
RUN = table(CampaignRun)
BATCHES_PER_STEP = 10  # a step (a Prefect task in the flow) sends at most this many batches


def by_channel(
    campaign: Campaign, transport: Transport, fallback_transport: Transport | None
) -> dict[str, Transport]:
    """The transport of each channel the campaign sends on."""
    found = {campaign.channel: transport}
    if campaign.fallback:
        if fallback_transport is None:
            raise ValueError(f"{campaign.name} falls back to {campaign.fallback}: no transport")
        found[campaign.fallback] = fallback_transport
    return found


@dataclass
class Prepared:
    """A run after its first step: the ledger is reconciled and the period's plan recorded."""

    campaign: Campaign
    period: Period
    now: datetime
    run_id: int
    already_sent: int
    reconciled: ReconcileReport
    plan: PlanSummary


def prepare(
    engine: Engine,
    *,
    campaign: Campaign,
    period: Period,
    now: datetime,
    transport: Transport,
    settings: Settings,
    journal_dir: Path | None = None,
    fallback_transport: Transport | None = None,
) -> Prepared:
    """Open the run, reconcile rows caught mid-send, and record the plan (no sending)."""
    key = period.key
    with engine.begin() as conn:
        run_id = conn.execute(
            RUN.insert()
            .values(campaign=campaign.name, period=key, started_at=utcnow())
            .returning(RUN.c.id)
        ).scalar_one()
        already_sent = conn.execute(
            select(func.count()).where(
                M.c.campaign == campaign.name, M.c.period == key, M.c.status == MessageStatus.sent
            )
        ).scalar_one()
    reconciled = ReconcileReport()
    for channel, carrier in by_channel(campaign, transport, fallback_transport).items():
        reconciled.merge(
            reconcile(
                engine,
                campaign=campaign.name,
                period=key,
                transport=carrier,
                settings=settings,
                now=now,
                journal_dir=journal_dir,
                channel=channel,
            ),
        )
    summary = PlanSummary(campaign.name, key, period.starts_at, now)
    chunks = plan(engine, campaign=campaign, period=period, now=now, settings=settings, record=True)
    for chunk in chunks:
        summary.add(chunk)
    return Prepared(campaign, period, now, run_id, already_sent, reconciled, summary)


def send_step(
    engine: Engine,
    *,
    campaign: Campaign,
    period: str | None,
    now: datetime | None,
    transport: Transport,
    settings: Settings,
    renderer: MessageRenderer | None = None,
    context: ContextBuilder | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    throttle: Callable[[int], None] | None = None,
    journal_dir: Path | None = None,
    fallback_transport: Transport | None = None,
) -> SendReport:
    """Settle what an earlier try of this step left mid-send, then send due rows, channel
    by channel (at most ``max_batches`` in all).

    Each step reconciles first, so a retried step (a Prefect retry in the same process, a
    second worker, a run after a crash) never resends a row whose fate it has not settled.
    ``period`` None works on every period of the campaign (triggered messages).
    """
    report = SendReport()
    for channel, carrier in by_channel(campaign, transport, fallback_transport).items():
        settled = reconcile(
            engine,
            campaign=campaign.name,
            period=period,
            transport=carrier,
            settings=settings,
            now=now,
            journal_dir=journal_dir,
            channel=channel,
        )
        left = None if max_batches is None else max_batches - report.batches
        part = SendReport()
        if left is None or left > 0:
            part = send_due(
                engine,
                campaign=campaign.name,
                period=period,
                now=now,
                transport=carrier,
                settings=settings,
                renderer=renderer,
                context=context,
                definition=campaign,
                batch_size=batch_size,
                max_batches=left,
                throttle=throttle,
                journal_dir=journal_dir,
                channel=channel,
            )
        part.reconciled = settled.settled
        report.merge(part)
    return report


class Steps(Protocol):
    """Where a period's two working steps run: in this process, or as Prefect tasks."""

    def prepare(self, campaign: Campaign, period: Period, now: datetime) -> Prepared: ...

    def send(
        self, campaign: Campaign, period: str, now: datetime | None, batches: int
    ) -> SendReport: ...


@dataclass
class LocalSteps:
    """The steps run in this process, with the given transports, settings, renderer and rate."""

    engine: Engine
    transport: Transport  # the campaign's channel
    fallback_transport: Transport | None = field(default=None, kw_only=True)
    renderer: MessageRenderer | None = None
    batch_size: int | None = None
    throttle: Callable[[int], None] | None = None
    journal_dir: Path | None = None
    settings: Settings = field(kw_only=True)

    def prepare(self, campaign: Campaign, period: Period, now: datetime) -> Prepared:
        return prepare(
            self.engine,
            campaign=campaign,
            period=period,
            now=now,
            transport=self.transport,
            settings=self.settings,
            journal_dir=self.journal_dir,
            fallback_transport=self.fallback_transport,
        )

    def send(
        self, campaign: Campaign, period: str, now: datetime | None, batches: int
    ) -> SendReport:
        return send_step(
            self.engine,
            campaign=campaign,
            period=period,
            now=now,
            transport=self.transport,
            settings=self.settings,
            renderer=self.renderer,
            batch_size=self.batch_size,
            max_batches=batches,
            throttle=self.throttle,
            journal_dir=self.journal_dir,
            fallback_transport=self.fallback_transport,
        )


def send_all(
    steps: Steps,
    campaign: Campaign,
    period: str,
    now: datetime | None,
    *,
    max_batches: int | None = None,
) -> SendReport:
    """Send steps until nothing is due, sending stopped, or ``max_batches`` were sent."""
    total = SendReport()
    while max_batches is None or total.batches < max_batches:
        batches = BATCHES_PER_STEP
        if max_batches is not None:
            batches = min(batches, max_batches - total.batches)
        part = steps.send(campaign, period, now, batches)
        total.merge(part)
        if part.stopped or part.batches < batches:
            break
    return total
