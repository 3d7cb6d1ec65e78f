"""Campaign flows and deployments: one deployment per campaign, scheduled by its cadence.

``campaign_period_flow`` runs one period of one campaign: a task reconciles rows caught
mid-send and records the plan, then send tasks work through the due rows a few batches at a
time (never a task per message), under the shared send rate limit. Each run leaves a table
artifact (``campaign-<name>``) with outcomes by reason, sent, failed and reconciled, and
logs ids and counts only. Recipients whose local send time comes later get a follow-up run
of the same deployment at that time, so the Prefect UI shows every wave.

Retrying a failed run from the UI is safe: the ledger makes every step idempotent.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE
from prefect.deployments.runner import RunnerDeployment

from campaigns.cadence import next_runs, schedule
from campaigns.channels import transport_for
from campaigns.definitions import Campaign, load_all
from campaigns.run import (
    CampaignError,
    Prepared,
    RunResult,
    conclude,
    load_campaign,
    prepare,
    resolve_period,
)
from campaigns.send import SendReport, send_due
from models.base import utcnow
from models.db import get_engine
from models.settings import get_settings

FLOW_NAME = "campaign-period"
ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = ROOT / "prefect.yaml"
BATCHES_PER_TASK = 10
log = logging.getLogger(__name__)


def _logger() -> Any:
    try:
        return get_run_logger()
    except Exception:
        return log


def rate_limiter(name: str | None = None) -> Callable[[int], None] | None:
    """A throttle over the Prefect global concurrency limit named in the settings.

    The limit must have slot decay (``prefect gcl create NAME --limit N
    --slot-decay-per-second N``); with ``HOMECOMING_SEND_RATE_PER_SECOND`` set it is created
    or updated here. Without a usable limit sending is not throttled, with a warning.
    """
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import rate_limit
    from prefect.exceptions import ObjectNotFound

    settings = get_settings()
    name = name or settings.send_rate_limit_name
    logger = _logger()
    with get_client(sync_client=True) as client:
        if settings.send_rate_per_second:
            rate = settings.send_rate_per_second
            client.upsert_global_concurrency_limit_by_name(
                name, limit=rate, slot_decay_per_second=float(rate)
            )
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            logger.warning(
                "no global concurrency limit %r: sending is not rate limited (create one "
                "with slot decay, or set HOMECOMING_SEND_RATE_PER_SECOND)",
                name,
            )
            return None
    if not limit.slot_decay_per_second or not limit.active:
        logger.warning("limit %r has no slot decay or is inactive: not rate limiting", name)
        return None
    size = max(1, int(limit.limit))

    def throttle(count: int) -> None:
        while count > 0:
            take = min(count, size)
            rate_limit(name, occupy=take)
            count -= take

    return throttle


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
    campaign: Campaign, period_key: str, now: datetime, *, batches: int, rate_limited: bool
) -> SendReport:
    """Send up to ``batches`` batches of due rows; a retry resumes where the ledger stands."""
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
    total.failures.update(part.failures)
    total.stopped = part.stopped or total.stopped


def artifact_rows(result: RunResult) -> list[dict[str, Any]]:
    """Outcomes by reason, sent, failed and reconciled: counts only, no personal data."""
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


@flow(name=FLOW_NAME)
def campaign_period_flow(
    campaign: str, period: str | None = None, now: str | None = None
) -> dict[str, Any]:
    """Run one period of one campaign (default: the period running now).

    ``now`` (ISO 8601) acts as of another time for back-fills and the demo; follow-up
    waves are scheduled only when running on the clock.
    """
    logger = get_run_logger()
    moment = datetime.fromisoformat(now) if now else utcnow()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    from campaigns.render import default_renderer

    try:
        definition = load_campaign(campaign, engine=get_engine(), renderer=default_renderer())
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
            definition, the_period.key, moment, batches=BATCHES_PER_TASK, rate_limited=limited
        )
        _merge(total, part)
        if part.stopped or part.batches < BATCHES_PER_TASK:
            break
    result = conclude(get_engine(), prepared, total)
    create_table_artifact(
        key=f"campaign-{definition.name}".lower().replace("_", "-"),
        table=artifact_rows(result),
        description=(
            f"Campaign {definition.name}, period {result.period}, as of {moment.isoformat()}. "
            f"Next send: {result.next_send_at.isoformat() if result.next_send_at else 'none'}."
        ),
    )
    logger.info(
        "campaign %s %s: sent %d, failed %d, already sent %d, pending %d",
        result.campaign,
        result.period,
        result.send.sent,
        result.send.failed,
        result.already_sent,
        result.pending,
    )
    summary = result.as_dict()
    if now is None:
        summary["follow_up_run"] = _follow_up(result, logger)
    if total.stopped:
        raise RuntimeError(f"sending stopped: {total.stopped}; the ledger is safe to retry")
    return summary


# --- deployments ---------------------------------------------------------------------------


def campaign_deployment(campaign: Campaign, *, now: datetime | None = None) -> RunnerDeployment:
    """The deployment of one campaign: its cadence as a Cron or RRule schedule in its zone."""
    from prefect.schedules import Cron, RRule

    assert campaign.cadence is not None
    kind, text = schedule(campaign.cadence)
    zone = campaign.cadence.time_zone
    plan = Cron(text, timezone=zone) if kind == "cron" else RRule(text, timezone=zone)
    ended = bool(campaign.end and campaign.end < (now or utcnow()).date())
    return campaign_period_flow.to_deployment(
        name=campaign.name,
        schedules=[plan],
        parameters={"campaign": campaign.name},
        description=campaign.description or f"{campaign.kind} campaign",
        tags=["campaign", campaign.kind, campaign.channel],
        paused=ended,
    )


def _scheduled(campaigns: list[Campaign]) -> list[Campaign]:
    return [c for c in campaigns if c.cadence is not None]


def sync_campaigns(
    *, work_pool: str | None = None, campaigns: list[Campaign] | None = None
) -> dict[str, list[str]]:
    """Create or update one deployment per scheduled campaign; pause those whose file is gone.

    Returns the names ``applied``, ``paused`` (definition removed) and ``ended`` (past the end
    date, applied paused). Invalid definitions raise before anything changes.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, FlowFilter, FlowFilterName

    if campaigns is None:
        campaigns, errors = load_all()
        if errors:
            raise ValueError("; ".join(str(e) for e in errors))
    wanted = _scheduled(campaigns)
    applied, ended = [], []
    for campaign in wanted:
        deployment = campaign_deployment(campaign)
        deployment.apply(work_pool_name=work_pool)
        applied.append(campaign.name)
        if deployment.paused:
            ended.append(campaign.name)
    names = {c.name for c in wanted}
    paused: list[str] = []
    with get_client(sync_client=True) as client:
        existing = client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
            deployment_filter=DeploymentFilter(),
        )
        for deployment in existing:
            if deployment.name not in names and not deployment.paused:
                client.pause_deployment(deployment.id)
                paused.append(deployment.name)
    return {"applied": applied, "paused": sorted(paused), "ended": ended}


def static_deployments(path: Path = PREFECT_YAML) -> tuple[list[RunnerDeployment], list[str]]:
    """The deployments of ``prefect.yaml`` (refresh-segments, retention-report, ...) for
    ``serve``; a flow that cannot be imported is skipped with a warning."""
    from prefect.schedules import Cron, Interval, RRule

    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    found: list[RunnerDeployment] = []
    warnings: list[str] = []
    for spec in (data or {}).get("deployments") or []:
        name = spec.get("name", "?")
        entry = str(spec.get("entrypoint", ""))
        file_part, _, attribute = entry.partition(":")
        module = file_part.removesuffix(".py").replace("/", ".")
        try:
            target = getattr(importlib.import_module(module), attribute)
        except Exception as exc:
            warnings.append(f"skipped {name}: cannot import {entry} ({type(exc).__name__}: {exc})")
            continue
        schedules = []
        for s in spec.get("schedules") or []:
            zone = s.get("timezone")
            if "cron" in s:
                schedules.append(Cron(s["cron"], timezone=zone))
            elif "rrule" in s:
                schedules.append(RRule(s["rrule"], timezone=zone))
            elif "interval" in s:
                schedules.append(Interval(timedelta(seconds=float(s["interval"])), timezone=zone))
        found.append(
            target.to_deployment(
                name=name,
                description=spec.get("description"),
                schedules=schedules,
                parameters=spec.get("parameters") or {},
            )
        )
    return found, warnings


def serve_all(*, limit: int | None = None) -> None:
    """Serve every campaign deployment and the static ones in this one process."""
    campaigns, errors = load_all()
    if errors:
        raise ValueError("; ".join(str(e) for e in errors))
    from prefect import serve

    sync_campaigns(campaigns=campaigns)
    deployments = [campaign_deployment(c) for c in _scheduled(campaigns)]
    static, warnings = static_deployments()
    for warning in warnings:
        log.warning(warning)
    serve(*deployments, *static, pause_on_shutdown=False, limit=limit)


def upcoming(campaigns: list[Campaign], *, after: datetime | None = None) -> dict[str, datetime]:
    """The next run of each scheduled campaign, as these functions and Prefect compute it."""
    moment = after or utcnow()
    found = {}
    for c in _scheduled(campaigns):
        runs = next_runs(c, after=moment)
        if runs:
            found[c.name] = runs[0]
    return found
