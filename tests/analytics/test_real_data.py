"""The December 2010 cohort of the UCI Online Retail data, as published, through ingestion."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from analytics.cohorts import cohort_table
from analytics.orders import Window
from analytics.repeat import repeat_rate
from cli.main import app
from ingest.run import ingest_file
from tests.conftest import DATA

# 885 customers; retention in months 1 to 11, in %. Month 12 (December 2011) is n/a: the
# data ends on 9 December, so its share would count only 9 days of the month.
PUBLISHED = [36.6, 32.3, 38.4, 36.3, 39.8, 36.3, 34.9, 35.4, 39.5, 37.4, 50.3]


@pytest.mark.slow
@pytest.mark.parametrize("zone", ["Europe/London"])
def test_december_2010_cohort(engine: Engine, zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest_file(
        kind="orders",
        path=DATA / "online_retail_2010-2011_uci352.csv.gz",
        fmt="online-retail",
        engine=engine,
    )
    # The store's own zone; invoices run 06:00-20:00, so UTC months give the same table.
    for window in (Window.of(None, None, zone), Window.of(None, None, "UTC")):
        first = cohort_table(engine, window=window)[0]
        assert (first["cohort"], first["size"]) == ("2010-12", 885)
        assert [round(100 * r, 1) for r in first["retention"][1:12]] == PUBLISHED
        assert first["retention"][12] is None and first["customers"][12] == 235
    # The data's README: 4,338 customers, 2,845 (65.6 %) with more than one invoice.
    [everyone] = repeat_rate(engine, window=Window.of(None, None, zone))
    assert (everyone["customers"], everyone["repeat_customers"]) == (4338, 2845)

    monkeypatch.setenv("HOMECOMING_DEFAULT_TIME_ZONE", zone)
    from models.settings import get_settings

    get_settings.cache_clear()
    out = CliRunner().invoke(app, ["report", "cohorts", "--format", "json"])
    assert out.exit_code == 0, out.output
    december = json.loads(out.stdout)["cohorts"][0]
    assert december["cohort"] == "2010-12" and december["size"] == 885
    assert [round(r, 3) for r in december["retention"][:3]] == [1.0, 0.366, 0.323]
    table = CliRunner().invoke(app, ["report", "cohorts"])
    assert "2010-12" in table.stdout and "36.6" in table.stdout
