"""One run of one campaign period: reconcile, plan and record, send what is due, report.

This is the one composition of a period's sending. ``run_period`` opens the run and records
the plan (:func:`prepare`), then sends in steps of a few batches, each step settling what an
earlier try left before it sends (:func:`send_step`), then closes the run (:func:`conclude`).
The two working steps go through a :class:`Steps`: :class:`LocalSteps` runs them in this
process (the CLI, the demo, the benchmark, the crash tests), and the campaign flow passes
Prefect tasks around the very same functions, so every caller sends the same way.

``run_period`` is safe to repeat at any time (a Prefect retry, a second worker, a re-run
after a crash): rows already in the ledger are kept, rows caught mid-send are reconciled
first, and only planned rows whose send time has come are sent, each one checked again at
the moment of sending (``campaigns.send_rules``). A run writes a ``campaign_run`` row with
its counts for operators and reports.

A campaign outside its dates does not run at all: after its end date a run sends nothing
and says "ended on ..." (instead of picking up the last period), before its start (or
before its first period has begun) it says "starts on ...". Neither is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, func, select, update

from campaigns import render
from campaigns.cadence import Period, PeriodError, period_at, period_from_key
from campaigns.channels import transport_for
from campaigns.channels.base import Transport
from campaigns.definitions import (
    Campaign,
    DefinitionError,
    check_references,
    find,
    load_all,
    segment_checker,
)
from campaigns.ledger import is_abandoned, status_counts
from campaigns.planning import PlanSummary, plan
from campaigns.reconcile import ReconcileReport, reconcile
from campaigns.render import ContextBuilder
from campaigns.send import SendReport, send_due
from campaigns.send_rules import campaign_window
from models.base import utcnow
from models.campaigns import CampaignRun, Message
from models.settings import get_settings

M = Message.__table__
RUN = CampaignRun.__table__
BATCHES_PER_STEP = 10  # a step (a Prefect task in the flow) sends at most this many batches


class CampaignError(ValueError):
    """The campaign cannot run: unknown, invalid, or no such period."""


@dataclass
class RunResult:
    campaign: str
    period: str
    now: datetime
    plan: PlanSummary
    reconciled: ReconcileReport
    send: SendReport
    already_sent: int
    ledger: dict[str, Any] = field(default_factory=dict)
    next_send_at: datetime | None = None
    run_id: int | None = None
    inactive: str | None = None  # why the campaign did not run (ended, not started yet)
    uncertain: int = 0  # 'sending' rows nobody works on: awaiting evidence
    in_progress: int = 0  # 'sending' rows a live sender (maybe another worker) still holds

    @property
    def planned(self) -> int:
        """Rows of the period that were planned (pending, sending, sent or failed now)."""
        return sum(self.ledger.get(s, 0) for s in ("planned", "sending", "sent", "failed"))

    @property
    def pending(self) -> int:
        return int(self.ledger.get("planned", 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "period": self.period,
            "now": self.now.isoformat(),
            "planned": self.planned,
            "held_out": self.ledger.get("held_out", 0),
            "suppressed": dict(sorted(self.ledger.get("suppressed", {}).items())),
            "sent": self.send.sent,
            "failed": self.send.failed,
            "failure_reasons": dict(sorted(self.send.failures.items())),
            "deferred": dict(sorted(self.send.deferred.items())),
            "skipped": dict(sorted(self.send.suppressed.items())),
            "already_sent": self.already_sent,
            "pending": self.pending,
            "next_send_at": self.next_send_at.isoformat() if self.next_send_at else None,
            "uncertain": self.uncertain,
            "in_progress": self.in_progress,
            "reconciled": self.reconciled.as_dict(),
            "new_rows": self.plan.audience - self.plan.already_recorded,
            "send": self.send.as_dict(),
            "ledger": self.ledger,
            "run_id": self.run_id,
            "inactive": self.inactive,
        }


def load_campaign(name: str, *, engine: Engine | None = None, renderer: Any = None) -> Campaign:
    """The named campaign, with its segments and templates checked; errors name file and line."""
    campaigns, errors = load_all()
    campaign = find(name, campaigns)
    own = [
        e for e in errors if repr(name) in e.message or (campaign and e.source == campaign.source)
    ]
    if campaign is None:
        if own:
            raise CampaignError(str(own[0]))
        names = ", ".join(c.name for c in campaigns) or "none"
        raise CampaignError(f"no campaign named {name!r}; defined: {names}")
    problems = check_references(
        campaign, known_segments=segment_checker(engine), templates=renderer
    )
    if problems:
        raise CampaignError(str(problems[0]))
    return campaign


def inactive_reason(campaign: Campaign, now: datetime) -> str | None:
    """Why ``campaign`` does not run at ``now`` (ended, not started yet), or None."""
    starts, ends = campaign_window(campaign)
    if ends is not None and now >= ends:
        return f"{campaign.name} ended on {campaign.end}"
    if starts is not None and now < starts:
        return f"{campaign.name} starts on {campaign.start}"
    if campaign.start is not None and campaign.cadence is not None:
        try:
            period_at(campaign, now)
        except PeriodError:  # after the start date, before its first scheduled run
            return f"{campaign.name} starts on {campaign.start}; its first period has not begun"
    return None


def inactive_result(campaign: Campaign, now: datetime, reason: str) -> RunResult:
    """The result of a run that did nothing because the campaign is outside its dates."""
    return RunResult(
        campaign=campaign.name,
        period="",
        now=now,
        plan=PlanSummary(campaign.name, "", now, now),
        reconciled=ReconcileReport(),
        send=SendReport(),
        already_sent=0,
        inactive=reason,
    )


def resolve_period(campaign: Campaign, *, period: str | None, now: datetime) -> Period:
    try:
        return period_from_key(campaign, period) if period else period_at(campaign, now)
    except PeriodError as exc:
        raise CampaignError(str(exc)) from None


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
    journal_dir: Path | None = None,
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
                M.c.campaign == campaign.name, M.c.period == key, M.c.status == "sent"
            )
        ).scalar_one()
    reconciled = reconcile(
        engine,
        campaign=campaign.name,
        period=key,
        transport=transport,
        now=now,
        journal_dir=journal_dir,
    )
    summary = PlanSummary(campaign.name, key, period.starts_at, now)
    for chunk in plan(engine, campaign=campaign, period=period, now=now, record=True):
        summary.add(chunk)
    return Prepared(campaign, period, now, run_id, already_sent, reconciled, summary)


def send_step(
    engine: Engine,
    *,
    campaign: Campaign,
    period: str | None,
    now: datetime | None,
    transport: Transport,
    renderer: Any = None,
    context: ContextBuilder | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    throttle: Callable[[int], None] | None = None,
    journal_dir: Path | None = None,
) -> SendReport:
    """Settle what an earlier try of this step left mid-send, then send due rows.

    Each step reconciles first, so a retried step (a Prefect retry in the same process, a
    second worker, a run after a crash) never resends a row whose fate it has not settled.
    ``period`` None works on every period of the campaign (triggered messages).
    """
    settled = reconcile(
        engine,
        campaign=campaign.name,
        period=period,
        transport=transport,
        now=now,
        journal_dir=journal_dir,
    )
    report = send_due(
        engine,
        campaign=campaign.name,
        period=period,
        now=now,
        transport=transport,
        renderer=renderer,
        context=context,
        definition=campaign,
        batch_size=batch_size,
        max_batches=max_batches,
        throttle=throttle,
        journal_dir=journal_dir,
    )
    report.reconciled = settled.settled
    return report


class Steps(Protocol):
    """Where a period's two working steps run: in this process, or as Prefect tasks."""

    def prepare(self, campaign: Campaign, period: Period, now: datetime) -> Prepared: ...

    def send(
        self, campaign: Campaign, period: str, now: datetime | None, batches: int
    ) -> SendReport: ...


@dataclass
class LocalSteps:
    """The steps run in this process, with the given transport, renderer and rate."""

    engine: Engine
    transport: Transport
    renderer: Any = None
    batch_size: int | None = None
    throttle: Callable[[int], None] | None = None
    journal_dir: Path | None = None

    def prepare(self, campaign: Campaign, period: Period, now: datetime) -> Prepared:
        return prepare(
            self.engine,
            campaign=campaign,
            period=period,
            now=now,
            transport=self.transport,
            journal_dir=self.journal_dir,
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
            renderer=self.renderer,
            batch_size=self.batch_size,
            max_batches=batches,
            throttle=self.throttle,
            journal_dir=self.journal_dir,
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


def conclude(engine: Engine, prepared: Prepared, report: SendReport) -> RunResult:
    """Read the period's ledger and close the run's ``campaign_run`` row.

    Rows still ``sending`` are told apart: a claim a live sender holds (maybe another
    worker's) is in progress; one nobody works on is uncertain and awaits evidence.
    """
    name, key = prepared.campaign.name, prepared.period.key
    lease = timedelta(minutes=get_settings().send_lease_minutes)
    with engine.begin() as conn:
        ledger = status_counts(conn, campaign=name, period=key)
        next_send_at = conn.execute(
            select(func.min(M.c.send_at)).where(
                M.c.campaign == name, M.c.period == key, M.c.status == "planned"
            )
        ).scalar()
        claims = conn.execute(
            select(M.c.claimed_by, M.c.claimed_at).where(
                M.c.campaign == name, M.c.period == key, M.c.status == "sending"
            )
        ).all()
        uncertain = sum(is_abandoned(c.claimed_by, c.claimed_at, lease=lease) for c in claims)
        result = RunResult(
            campaign=name,
            period=key,
            now=prepared.now,
            plan=prepared.plan,
            reconciled=prepared.reconciled,
            send=report,
            already_sent=prepared.already_sent,
            ledger=ledger,
            next_send_at=next_send_at,
            run_id=prepared.run_id,
            uncertain=uncertain,
            in_progress=len(claims) - uncertain,
        )
        conn.execute(
            update(RUN)
            .where(RUN.c.id == prepared.run_id)
            .values(
                finished_at=utcnow(),
                planned=result.planned,
                held_out=int(ledger.get("held_out", 0)),
                suppressed=sum(ledger.get("suppressed", {}).values()),
                sent=report.sent,
                failed=report.failed,
                reconciled=prepared.reconciled.settled,
            )
        )
    return result


def run_period(
    engine: Engine,
    *,
    campaign: str | Campaign,
    period: str | None = None,
    now: datetime | None = None,
    steps: Steps | None = None,
    email_transport: Transport | None = None,
    push_transport: Transport | None = None,
    renderer: Any = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    throttle: Callable[[int], None] | None = None,
    journal_dir: Path | None = None,
    send: bool = True,
) -> RunResult:
    """Run one period of one campaign as of ``now`` (default: on the clock); safe to repeat.

    Reconciles rows caught mid-send, records every outcome of the period's audience in the
    ledger, then sends the planned rows whose send time has come (unless ``send`` is off).
    A campaign outside its dates does nothing: the result's ``inactive`` says why.
    ``steps`` (default: :class:`LocalSteps` with the given transports, renderer and rate)
    runs the prepare and send steps; the campaign flow passes its Prefect tasks.
    """
    on_clock = now is None
    now = now or utcnow()
    if renderer is None:
        renderer = render.default_renderer()
    definition = (
        campaign
        if isinstance(campaign, Campaign)
        else load_campaign(campaign, engine=engine, renderer=renderer)
    )
    reason = inactive_reason(definition, now)
    if reason is not None:
        return inactive_result(definition, now, reason)
    the_period = resolve_period(definition, period=period, now=now)
    if steps is None:
        given = email_transport if definition.channel == "email" else push_transport
        steps = LocalSteps(
            engine,
            given or transport_for(definition.channel),
            renderer=renderer,
            batch_size=batch_size,
            throttle=throttle,
            journal_dir=journal_dir,
        )
    prepared = steps.prepare(definition, the_period, now)
    report = SendReport()
    if send:
        report = send_all(
            steps, definition, the_period.key, None if on_clock else now, max_batches=max_batches
        )
    return conclude(engine, prepared, report)


__all__ = [
    "BATCHES_PER_STEP",
    "CampaignError",
    "DefinitionError",
    "LocalSteps",
    "Prepared",
    "RunResult",
    "Steps",
    "conclude",
    "inactive_reason",
    "inactive_result",
    "load_campaign",
    "prepare",
    "resolve_period",
    "run_period",
    "send_all",
    "send_step",
]
