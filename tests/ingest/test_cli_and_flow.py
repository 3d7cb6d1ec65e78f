"""The command line and the Prefect flow around ingestion."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from tests.conftest import DATA

runner = CliRunner()


def test_cli_json_accounts_for_every_line(database_url: str) -> None:
    result = runner.invoke(
        app,
        [
            "ingest",
            "orders",
            str(DATA / "online_retail_sample.csv"),
            "--format",
            "online-retail",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["read"] == 3000
    assert data["accounting"]["sum"] == data["read"]
    again = json.loads(
        runner.invoke(
            app,
            [
                "ingest",
                "orders",
                str(DATA / "online_retail_sample.csv"),
                "--format",
                "online-retail",
                "--json",
            ],
        ).stdout
    )
    assert (again["loaded"], again["duplicates"]) == (0, 3000)


def test_cli_file_error_is_one_clear_line(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "orders.csv"
    bad.write_text("order_id,sku\no1,S1\n")
    result = runner.invoke(app, ["ingest", "orders", str(bad)])
    assert result.exit_code == 2
    assert "orders.csv: missing required column(s) ordered_at, quantity, unit_price" in " ".join(
        result.output.split()
    )
    assert "Traceback" not in result.output


def test_cli_rejects_unknown_format(database_url: str) -> None:
    result = runner.invoke(
        app, ["ingest", "orders", str(DATA / "CDNOW_sample.txt"), "--format", "excel"]
    )
    assert result.exit_code != 0
    assert "excel" in result.output


def test_flow_ingests_and_reports(database_url: str, prefect_harness: None) -> None:
    from flows.ingest import ingest_flow

    summary = ingest_flow("orders", str(DATA / "CDNOW_sample.txt"), "cdnow")
    assert summary["loaded"] == 6919
    assert ingest_flow("orders", str(DATA / "CDNOW_sample.txt"), "cdnow")["duplicates"] == 6919
