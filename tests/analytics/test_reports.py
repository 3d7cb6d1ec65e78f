"""Every report kind in every format through the CLI, the flow's artifacts, and the HTML."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from analytics.build import KINDS
from cli.main import app

runner = CliRunner()
CHROMIUM = Path("/usr/bin/chromium")


def invoke(*args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_in_every_format(store: Engine, kind: str, tmp_path: Path) -> None:
    from analytics.build import build
    from models.db import get_engine

    title = build(get_engine(), kind).title
    table = invoke(kind)
    assert title in table.stdout and "[1]" in table.stdout  # definitions come with numbers
    rows = list(csv.DictReader(io.StringIO(invoke(kind, "--format", "csv").stdout)))
    assert rows
    data = json.loads(invoke(kind, "--format", "json").stdout)
    assert data["definitions"] and data["report"] == kind
    if kind == "cohorts":
        assert len(data["cohorts"]) == len(rows)
        first = data["cohorts"][0]
        assert set(first) >= {"cohort", "size", "retention"} and first["retention"][0] == 1.0
    else:
        main = next(
            v
            for k, v in data.items()
            if isinstance(v, list) and k not in ("warnings", "definitions")
        )
        assert len(main) == len(rows)
    out = tmp_path / f"{kind}.html"
    invoke(kind, "--format", "html", "--out", str(out))
    page = out.read_text()
    assert (
        page.count("<svg") >= 1 and "<script" not in page and "http" not in page.split("<body>")[1]
    )


def test_options_change_the_numbers(store: Engine) -> None:
    week = json.loads(invoke("campaigns", "--json").stdout)["campaign_uplift"]
    day = json.loads(invoke("campaigns", "--json", "--window", "1").stdout)["campaign_uplift"]
    assert sum(r["converted"] for r in day) < sum(r["converted"] for r in week)
    by_month = json.loads(invoke("csat", "--by", "month", "--json").stdout)["csat"]
    assert all(re.fullmatch(r"\d{4}-\d\d", r["month"]) for r in by_month)
    cut = json.loads(
        invoke("cohorts", "--json", "--from", "2025-06-01", "--to", "2025-09-30").stdout
    )
    assert [c["cohort"] for c in cut["cohorts"]] == ["2025-06", "2025-07", "2025-08", "2025-09"]
    london = json.loads(invoke("cohorts", "--json", "--time-zone", "Europe/London").stdout)
    assert "Europe/London" in london["window"]


def test_all_kinds_in_one_html_and_one_json(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / "all.html"
    invoke("--format", "html", "--out", str(out))  # KIND omitted: the whole report
    page = out.read_text()
    for kind in KINDS:
        assert f'<section id="{kind}">' in page
    for label in ("cohort retention heat map", "retention curves per segment",
                  "campaign uplift with 95 % intervals", "CSAT over time"):  # fmt: skip
        assert f'aria-label="{label}' in page
    data = json.loads(invoke("all", "--json").stdout)
    assert set(data) == set(KINDS)


def test_bad_input_is_a_clear_error(store: Engine) -> None:
    cases = [
        (["churn"], "unknown report 'churn'; expected one of repeat, cohorts"),
        (["csat", "--by", "colour"], "expected one of survey, segment, month"),
        (["cohorts", "--by", "segment"], "it takes no --by"),
        (["cohorts", "--time-zone", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["cohorts", "--from", "2026-02-01", "--to", "2026-01-01"], "is after --to"),
        (["all", "--format", "csv"], "CSV holds one table"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["report", *args])
        assert result.exit_code == 2, args
        assert message in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output


def test_a_database_without_tables_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.settings import get_settings

    monkeypatch.setenv("HOMECOMING_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["report", "cohorts"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "homecoming db upgrade" in result.output


def test_empty_store_reports_say_so(engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    invoke("--format", "html", "--out", str(out))
    assert "No orders yet" in out.read_text()
    assert json.loads(invoke("cohorts", "--json").stdout)["cohorts"] == []


def test_flow_writes_html_and_artifacts(
    store: Engine, tmp_path: Path, prefect_harness: None
) -> None:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.analytics import retention_report_flow

    state = retention_report_flow(out=str(tmp_path / "report.html"), return_state=True)
    path = Path(state.result())
    assert path == (tmp_path / "report.html").resolve()
    assert path.read_text().count("<svg") >= 5

    async def artifacts() -> dict[str, object]:
        async with get_client() as client:
            run = ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=run))
            return {a.key: a for a in found}

    got = asyncio.run(artifacts())
    wanted = {"repeat-purchase", "customer-retention-rate", "customer-retention-period",
              "cohort-retention", "segment-retention", "campaign-uplift", "campaign-engagement",
              "csat", "csat-by-month", "retention-report"}  # fmt: skip
    assert set(got) == wanted
    assert all(key == key.lower() and " " not in key for key in got)
    assert "2025-01" in str(got["cohort-retention"].data)
    markdown = str(got["retention-report"].data)
    assert "# Retention report" in markdown and str(path) in markdown
    assert "@" not in markdown  # ids and aggregates only, never an address


@pytest.mark.browser
def test_html_report_opens_in_chromium_with_its_charts(store: Engine, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            "/usr/bin/chromium is missing (Debian package chromium); scripts/ensure-chromium installs it"
        )
    from playwright.sync_api import sync_playwright

    out = tmp_path / "all.html"
    invoke("all", "--format", "html", "--out", str(out))
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(out.as_uri())
        assert page.locator("section").count() == len(KINDS)
        for label in ("cohort retention heat map", "retention curves per segment",
                      "campaign uplift with 95 % intervals", "CSAT over time"):  # fmt: skip
            chart = page.locator(f'svg[aria-label^="{label}"]')
            assert chart.count() == 1, label
            box = chart.bounding_box()
            assert box and box["width"] > 400 and box["height"] > 100, label
        assert page.locator("#cohorts svg rect").count() > 50  # heat map cells
        assert page.locator("#campaigns svg circle").count() >= 6  # one estimate per row
        assert page.locator("#segments svg polyline").count() >= 4  # one curve per segment
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert requests == [out.as_uri()]  # nothing fetched from anywhere else
