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
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE

from campaigns.channels import transport_for
from campaigns.definitions import Campaign
from campaigns.run import (
    CampaignError,
    Prepared,
    RunResult,
    conclude,
    inactive_reason,
    inactive_result,
    load_campaign,
    prepare,
    resolve_period,
)
from campaigns.send import SendReport, send_due
from flows.naming import campaign_period
from flows.throttle import rate_limiter
from models.base import utcnow
from models.db import get_engine

FLOW_NAME = "campaign-period"
BATCHES_PER_TASK = 10


@task(name="reconcile-and-plan", retries=2, retry_delay_seconds=20, cache_policy=NONE)
def prepare_task(campaign: Campaign, period_key: str, now: datetime) -> Prepared:
    """Reconcile rows caught mid-send, then record the period's plan in the ledger."""
    period = resolve_period(campaign, period=period_key, now=now)
    return prepare(
        get_engine(),
        campaign=campaign,
        period=period,
        now=now,
        transport=transport_for(campaign.channel),
    )


@task(name="send-batches", retries=2, retry_delay_seconds=20, cache_policy=NONE)
def send_task(
    campaign: Campaign, period_key: str, now: datetime | None, *, batches: int, rate_limited: bool
) -> SendReport:
    """Send up to ``batches`` batches of due rows; a retry resumes where the ledger stands.

    ``now`` None sends on the clock (the send-time rules and ``sent_at`` at each message).
    """
    from campaigns.reconcile import reconcile

    transport = transport_for(campaign.channel)
    engine = get_engine()
    # A retry of this task runs in the same process: settle what the failed try left.
    reconcile(engine, campaign=campaign.name, period=period_key, transport=transport, now=now)
    return send_due(
        engine,
        campaign=campaign.name,
        period=period_key,
        now=now,
        transport=transport,
        definition=campaign,
        max_batches=batches,
        throttle=rate_limiter() if rate_limited else None,
    )


def _merge(total: SendReport, part: SendReport) -> None:
    total.sent += part.sent
    total.failed += part.failed
    total.released += part.released
    total.uncertain += part.uncertain
    total.batches += part.batches
    total.suppressed.update(part.suppressed)
    total.deferred.update(part.deferred)
    total.failures.update(part.failures)
    total.stopped = part.stopped or total.stopped


def artifact_rows(result: RunResult) -> list[dict[str, Any]]:
    """Outcomes by reason, sent, failed and reconciled: counts only, no personal data."""
    if result.inactive:
        return [{"outcome": f"not run: {result.inactive}", "count": 0}]
    rows = [
        {"outcome": "planned", "count": result.planned},
        {"outcome": "held_out", "count": result.ledger.get("held_out", 0)},
    ]
    rows += [
        {"outcome": f"suppressed: {reason}", "count": n}
        for reason, n in sorted(result.ledger.get("suppressed", {}).items())
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
        {
            "outcome": "uncertain (awaiting provider evidence)",
            "count": result.ledger.get("sending", 0),
        },
    ]
    return rows


def _follow_up(result: RunResult, logger: Any) -> str | None:
    """Schedule this deployment again for the next wave of local send times."""
    from prefect.context import FlowRunContext
    from prefect.deployments import run_deployment

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
    from campaigns.render import default_renderer  # looked up per run: tests replace it

    logger = get_run_logger()
    moment = datetime.fromisoformat(now) if now else utcnow()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    key = f"campaign-{campaign}".lower().replace("_", "-")
    try:
        definition = load_campaign(campaign, engine=get_engine(), renderer=default_renderer())
        reason = inactive_reason(definition, moment)
        if reason is not None:
            idle = inactive_result(definition, moment, reason)
            create_table_artifact(
                key=key,
                table=artifact_rows(idle),
                description=f"Campaign {campaign}: {reason}; nothing was sent.",
            )
            logger.info("campaign %s: %s; nothing to do", campaign, reason)
            return idle.as_dict()
        the_period = resolve_period(definition, period=period, now=moment)
    except CampaignError as exc:
        raise ValueError(str(exc)) from None
    prepared = prepare_task(definition, the_period.key, moment)
    logger.info(
        "campaign %s %s: planned %d, held out %d, reconciled %d",
        definition.name,
        the_period.key,
        prepared.plan.planned,
        prepared.plan.held_out,
        prepared.reconciled.settled,
    )
    limited = True
    total = SendReport()
    while True:
        part = send_task(
            definition,
            the_period.key,
            None if now is None else moment,
            batches=BATCHES_PER_TASK,
            rate_limited=limited,
        )
        _merge(total, part)
        if part.stopped or part.batches < BATCHES_PER_TASK:
            break
    result = conclude(get_engine(), prepared, total)
    create_table_artifact(
        key=key,
        table=artifact_rows(result),
        description=(
            f"Campaign {definition.name}, period {result.period}, as of {moment.isoformat()}. "
            f"Next send: {result.next_send_at.isoformat() if result.next_send_at else 'none'}."
        ),
    )
    logger.info(
        "campaign %s %s: sent %d, failed %d, deferred %d, skipped %d, already sent %d, pending %d",
        result.campaign,
        result.period,
        result.send.sent,
        result.send.failed,
        sum(result.send.deferred.values()),
        sum(result.send.suppressed.values()),
        result.already_sent,
        result.pending,
    )
    summary = result.as_dict()
    if now is None:
        summary["follow_up_run"] = _follow_up(result, logger)
    if total.stopped:
        raise RuntimeError(f"sending stopped: {total.stopped}; the ledger is safe to retry")
    return summary
