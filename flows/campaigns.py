"""The campaign period flow that every campaign deployment runs.

``campaign_period_flow`` runs one period of one campaign: a task reconciles rows caught
mid-send and records the plan, then send tasks work through the due rows a few batches at a
time (never a task per message), under the shared send rate limit. Each run leaves a table
artifact (``campaign-<name>``) with outcomes by reason, sent, failed and reconciled, and
logs ids and counts only. Recipients whose local send time comes later get a follow-up run
of the same deployment at that time, so the Prefect UI shows every wave.

Retrying a failed run from the UI is safe: the ledger makes every step idempotent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from logging import Logger, LoggerAdapter
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext
from prefect.deployments import run_deployment

from campaigns import render
from campaigns.cadence import Period
from campaigns.channels import transport_for
from campaigns.definitions import Campaign
from campaigns.run import (
    CampaignError,
    Prepared,
    RunResult,
    load_campaign,
    prepare,
    run_period,
    send_step,
)
from campaigns.send import SendReport
from flows.naming import campaign_period
from flows.throttle import rate_limiter
from models.base import utcnow
from models.campaigns import MessageStatus
from models.db import get_engine
from models.settings import get_settings

FLOW_NAME = "campaign-period"


@task(
    name="reconcile-and-plan",
    retries=2,
    retry_delay_seconds=20,
    cache_policy=NONE,
    persist_result=False,
)
def prepare_task(campaign: Campaign, period: Period, now: datetime) -> Prepared:
    """Reconcile rows caught mid-send, then record the period's plan in the ledger."""
    settings = get_settings()  # read once per task run, passed down
    return prepare(
        get_engine(),
        campaign=campaign,
        period=period,
        now=now,
        transport=transport_for(campaign.channel, settings),
        fallback_transport=transport_for(campaign.fallback, settings)
        if campaign.fallback
        else None,
        settings=settings,
    )


@task(
    name="send-batches", retries=2, retry_delay_seconds=20, cache_policy=NONE, persist_result=False
)
def send_task(campaign: Campaign, period: str, now: datetime | None, batches: int) -> SendReport:
    """Send up to ``batches`` batches of due rows; a retry settles what the failed try left.

    ``now`` None sends on the clock (the send-time rules and ``sent_at`` at each message).
    """
    settings = get_settings()  # read once per task run, passed down
    return send_step(
        get_engine(),
        campaign=campaign,
        period=period,
        now=now,
        transport=transport_for(campaign.channel, settings),
        fallback_transport=transport_for(campaign.fallback, settings)
        if campaign.fallback
        else None,
        settings=settings,
        renderer=render.default_renderer(),
        max_batches=batches,
        throttle=rate_limiter(),
    )


class TaskSteps:
    """``campaigns.run``'s steps as Prefect tasks: retried, and shown in the UI."""

    def prepare(self, campaign: Campaign, period: Period, now: datetime) -> Prepared:
        return prepare_task(campaign, period, now)

    def send(
        self, campaign: Campaign, period: str, now: datetime | None, batches: int
    ) -> SendReport:
        return send_task(campaign, period, now, batches)


def artifact_rows(result: RunResult) -> list[dict[str, Any]]:
    """Outcomes by reason, sent, failed and reconciled: counts only, no personal data."""
    if result.inactive:
        return [{"outcome": f"not run: {result.inactive}", "count": 0}]
    rows = [
        {"outcome": MessageStatus.planned, "count": result.planned},
        {"outcome": MessageStatus.held_out, "count": result.ledger.get(MessageStatus.held_out, 0)},
    ]
    rows += [
        {"outcome": f"suppressed: {reason}", "count": n}
        for reason, n in sorted(result.ledger.get(MessageStatus.suppressed, {}).items())
    ]
    rec = result.reconciled
    rows += [
        {"outcome": "sent by this run", "count": result.send.sent},
        {"outcome": "failed in this run", "count": result.send.failed},
    ]
    rows += [
        {"outcome": f"failed in this run: {reason}", "count": n}
        for reason, n in sorted(result.send.failures.items())
    ]
    rows += [
        {"outcome": f"deferred by this run: {reason}", "count": n}
        for reason, n in sorted(result.send.deferred.items())
    ]
    rows += [
        {"outcome": f"skipped by this run: {reason}", "count": n}
        for reason, n in sorted(result.send.suppressed.items())
    ]
    rows += [
        {"outcome": "already sent before this run", "count": result.already_sent},
        {"outcome": "pending (later local send time)", "count": result.pending},
        {"outcome": "reconciled: confirmed sent", "count": rec.confirmed_sent},
        {"outcome": "reconciled: resent (proven not sent)", "count": rec.resent},
        {"outcome": "reconciled: resent after grace", "count": rec.resent_after_grace},
        {"outcome": "reconciled: failed", "count": rec.failed},
        {"outcome": "uncertain (awaiting provider evidence)", "count": result.uncertain},
        {"outcome": "in progress (held by a live sender)", "count": result.in_progress},
    ]
    return rows


def _follow_up(result: RunResult, logger: Logger | LoggerAdapter[Logger]) -> str | None:
    """Schedule this deployment again for the next wave of local send times."""
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    if not result.next_send_at or run is None or run.deployment_id is None:
        return None
    at = max(result.next_send_at, utcnow() + timedelta(seconds=5))
    key = f"{result.campaign}:{result.period}:{result.next_send_at:%Y%m%dT%H%M}"
    follow = run_deployment(
        name=run.deployment_id,
        parameters={"campaign": result.campaign, "period": result.period},
        scheduled_time=at,
        timeout=0,
        as_subflow=False,
        idempotency_key=key,
    )
    # run_deployment returns a coroutine when called from async code; this flow is sync
    assert isinstance(follow, FlowRun), "the campaign flow runs synchronously"
    logger.info("next wave of %s %s scheduled at %s", result.campaign, result.period, at)
    return str(follow.id)


@flow(name=FLOW_NAME, flow_run_name=campaign_period)
def campaign_period_flow(
    campaign: str, period: str | None = None, now: str | None = None
) -> dict[str, Any]:
    """Run one period of one campaign (default: the period running now).

    ``now`` (ISO 8601) acts as of another time for back-fills and the demo; follow-up
    waves are scheduled only when running on the clock. A campaign outside its dates
    completes without doing anything; its result and artifact say why ("ended on ...").
    """
    logger = get_run_logger()
    moment = datetime.fromisoformat(now) if now else None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    key = f"campaign-{campaign}".lower().replace("_", "-")
    engine = get_engine()
    try:
        definition = load_campaign(campaign, engine=engine, renderer=render.default_renderer())
        result = run_period(
            engine,
            campaign=definition,
            period=period,
            now=moment,
            steps=TaskSteps(),
            settings=get_settings(),
        )
    except CampaignError as exc:
        raise ValueError(str(exc)) from None
    if result.inactive:
        create_table_artifact(
            key=key,
            table=artifact_rows(result),
            description=f"Campaign {campaign}: {result.inactive}; nothing was sent.",
        )
        logger.info("campaign %s: %s; nothing to do", campaign, result.inactive)
        return result.as_dict()
    create_table_artifact(
        key=key,
        table=artifact_rows(result),
        description=(
            f"Campaign {definition.name}, period {result.period}, as of {result.now.isoformat()}. "
            f"Next send: {result.next_send_at.isoformat() if result.next_send_at else 'none'}."
        ),
    )
    logger.info(
        "campaign %s %s: planned %d, held out %d, reconciled %d; sent %d, failed %d, "
        "deferred %d, skipped %d, already sent %d, pending %d, uncertain %d",
        result.campaign,
        result.period,
        result.plan.planned,
        result.plan.held_out,
        result.reconciled.settled,
        result.send.sent,
        result.send.failed,
        sum(result.send.deferred.values()),
        sum(result.send.suppressed.values()),
        result.already_sent,
        result.pending,
        result.uncertain,
    )
    summary = result.as_dict()
    if now is None:
        summary["follow_up_run"] = _follow_up(result, logger)
    if result.send.stopped:
        raise RuntimeError(f"sending stopped: {result.send.stopped}; the ledger is safe to retry")
    return summary
