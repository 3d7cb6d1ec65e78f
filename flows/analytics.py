"""The ``retention-report`` flow: every report as Prefect artifacts, and one HTML file."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE

from analytics.build import build_all
from analytics.html import cell
from analytics.render import to_html
from analytics.report import Report, guarded
from flows.naming import timed
from models.db import get_engine
from models.settings import get_settings

ARTIFACT_ROWS = 500  # the UI shows tables, not data dumps: the rest is in the HTML and CLI


@task(cache_policy=NONE, persist_result=False)
def compute_reports(
    start: date | None, end: date | None, window: int | None, zone: str | None
) -> list[Report]:
    """Every report; the database does the aggregation, so this is one task."""
    return build_all(get_engine(), start=start, end=end, window=window, zone=zone)


@task(cache_policy=NONE, persist_result=False)
def publish_artifacts(reports: list[Report], html_path: str) -> list[str]:
    """A table artifact per table (ids and aggregates only) and one markdown summary."""
    keys = []
    for report in reports:
        for table in report.tables:
            create_table_artifact(
                key=table.key,
                table=[
                    {c: _plain(row.get(c)) for c in table.columns}
                    for row in table.rows[:ARTIFACT_ROWS]
                ],
                description=f"{table.title}. {report.definitions[0]}",
            )
            keys.append(table.key)
    create_markdown_artifact(key="retention-report", markdown=summary(reports, html_path))
    return [*keys, "retention-report"]


def _plain(value: object) -> object:
    """JSON-ready: numbers and text as they are, anything else (a date) as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def summary(reports: list[Report], html_path: str) -> str:
    """The headline numbers in markdown: what an operator checks in the Prefect UI."""
    lines = ["# Retention report", "", f"HTML report: `{html_path}`", ""]
    for report in map(guarded, reports):
        lines += [f"## {report.title}", "", f"*{report.window}*", ""]
        main = report.main
        shown = (main.terminal or main.columns)[:9]
        if main.rows:
            lines.append("| " + " | ".join(shown) + " |")
            lines.append("|" + "---|" * len(shown))
            for row in main.rows[:15]:
                values = (
                    cell(
                        row.get(c),
                        is_percent=c in main.percent,
                        is_points=c in main.points,
                        decimals=main.decimals.get(c, 2),
                    )
                    for c in shown
                )
                lines.append("| " + " | ".join(v.replace("|", "/") for v in values) + " |")
            if len(main.rows) > 15:
                lines.append(f"\n{len(main.rows) - 15} more rows in the `{main.key}` artifact.")
        else:
            lines.append("No rows yet.")
        lines += ["", *[f"- ⚠ {w}" for w in report.warnings[:10]], ""]
        lines += [f"{i}. {d}" for i, d in enumerate(report.definitions, 1)] + [""]
    return "\n".join(lines)


@flow(name="retention-report", flow_run_name=timed("retention-report"))
def retention_report_flow(
    out: str | None = None,
    start: date | None = None,
    end: date | None = None,
    window: int | None = None,
    zone: str | None = None,
) -> str:
    """Compute every report, publish the tables as artifacts, write the HTML; return its path."""
    reports = compute_reports(start, end, window, zone)
    reports_dir = get_settings().reports_dir
    path = reports_dir / (out or "retention-report.html")  # an absolute ``out`` stays as it is
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_html(reports), encoding="utf-8")
    publish_artifacts(reports, str(path))
    get_run_logger().info("retention report written to %s", path)
    return str(path)
