"""The ``retention-report`` flow: every report as Prefect artifacts and one HTML file."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from analytics.build import build_all
from analytics.render import to_html
from analytics.report import Report
from models.db import get_engine

KEYS = {
    "repeat": "repeat-purchase",
    "cohorts": "cohort-retention",
    "segments": "segment-retention",
    "campaigns": "campaign-uplift",
    "csat": "csat",
}


@task
def compute() -> list[Report]:
    return build_all(get_engine())


def publish(reports: list[Report], html_path: Path) -> None:
    for r in reports:
        create_table_artifact(
            key=KEYS[r.kind],
            table=[{c: row.get(c) for c in r.columns} for row in r.rows[:500]],
            description=r.definition,
        )
    lines = [f"# Retention report\n\nHTML report: `{html_path}`\n"]
    for r in reports:
        lines.append(f"## {r.title}\n\n{len(r.rows)} rows. {r.definition}\n")
    create_markdown_artifact(key="retention-report", markdown="\n".join(lines))


@flow(name="retention-report")
def retention_report_flow(out: str | None = None) -> str:
    reports = compute()
    path = Path(out or ".homecoming/reports/retention.html").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_html(reports), encoding="utf-8")
    publish(reports, path)
    return str(path)
