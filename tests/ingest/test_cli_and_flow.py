"""The command line and the Prefect flow around ingestion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from models.db import current_revision
from models.settings import get_settings
from tests.conftest import DATA

runner = CliRunner()
SAMPLE = str(DATA / "online_retail_sample.csv")


def ingest_json(*args: str) -> dict:
    result = runner.invoke(app, ["ingest", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_json_accounts_for_every_line(database_url: str) -> None:
    data = ingest_json("orders", SAMPLE, "--format", "online-retail")
    assert data["read"] == 3000
    parts = ("loaded", "guest_lines", "cancellations", "quarantined", "duplicates")
    assert data["accounting"]["sum"] == sum(data[p] for p in parts) == data["read"]
    assert data["accounting"]["balanced"] is True
    assert data["created"]["order_lines"] == data["loaded"] + data["guest_lines"]
    again = ingest_json("orders", SAMPLE, "--format", "online-retail")
    assert (again["loaded"], again["duplicates"], again["created"]) == (0, 3000, {})


def test_cli_prints_a_table_for_people(database_url: str) -> None:
    result = runner.invoke(app, ["ingest", "orders", SAMPLE, "--format", "online-retail"])
    assert result.exit_code == 0, result.output
    shown = " ".join(result.stdout.split())
    assert "orders from online_retail_sample.csv (online-retail)" in shown
    assert "read │ 3,000" in shown and "guest lines" in shown


def test_cli_file_error_is_one_clear_line(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "orders.csv"
    bad.write_text("order_id,sku\no1,S1\n")
    result = runner.invoke(app, ["ingest", "orders", str(bad), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    message = " ".join(result.stderr.split())
    assert message.startswith("error: orders.csv: missing required column(s) ordered_at, quantity")
    assert "Traceback" not in result.output


def test_cli_rejects_unknown_format(database_url: str) -> None:
    result = runner.invoke(
        app, ["ingest", "orders", str(DATA / "CDNOW_sample.txt"), "--format", "excel"]
    )
    assert result.exit_code == 2
    assert "excel" in result.output and "online-retail" in result.output


def test_cli_creates_a_fresh_database(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a fresh file database; PostgreSQL schemas come from the fixture")
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("HOMECOMING_DATABASE_URL", url)
    get_settings.cache_clear()
    data = ingest_json("orders", str(DATA / "CDNOW_sample.txt"), "--format", "cdnow")
    assert data["created"]["customers"] == 2357
    assert current_revision(url) is not None


def test_flow_ingests_and_reports(database_url: str, prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
        FlowRunFilter,
        FlowRunFilterId,
    )

    from flows.ingest import ingest_flow

    state = ingest_flow("orders", str(DATA / "CDNOW_sample.txt"), "cdnow", return_state=True)
    summary = state.result()
    assert (summary["read"], summary["loaded"]) == (6919, 6919)
    assert ingest_flow("orders", str(DATA / "CDNOW_sample.txt"), "cdnow")["duplicates"] == 6919
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["ingest-summary"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            )
        )
    data = artifact.data if isinstance(artifact.data, list) else json.loads(artifact.data)
    assert data == [
        {
            "kind": "orders",
            "format": "cdnow",
            "read": 6919,
            "loaded": 6919,
            "guest_lines": 0,
            "cancellations": 0,
            "quarantined": 0,
            "duplicates": 0,
        }
    ]

    # A file that cannot be read fails the flow at once: retrying will not fix it.
    failed = ingest_flow("orders", str(DATA / "missing.csv"), "generic", return_state=True)
    assert failed.is_failed()
    with get_client(sync_client=True) as client:
        [task_run] = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[failed.state_details.flow_run_id])
            )
        )
    assert task_run.run_count == 1
