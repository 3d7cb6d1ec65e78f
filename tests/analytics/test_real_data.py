"""The December 2010 cohort of the UCI Online Retail data, as published."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from analytics.cohorts import cohort_table
from cli.main import app
from ingest.run import ingest_file
from tests.conftest import DATA

PUBLISHED = [36.6, 32.3, 38.4, 36.3, 39.8, 36.3, 34.9, 35.4, 39.5, 37.4, 50.3, 26.6]


@pytest.mark.slow
def test_december_2010_cohort(database_url: str, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip(
            "the whole file runs once, on SQLite; cohort SQL on PostgreSQL is checked against pandas"
        )
    ingest_file(
        kind="orders",
        path=DATA / "online_retail_2010-2011_uci352.csv.gz",
        fmt="online-retail",
        engine=engine,
    )
    first = cohort_table(engine)[0]
    assert first["cohort"] == "2010-12" and first["size"] == 885
    assert [round(100 * r, 1) for r in first["retention"][1:13]] == PUBLISHED
    out = CliRunner().invoke(app, ["report", "cohorts", "--format", "json"])
    assert out.exit_code == 0, out.output
    cli_first = json.loads(out.stdout)["cohorts"][0]
    assert cli_first["size"] == 885 and round(cli_first["retention"][1], 3) == 0.366
