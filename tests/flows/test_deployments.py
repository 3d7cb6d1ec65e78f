"""The deployments as operators run them: a real Prefect server, a process worker, and
``homecoming serve``, each a process of its own, on a small store.

Nothing here calls a flow in-process: the README's commands register and run them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ingest.run import ingest_file
from models.db import get_engine, upgrade
from synthetic import write_store
from tests.flows.processes import (
    HOMECOMING,
    PREFECT,
    Api,
    Process,
    environment,
    healthy,
    prefect_server,
    run,
    wait_until_final,
)
from web.server import free_port

KINDS = ("customers", "orders", "interactions", "shipments", "devices")
STATIC = ("refresh-segments", "retention-report", "send-surveys", "sync-provider-events")
CAMPAIGN = "campaign-period/hourly_check"
# Hourly, at the cadence's own hour for everyone and without quiet hours, so a run at any
# time of day has something due to send.
HOURLY = """\
name: hourly_check
kind: newsletter
segments: ["lifecycle:active_repeat", "lifecycle:new", "lifecycle:at_risk"]
cadence: {cron: "0 * * * *", time_zone: UTC}
local_time: false
quiet_hours: {start: 0, end: 0}
"""
# Its deployment is applied paused; a run by hand after the end must send nothing.
ENDED = """\
name: ended_check
kind: promotion
segments: ["lifecycle:active_repeat"]
cadence: {cron: "0 12 * * *", time_zone: UTC}
local_time: false
quiet_hours: {start: 0, end: 0}
start: 2026-11-01
end: 2026-11-30
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 120 customers with its own definitions, as ``HOMECOMING_HOME``."""
    home = tmp_path_factory.mktemp("store-home")
    url = f"sqlite:///{home / 'homecoming.db'}"
    upgrade(url)
    write_store(out=home / "store", customers=120, seed=3, end=date(2026, 11, 20))
    engine = get_engine(url)
    for kind in KINDS:
        ingest_file(kind=kind, path=home / "store" / f"{kind}.csv", engine=engine)
    (home / "definitions" / "campaigns").mkdir(parents=True)
    (home / "definitions" / "campaigns" / "hourly_check.yaml").write_text(HOURLY)
    (home / "definitions" / "campaigns" / "ended_check.yaml").write_text(ENDED)
    return home


def _env(home: Path, **extra: str) -> dict[str, str]:
    return environment(
        home,
        HOMECOMING_DEFINITIONS_DIR="definitions",  # relative: taken from HOMECOMING_HOME
        PREFECT_HOME=str(home / "prefect-client"),
        **extra,
    )


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("prefect-server")
    env = environment(folder, PREFECT_HOME=str(folder / "prefect"))
    with prefect_server(env, folder, free_port()) as api:
        yield api


def _ready(process: Process, marker: str) -> str | None:
    return next((ln for ln in process.output().splitlines() if marker in ln), None)


def test_serve_against_a_running_server_runs_what_it_is_asked(home: Path, server: str) -> None:
    """``homecoming serve`` with PREFECT_API_URL: a deployment run from the CLI completes."""
    env = _env(home, PREFECT_API_URL=server)
    serve = Process([HOMECOMING, "serve"], env, home, home / "serve-shared.log")
    try:
        serve.wait_for(lambda: _ready(serve, "serving "), "serving line")
        assert "Prefect UI" not in serve.output()  # the given server is used, none started
        api = Api(server)
        serve.wait_for(lambda: api.deployment("refresh-segments/refresh-segments"), "deployment")
        out = run([PREFECT, "deployment", "run", "refresh-segments/refresh-segments"], env, home)
        run_id = next(w for w in out.split() if w.count("-") == 4)
        final = wait_until_final(api, {"refresh-segments": run_id}, serve)
        assert final["refresh-segments"]["state_type"] == "COMPLETED", serve.tail()
        assert final["refresh-segments"]["name"].startswith("refresh-segments 20")
    finally:
        serve.stop()


def test_a_process_worker_runs_every_deployment(home: Path, server: str) -> None:
    """The README's server section: work pool, ``homecoming deploy``, a worker; every
    deployment run from the API completes, and everything lands in HOMECOMING_HOME."""
    env = _env(home, PREFECT_API_URL=server)
    run([PREFECT, "work-pool", "create", "homecoming", "--type", "process"], env, home)
    deployed = run([HOMECOMING, "deploy", "--work-pool", "homecoming", "--json"], env, home)
    assert "hourly_check" in deployed
    api = Api(server)
    for name in [f"{s}/{s}" for s in STATIC] + [CAMPAIGN]:
        deployment = api.deployment(name)
        assert deployment["work_pool_name"] == "homecoming"
        assert deployment["entrypoint"].startswith("flows."), deployment["entrypoint"]
        assert deployment["job_variables"]["working_dir"] == str(home)

    worker_dir = home.parent / "worker-cwd"  # the worker runs somewhere else entirely
    worker_dir.mkdir(exist_ok=True)
    worker = Process(
        [PREFECT, "worker", "start", "--pool", "homecoming", "--limit", "2"],
        env,
        worker_dir,
        home / "worker.log",
    )
    try:
        first = {"refresh-segments": api.run_deployment("refresh-segments/refresh-segments")}
        assert wait_until_final(api, first, worker)["refresh-segments"]["state_type"] == (
            "COMPLETED"
        ), worker.tail()
        # Two days late (before anything else was sent, so no cap is in the way), and after
        # the campaign's end: each completes, sends nothing and says why.
        late_period = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:00")
        idle = {
            "late": api.run_deployment(CAMPAIGN, campaign="hourly_check", period=late_period),
            "ended": api.run_deployment("campaign-period/ended_check"),
        }
        idle_final = wait_until_final(api, idle, worker)
        runs = {s: api.run_deployment(f"{s}/{s}") for s in STATIC[1:]}
        runs["campaign"] = api.run_deployment(CAMPAIGN)
        final = wait_until_final(api, runs, worker)
    finally:
        worker.stop()
    assert {n: r["state_type"] for n, r in idle_final.items()} == dict.fromkeys(
        idle, "COMPLETED"
    ), worker.tail(80)
    assert idle_final["ended"]["name"] == "ended_check ended on 2026-11-30"
    assert idle_final["late"]["name"] == f"hourly_check {late_period}"
    [ended] = api.artifacts("campaign-ended-check")
    assert "ended on 2026-11-30" in ended["description"]
    late_rows = {
        r["outcome"]: r["count"] for r in api.artifacts("campaign-hourly-check")[-1]["data"]
    }
    assert late_rows["sent by this run"] == 0 and late_rows["suppressed: too_late"] > 0, late_rows
    states = {name: r["state_type"] for name, r in final.items()}
    assert states == dict.fromkeys(runs, "COMPLETED"), worker.tail(80)
    assert final["campaign"]["name"].startswith("hourly_check 20")
    assert list((home / "outbox").glob("*.eml")), "the campaign sent into HOMECOMING_HOME"
    assert (home / ".homecoming" / "reports" / "retention-report.html").exists()
    assert not list(worker_dir.iterdir()), "nothing lands in the worker's own folder"

    # ``serve`` against the same server leaves the pool's deployments to their workers.
    before = {n: api.deployment(f"{n}/{n}") for n in STATIC}
    serve = Process([HOMECOMING, "serve"], env, home, home / "serve-pool.log")
    assert serve.popen.wait(timeout=120) == 0, serve.tail()
    assert "left to its workers: send-surveys/send-surveys (work pool homecoming)" in (
        serve.output()
    )
    for name, old in before.items():
        new = api.deployment(f"{name}/{name}")
        for key in ("entrypoint", "work_pool_name", "job_variables", "pull_steps", "updated"):
            assert new[key] == old[key], (name, key)


def test_embedded_serve_schedules_runs_on_its_own(home: Path) -> None:
    """Without PREFECT_API_URL, ``serve`` starts a real local server with a scheduler: the
    send-surveys schedule runs without anyone triggering it. Ctrl-C stops everything."""
    env = _env(home, HOMECOMING_SURVEYS_EVERY_SECONDS="5")
    serve = Process([HOMECOMING, "serve"], env, home, home / "serve-embedded.log")
    ui = None
    try:
        line = serve.wait_for(lambda: _ready(serve, "Prefect UI: http://"), "UI line", 150)
        ui = line.split("Prefect UI: ", 1)[1].strip()
        assert ui.startswith("http://127.0.0.1:")
        assert (home / ".homecoming" / "prefect").is_dir()
        api = Api(f"{ui}/api")
        serve.wait_for(lambda: _ready(serve, "serving "), "serving line")

        def scheduled_and_done() -> bool:
            runs = api.runs_of("send-surveys/send-surveys")
            return any(r["auto_scheduled"] and r["state_type"] == "COMPLETED" for r in runs)

        serve.wait_for(scheduled_and_done, "scheduled send-surveys run completed", 150)
        runs = {"campaign": api.run_deployment(CAMPAIGN)}
        runs.update({s: api.run_deployment(f"{s}/{s}") for s in STATIC if s != "send-surveys"})
        final = wait_until_final(api, runs, serve)
        assert {n: r["state_type"] for n, r in final.items()} == dict.fromkeys(runs, "COMPLETED"), (
            serve.tail(80)
        )
    finally:
        code = serve.interrupt()
    assert code == 0, serve.tail()
    assert ui and not healthy(f"{ui}/api"), "Ctrl-C stops the server serve started"
