"""Every report kind in every format through the CLI, the flow's artifacts, and the HTML."""

from __future__ import annotations

import csv
import io
import json
import re
from html import escape
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from sqlalchemy import Engine
from typer.testing import CliRunner

from analytics.build import KINDS
from analytics.report import Report, Table
from cli.main import app

runner = CliRunner()
CHROMIUM = Path("/usr/bin/chromium")


def invoke(*args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("kind", KINDS)
def test_every_table_reaches_every_format(store: Engine, kind: str, tmp_path: Path) -> None:
    from analytics.build import build
    from models.db import get_engine

    report = build(get_engine(), kind)
    table = invoke(kind)
    assert report.title in table.stdout and "[1]" in table.stdout  # definitions with numbers
    flat = " ".join(table.stdout.split())
    text = invoke(kind, "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    frame = pd.read_csv(io.StringIO(text))  # one call for a pandas user
    data = json.loads(invoke(kind, "--format", "json").stdout)
    assert data["definitions"] and data["report"] == kind
    out = tmp_path / f"{kind}.html"
    invoke(kind, "--format", "html", "--out", str(out))
    page = out.read_text()
    for t in report.tables:
        assert t.title in flat, t.key
        assert len([r for r in rows if r["table"] == t.key]) == len(t.rows), t.key
        assert (frame.table == t.key).sum() == len(t.rows)
        assert set(t.columns) <= set(frame.columns)
        assert len(data[t.key.replace("-", "_")]) == len(t.rows), t.key
        assert escape(t.title) in page, t.key
    if kind == "cohorts":
        first = data["cohorts"][0]
        assert set(first) >= {"cohort", "size", "retention"} and first["retention"][0] == 1.0
    assert (
        page.count("<svg") >= 1 and "<script" not in page and "http" not in page.split("<body>")[1]
    )


def test_csv_of_the_whole_report_reads_back_as_the_json(store: Engine) -> None:
    frame = pd.read_csv(io.StringIO(invoke("all", "--format", "csv").stdout))
    data = json.loads(invoke("all", "--json").stdout)
    for report in data.values():
        for key, rows in report.items():
            if not isinstance(rows, list) or key in ("warnings", "definitions", "cohorts"):
                continue
            part = frame[frame.table == key.replace("_", "-")]
            assert len(part) == len(rows), key
            for column in {c for r in rows for c in r}:
                values = [r.get(column) for r in rows]
                if all(isinstance(v, float) or v is None for v in values):
                    got = part[column].tolist()
                    for a, b in zip(got, values, strict=True):  # full precision, n/a empty
                        assert (pd.isna(a) and b is None) or a == b, (key, column)


def test_no_report_shows_an_impossible_number(store: Engine) -> None:
    """Over every table of every report: rates in [0, 1], differences in [-1, 1], or n/a."""
    from analytics.build import build_all
    from analytics.report import RELATIVE, guarded

    reports = build_all(store)
    for report in reports:
        assert guarded(report) is report  # nothing for the guard to hide
        for table in report.tables:
            for column in table.percent:
                if column.startswith(RELATIVE):
                    continue
                values = [r.get(column) for r in table.rows]
                assert all(v is None or 0 <= v <= 1 for v in values), (table.key, column)
            for column in table.points:
                values = [r.get(column) for r in table.rows]
                assert all(v is None or -1 <= v <= 1 for v in values), (table.key, column)
            if any(r.get(c) is None for r in table.rows for c in table.percent):
                assert "note" in table.columns or report.warnings, table.key


def test_guard_hides_an_impossible_rate_in_every_format() -> None:
    from analytics.html import to_html
    from analytics.render import to_csv, to_json, to_terminal

    report = _hand_built(rate=-35.895)
    console = Console(width=200, record=True)
    console.print(to_terminal(report))
    shown = console.export_text()
    assert "-3589" not in shown and "n/a" in shown and "outside its possible range" in shown
    [row] = [r for r in csv.DictReader(io.StringIO(to_csv(report))) if r["table"] == "rates"]
    assert row["retention_rate"] == ""
    assert json.loads(to_json(report))["rates"][0]["retention_rate"] is None
    page = to_html([report])
    assert "-3589" not in page and "outside its possible range" in page
    assert report.tables[1].rows[0]["retention_rate"] == -35.895  # the report is not changed


def test_rounding_happens_once_half_up_at_display() -> None:
    """0.0095 is 0.95 pt: "1.0", not the binary float's "0.9"; 0.02345 is 2.345 pt: "2.3",
    not "2.4" from rounding to 0.0235 first. CSV and JSON keep the fractions."""
    from analytics.html import to_html
    from analytics.render import to_csv, to_json, to_terminal

    report = _hand_built(rate=0.5)
    console = Console(width=200, record=True)
    console.print(to_terminal(report))
    shown = console.export_text()
    assert re.search(r"uplift pt\s+ci_high pt", shown)
    assert re.search(r"\+1\.0\s+\+2\.3\b", shown), shown
    page = to_html([report])
    assert "<th>uplift pt</th>" in page and "<td>+1.0</td><td>+2.3</td>" in page
    assert "<th>retention_rate %</th>" in page
    [row] = [r for r in csv.DictReader(io.StringIO(to_csv(report))) if r["table"] == "uplift"]
    assert (float(row["uplift"]), float(row["ci_high"])) == (0.0095, 0.02345)
    data = json.loads(to_json(report))
    assert (data["uplift"][0]["uplift"], data["uplift"][0]["ci_high"]) == (0.0095, 0.02345)


def _hand_built(rate: float) -> Report:
    return Report(
        kind="campaigns",
        title="Hand-built",
        tables=[
            Table(
                "uplift",
                "Uplift",
                ["campaign", "conversion", "uplift", "ci_high"],
                [{"campaign": "c", "conversion": 0.25, "uplift": 0.0095, "ci_high": 0.02345}],
                ("conversion",),
                points=("uplift", "ci_high"),
            ),
            Table(
                "rates",
                "Rates",
                ["period", "retention_rate", "note"],
                [{"period": "2025-01", "retention_rate": rate, "note": ""}],
                ("retention_rate",),
            ),
        ],
        definitions=["defined"],
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
