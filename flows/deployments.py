"""Every deployment of homecoming, defined once, for a work pool or for ``homecoming serve``.

Four static deployments (``refresh-segments``, ``retention-report``, ``send-surveys``,
``sync-provider-events``) and one ``campaign-period`` deployment per scheduled campaign,
whose schedule is the campaign's cadence in its time zone.

Entry points are module paths (``flows.campaigns.campaign_period_flow``), never file paths:
Prefect puts a file entry point's folder first on ``sys.path``, where ``flows/campaigns.py``
would shadow the ``campaigns`` package. A process worker runs each flow in
``HOMECOMING_HOME`` (the ``working_dir`` job variable), so a ``.env`` there is read and
nothing lands in a temporary folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, FlowFilter, FlowFilterName
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule
from prefect.types.entrypoint import EntrypointType

from campaigns.cadence import next_runs, prefect_schedule
from campaigns.definitions import Campaign
from flows.analytics import retention_report_flow
from flows.campaigns import FLOW_NAME, campaign_period_flow
from flows.events import sync_provider_events_flow
from flows.segments import refresh_segments_flow
from flows.surveys import send_surveys_flow
from models.base import utcnow
from models.settings import Settings


@dataclass(frozen=True)
class Static:
    """A deployment that every store has, whatever its campaigns."""

    flow: Flow[..., Any]
    description: str
    schedule: Callable[[Settings], Schedule]


STATIC = (
    Static(
        refresh_segments_flow,
        "Recompute features, RFM, rule segments, clusters and predictions; snapshot membership.",
        lambda s: Cron("0 3 * * *", timezone="UTC"),
    ),
    Static(
        retention_report_flow,
        "Retention, cohort, segment, campaign and CSAT tables as artifacts, and the HTML report.",
        lambda s: Cron("0 6 * * 1", timezone="UTC"),
    ),
    Static(
        send_surveys_flow,
        "Send CSAT, NPS and feedback surveys whose trigger (delivery, resolved ticket) is due.",
        lambda s: Interval(timedelta(seconds=s.surveys_every_seconds), timezone="UTC"),
    ),
    Static(
        sync_provider_events_flow,
        "Read SES events (bounce, complaint, delivery, open, click) into suppression.",
        lambda s: Interval(timedelta(seconds=s.events_every_seconds), timezone="UTC"),
    ),
)


def _deployment(flow: Flow[..., Any], **options: Any) -> RunnerDeployment:
    deployment = flow.to_deployment(entrypoint_type=EntrypointType.MODULE_PATH, **options)
    # to_deployment returns a coroutine when called from async code; this module is sync
    assert isinstance(deployment, RunnerDeployment), "build deployments outside an event loop"
    return deployment


def static_deployments(settings: Settings) -> list[RunnerDeployment]:
    return [
        _deployment(
            s.flow, name=s.flow.name, description=s.description, schedules=[s.schedule(settings)]
        )
        for s in STATIC
    ]


def campaign_deployment(campaign: Campaign, *, now: datetime | None = None) -> RunnerDeployment:
    """One campaign's deployment: its cadence as Prefect schedules it; paused once ended."""
    assert campaign.cadence is not None
    ended = bool(campaign.end and campaign.end < (now or utcnow()).date())
    return _deployment(
        campaign_period_flow,
        name=campaign.name,
        schedules=[prefect_schedule(campaign.cadence)],
        parameters={"campaign": campaign.name},
        description=campaign.description or f"{campaign.kind} campaign",
        tags=["campaign", campaign.kind, campaign.channel],
        paused=ended,
    )


def scheduled(campaigns: Sequence[Campaign]) -> list[Campaign]:
    return [c for c in campaigns if c.cadence is not None]


def all_deployments(campaigns: Sequence[Campaign], settings: Settings) -> list[RunnerDeployment]:
    return [*static_deployments(settings), *(campaign_deployment(c) for c in scheduled(campaigns))]


@dataclass
class Registration:
    """What ``register`` did, by deployment name."""

    applied: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)  # past their end date, applied paused
    paused: list[str] = field(default_factory=list)  # their campaign definition is gone

    def as_dict(self) -> dict[str, list[str]]:
        return {"applied": self.applied, "ended": self.ended, "paused": self.paused}


def register(
    campaigns: Sequence[Campaign], settings: Settings, *, work_pool: str | None = None
) -> Registration:
    """Create or update every deployment; pause campaign deployments whose file is gone.

    With a work pool, its process workers run each flow in ``settings.home``. Without one the
    deployments are for ``homecoming serve`` (which applies them itself).
    """
    done = Registration()
    variables = {"working_dir": str(settings.home)} if work_pool else {}
    for deployment in all_deployments(campaigns, settings):
        deployment.job_variables = variables
        deployment.apply(work_pool_name=work_pool)
        done.applied.append(deployment.name)
        if deployment.paused:
            done.ended.append(deployment.name)
    done.paused = _pause_removed({c.name for c in scheduled(campaigns)})
    return done


def _pause_removed(names: set[str]) -> list[str]:
    paused = []
    with get_client(sync_client=True) as client:
        existing = client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
            deployment_filter=DeploymentFilter(),
        )
        for deployment in existing:
            if deployment.name not in names and not deployment.paused:
                client.pause_deployment(deployment.id)
                paused.append(deployment.name)
    return sorted(paused)


def split_by_owner(
    deployments: Sequence[RunnerDeployment],
) -> tuple[list[RunnerDeployment], list[str]]:
    """The deployments ``serve`` may take, and ``flow/name (work pool P)`` of those it may not.

    ``serve`` applies what it serves without a work pool, which would rewrite a deployment
    that a pool's workers run; those stay with their workers.
    """
    with get_client(sync_client=True) as client:
        flows = {f.id: f.name for f in client.read_flows()}
        pools = {
            f"{flows.get(d.flow_id)}/{d.name}": d.work_pool_name
            for d in client.read_deployments()
            if d.work_pool_name
        }
    free = [d for d in deployments if f"{d.flow_name}/{d.name}" not in pools]
    owned = [
        f"{d.flow_name}/{d.name} (work pool {pools[key]})"
        for d in deployments
        if (key := f"{d.flow_name}/{d.name}") in pools
    ]
    return free, owned


def serve_deployments(
    deployments: Sequence[RunnerDeployment], campaigns: Sequence[Campaign], *, limit: int | None
) -> None:
    """Serve in this process until Ctrl-C or SIGTERM; removed campaigns' deployments pause."""
    from prefect import serve

    _pause_removed({c.name for c in scheduled(campaigns)})
    serve(*deployments, pause_on_shutdown=False, limit=limit, print_starting_message=False)


def upcoming(
    campaigns: Sequence[Campaign], *, after: datetime | None = None
) -> dict[str, datetime]:
    """The next run of each scheduled campaign, as Prefect's scheduler computes it."""
    moment = after or utcnow()
    found = {}
    for c in scheduled(campaigns):
        runs = next_runs(c, after=moment)
        if runs:
            found[c.name] = runs[0]
    return found
