"""One run of one campaign period: reconcile, plan and record, send what is due, report.

This is the one composition of a period's sending. ``run_period`` opens the run and records
the plan (:func:`prepare`), then sends in steps of a few batches, each step settling what an
earlier try left before it sends (:func:`send_step`), then closes the run (:func:`conclude`).
The two working steps go through a :class:`Steps`: :class:`LocalSteps` runs them in this
process (the CLI, the demo, the benchmark, the crash tests), and the campaign flow passes
Prefect tasks around the very same functions, so every caller sends the same way. The
steps live in ``campaigns.run_steps`` and the result in ``campaigns.run_result``; this
module composes them (and re-exports their names for its callers).

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
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

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
from campaigns.run_result import RunResult, conclude, inactive_result
from campaigns.run_steps import (
    BATCHES_PER_STEP,
    LocalSteps,
    Prepared,
    Steps,
    prepare,
    send_all,
    send_step,
)
from campaigns.send import SendReport
from campaigns.send_rules import campaign_window
from models.base import utcnow
from models.settings import Settings, get_settings
from models.store import Channel
from templates.renderer import MessageRenderer


class CampaignError(ValueError):
    """The campaign cannot run: unknown, invalid, or no such period."""


def load_campaign(
    name: str, *, engine: Engine | None = None, renderer: MessageRenderer | None = None
) -> Campaign:
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


def inactive_reason(campaign: Campaign, now: datetime, settings: Settings) -> str | None:
    """Why ``campaign`` does not run at ``now`` (ended, not started yet), or None."""
    starts, ends = campaign_window(campaign, settings)
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


def resolve_period(campaign: Campaign, *, period: str | None, now: datetime) -> Period:
    try:
        return period_from_key(campaign, period) if period else period_at(campaign, now)
    except PeriodError as exc:
        raise CampaignError(str(exc)) from None


def run_period(
    engine: Engine,
    *,
    campaign: str | Campaign,
    period: str | None = None,
    now: datetime | None = None,
    steps: Steps | None = None,
    email_transport: Transport | None = None,
    push_transport: Transport | None = None,
    renderer: MessageRenderer | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    throttle: Callable[[int], None] | None = None,
    journal_dir: Path | None = None,
    send: bool = True,
    settings: Settings | None = None,
) -> RunResult:
    """Run one period of one campaign as of ``now`` (default: on the clock); safe to repeat.

    Reconciles rows caught mid-send, records every outcome of the period's audience in the
    ledger, then sends the planned rows whose send time has come (unless ``send`` is off).
    A campaign outside its dates does nothing: the result's ``inactive`` says why.
    ``steps`` (default: :class:`LocalSteps` with the given transports, renderer and rate;
    each channel's rows go through that channel's transport, a fallback's too)
    runs the prepare and send steps; the campaign flow passes its Prefect tasks.
    ``settings`` are read here once (unless given) and passed down.
    """
    settings = settings if settings is not None else get_settings()
    on_clock = now is None
    now = now or utcnow()
    if renderer is None:
        renderer = render.default_renderer()
    definition = (
        campaign
        if isinstance(campaign, Campaign)
        else load_campaign(campaign, engine=engine, renderer=renderer)
    )
    reason = inactive_reason(definition, now, settings)
    if reason is not None:
        return inactive_result(definition, now, reason)
    the_period = resolve_period(definition, period=period, now=now)
    if steps is None:
        given = {Channel.email: email_transport, Channel.push: push_transport}
        carriers = {
            ch: given[Channel(ch)] or transport_for(ch, settings) for ch in definition.channels
        }
        steps = LocalSteps(
            engine,
            carriers[definition.channel],
            fallback_transport=carriers.get(definition.fallback or ""),
            renderer=renderer,
            batch_size=batch_size,
            throttle=throttle,
            journal_dir=journal_dir,
            settings=settings,
        )
    prepared = steps.prepare(definition, the_period, now)
    report = SendReport()
    if send:
        report = send_all(
            steps, definition, the_period.key, None if on_clock else now, max_batches=max_batches
        )
    return conclude(engine, prepared, report, settings=settings)


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
