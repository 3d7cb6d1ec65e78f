"""Campaigns in Prefect: deployments with the right schedules, and the period flow."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from campaigns.cadence import next_runs
from campaigns.definitions import load_all
from campaigns.localtime import FIRST_ZONE
from models.settings import get_settings
from tests.campaigns.conftest import FakeRenderer, add_customers, add_segment

# Two schedules in their own zone (across clock changes) and one in local time, which
# fires where the day begins first (UTC+14).
DEFINITIONS = {
    "sync_weekly": """\
        name: sync_weekly
        kind: newsletter
        segments: [vip]
        cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
        local_time: false
        """,
    "sync_biweekly": """\
        name: sync_biweekly
        kind: winback
        segments: [vip]
        cadence: {every: biweekly, day: thursday, hour: 18, time_zone: America/New_York}
        local_time: false
        start: 2026-01-01
        """,
    "sync_monthly": """\
        name: sync_monthly
        kind: replenishment
        channel: push
        segments: [vip]
        cadence: {every: monthly, day: 1, hour: 9, time_zone: Asia/Tokyo}
        local_time: true
        """,
}


def _write(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / f"{name}.yaml"
        path.write_text(textwrap.dedent(DEFINITIONS[name]))
        paths.append(path)
    return paths


async def _next_dates(schedule: object, start: datetime, n: int) -> list[datetime]:
    from prefect.server.schemas import schedules as server

    data = schedule.model_dump()  # type: ignore[attr-defined]
    kind = server.CronSchedule if "cron" in data else server.RRuleSchedule
    plan = kind(**{k: v for k, v in data.items() if k in kind.model_fields})
    return await plan.get_dates(n=n, start=start)


def test_sync_creates_deployments_with_the_right_next_runs(
    prefect_harness: None, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    from flows.campaigns import FLOW_NAME
    from flows.deployments import STATIC, register

    paths = _write(tmp_path, list(DEFINITIONS))
    campaigns, errors = load_all(paths)
    assert not errors
    result = register(campaigns, get_settings())
    assert sorted(result.applied) == sorted([s.flow.name for s in STATIC] + list(DEFINITIONS))

    start = datetime(2026, 3, 20, tzinfo=UTC)  # New York has changed clocks, Berlin not yet
    berlin, new_york, first = (
        ZoneInfo(z) for z in ("Europe/Berlin", "America/New_York", FIRST_ZONE)
    )
    expected = {
        "sync_weekly": [
            datetime(2026, 3, 23, 10, tzinfo=berlin),
            datetime(2026, 3, 30, 10, tzinfo=berlin),
        ],
        "sync_biweekly": [
            datetime(2026, 3, 26, 18, tzinfo=new_york),
            datetime(2026, 4, 9, 18, tzinfo=new_york),
        ],
        # 09:00 on the 1st on each recipient's clock: the run is 09:00 in UTC+14, before
        # anyone's, and Tokyo's 09:00 is five hours later.
        "sync_monthly": [
            datetime(2026, 4, 1, 9, tzinfo=first),
            datetime(2026, 5, 1, 9, tzinfo=first),
        ],
    }
    with get_client(sync_client=True) as client:
        for name, wanted in expected.items():
            deployment = client.read_deployment_by_name(f"{FLOW_NAME}/{name}")
            assert deployment.parameters == {"campaign": name}
            assert not deployment.paused
            [schedule] = deployment.schedules
            assert schedule.active
            c = campaigns[[c.name for c in campaigns].index(name)]
            assert c.cadence is not None
            assert schedule.schedule.timezone == c.cadence.time_zone
            dates = asyncio.run(_next_dates(schedule.schedule, start, 2))
            assert [d.timestamp() for d in dates] == [w.timestamp() for w in wanted], name
            # The server's runs are the periods' starts we compute.
            ours = next_runs(c, after=start, count=2)
            assert [d.timestamp() for d in dates] == [r.timestamp() for r in ours], name
        # The weekly run moves from 09:00 to 08:00 UTC when Berlin changes its clocks.
        assert [w.astimezone(UTC).hour for w in expected["sync_weekly"]] == [9, 8]
        # The local-time run is on the day before in UTC, at 19:00.
        assert [w.astimezone(UTC) for w in expected["sync_monthly"]] == [
            datetime(2026, 3, 31, 19, tzinfo=UTC),
            datetime(2026, 4, 30, 19, tzinfo=UTC),
        ]

    # The biweekly file is removed: its deployment is paused, the others stay.
    (tmp_path / "sync_biweekly.yaml").unlink()
    kept, _ = load_all(sorted(tmp_path.glob("*.yaml")))
    result = register(kept, get_settings())
    assert "sync_biweekly" in result.paused
    with get_client(sync_client=True) as client:
        assert client.read_deployment_by_name(f"{FLOW_NAME}/sync_biweekly").paused
        assert not client.read_deployment_by_name(f"{FLOW_NAME}/sync_weekly").paused


def test_the_period_flow_sends_once_and_leaves_an_artifact(
    prefect_harness: None,
    engine: Engine,
    outbox: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.client.orchestration import get_client

    from flows.campaigns import campaign_period_flow

    folder = tmp_path / "definitions"
    _write(folder / "campaigns", ["sync_weekly"])
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(folder))
    get_settings.cache_clear()
    monkeypatch.setattr("campaigns.render.default_renderer", FakeRenderer)
    ids = add_customers(engine, 5)
    add_segment(engine, "vip", ids)

    now = "2026-11-23T12:00:00+00:00"
    first = campaign_period_flow(campaign="sync_weekly", period="2026-W48", now=now)
    assert (first["sent"], first["already_sent"], first["planned"]) == (5, 0, 5)
    second = campaign_period_flow(campaign="sync_weekly", period="2026-W48", now=now)
    assert (second["sent"], second["already_sent"]) == (0, 5)
    assert len(list(outbox.glob("*.eml"))) == 5
    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts()
    keys = {a.key for a in artifact}
    assert "campaign-sync-weekly" in keys
    with pytest.raises(ValueError, match="no campaign named"):
        campaign_period_flow(campaign="missing", period="2026-W48", now=now)


def test_later_local_send_times_get_a_follow_up_run(
    prefect_harness: None,
    engine: Engine,
    outbox: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run from the deployment on the clock sends what is due and schedules the next wave."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId
    from prefect.flow_engine import run_flow

    from flows.campaigns import FLOW_NAME, campaign_period_flow
    from flows.deployments import register

    name = f"waves_{engine.dialect.name}"  # one deployment per database: the server is shared
    folder = tmp_path / "definitions"
    (folder / "campaigns").mkdir(parents=True)
    # Hourly, at each recipient's local hour: a period starts at its hour in UTC+14, so a
    # recipient there is due at once and Los Angeles (21 or 22 hours behind) much later.
    (folder / "campaigns" / f"{name}.yaml").write_text(
        f"name: {name}\nkind: newsletter\nsegments: [vip]\n"
        'cadence: {cron: "0 * * * *", time_zone: UTC}\nquiet_hours: {start: 0, end: 0}\n'
    )
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(folder))
    get_settings.cache_clear()
    monkeypatch.setattr("campaigns.render.default_renderer", FakeRenderer)
    ids = add_customers(engine, 2, time_zone=[FIRST_ZONE, "America/Los_Angeles"])
    add_segment(engine, "vip", ids, as_of=datetime.now(UTC).date())
    campaigns, _ = load_all()
    register([c for c in campaigns if c.name == name], get_settings())
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(f"{FLOW_NAME}/{name}")
        run = client.create_flow_run_from_deployment(deployment.id, parameters={"campaign": name})
    result = run_flow(campaign_period_flow, flow_run=run, parameters={"campaign": name})
    assert result["sent"] == 1 and result["pending"] == 1
    # The next wave is the period's date and hour (its key) on the Los Angeles clock.
    wave = datetime.fromisoformat(result["next_send_at"])
    assert f"{wave.astimezone(ZoneInfo('America/Los_Angeles')):%Y-%m-%dT%H:%M}" == result["period"]
    with get_client(sync_client=True) as client:
        follow = client.read_flow_run(result["follow_up_run"])
        assert follow.deployment_id == deployment.id
        assert follow.parameters == {"campaign": name, "period": result["period"]}
        assert follow.expected_start_time == datetime.fromisoformat(result["next_send_at"])
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[deployment.id])
            )
        )
        assert len(runs) == 2  # this run and the next wave


def test_the_send_rate_limit_is_used_when_it_exists(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client

    from flows.throttle import rate_limiter

    monkeypatch.setenv("HOMECOMING_SEND_RATE_LIMIT_NAME", "test-send-rate")
    get_settings.cache_clear()
    assert rate_limiter() is None  # no limit: not throttled (said in the log)
    monkeypatch.setenv("HOMECOMING_SEND_RATE_PER_SECOND", "50")
    get_settings.cache_clear()
    throttle = rate_limiter()  # created on the way
    assert throttle is not None
    throttle(120)  # more than the limit at once: taken in parts
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("test-send-rate")
    assert (limit.limit, limit.slot_decay_per_second) == (50, 50.0)


def test_every_deployment_loads_from_its_entrypoint_in_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Module entry points: a worker's temporary folder, and no flow module shadowing a
    package (``flows/campaigns.py`` against ``campaigns``), as Prefect loads them."""
    from prefect.flows import load_flow_from_entrypoint

    from flows.deployments import all_deployments

    campaigns, errors = load_all(_write(tmp_path / "defs", ["sync_weekly"]))
    assert not errors
    deployments = all_deployments(campaigns, get_settings())
    assert len(deployments) == 5
    monkeypatch.chdir(tmp_path)
    for deployment in deployments:
        assert deployment.entrypoint and deployment.entrypoint.startswith("flows.")
        assert ".py" not in deployment.entrypoint and "/" not in deployment.entrypoint
        loaded = load_flow_from_entrypoint(deployment.entrypoint)
        assert loaded.name == deployment.flow_name
