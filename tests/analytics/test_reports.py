"""Every report kind in every format, the flow's artifacts, and the HTML in a real browser."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from analytics.build import KINDS
from cli.main import app

runner = CliRunner()
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_in_every_format(loaded: Engine, kind: str, tmp_path: Path) -> None:
    table = runner.invoke(app, ["report", kind])
    assert table.exit_code == 0, table.output
    as_csv = runner.invoke(app, ["report", kind, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert rows, kind
    as_json = json.loads(runner.invoke(app, ["report", kind, "--format", "json"]).stdout)
    assert "definition" in as_json
    assert len(as_json["cohorts" if kind == "cohorts" else kind]) == len(rows)
    out = tmp_path / f"{kind}.html"
    assert (
        runner.invoke(app, ["report", kind, "--format", "html", "--out", str(out)]).exit_code == 0
    )
    assert "<svg" in out.read_text()


def test_unknown_kind_and_bad_by_are_clear(loaded: Engine) -> None:
    bad = runner.invoke(app, ["report", "churn"])
    assert bad.exit_code == 2 and "expected one of repeat, cohorts" in " ".join(bad.output.split())
    bad_by = runner.invoke(app, ["report", "csat", "--by", "colour"])
    assert bad_by.exit_code == 2 and "survey, month, segment" in bad_by.output


def test_flow_writes_html_and_artifacts(
    loaded: Engine, tmp_path: Path, prefect_harness: None
) -> None:
    from prefect.client.orchestration import get_client

    from flows.analytics import retention_report_flow

    path = Path(retention_report_flow(out=str(tmp_path / "report.html")))
    assert path.read_text().count("<svg") >= 4

    async def keys() -> set[str]:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(
                        any_=["cohort-retention", "campaign-uplift", "retention-report"]
                    )
                )
            )
            return {a.key for a in found}

    import asyncio

    assert asyncio.run(keys()) == {"cohort-retention", "campaign-uplift", "retention-report"}


@pytest.mark.browser
def test_html_report_opens_in_chromium_with_charts(loaded: Engine, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test installs it where it can)")
    from playwright.sync_api import sync_playwright

    out = tmp_path / "all.html"
    assert (
        runner.invoke(app, ["report", "all", "--format", "html", "--out", str(out)]).exit_code == 0
    )
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(out.as_uri())
        assert page.locator("section").count() == len(KINDS)
        assert page.locator("svg.chart").count() == len(KINDS)
        heat = page.locator("#cohorts svg rect").count()
        assert heat > 10
        box = page.locator("#campaigns svg").bounding_box()
        assert box and box["width"] > 300
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
