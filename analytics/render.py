"""Reports as a Rich table, CSV, JSON, or one self-contained HTML page with charts."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from html import escape
from typing import Any

from rich.table import Table

from analytics import charts
from analytics.report import Report


def to_table(report: Report) -> Table:
    table = Table(
        title=report.title, title_justify="left", caption=report.definition, caption_justify="left"
    )
    for col in report.columns:
        table.add_column(
            col,
            justify="left"
            if col
            in (
                "cohort",
                "campaign",
                "segment",
                "group",
                "survey",
                "period",
                "variant",
                "warning",
                "month",
            )
            else "right",
        )
    for row in report.rows:
        table.add_row(*(_cell(row.get(c)) for c in report.columns))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def to_csv(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=report.columns, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(report.rows)
    return buf.getvalue()


def to_json(report: Report) -> str:
    if report.kind == "cohorts":
        data: dict[str, Any] = {"cohorts": report.extra["cohorts"]}
    else:
        data = {report.kind: report.rows, **{k: v for k, v in report.extra.items()}}
    data["definition"] = report.definition
    return json.dumps(data, indent=2, default=str, ensure_ascii=False)


STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#111;padding:0 1rem}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;font-size:12px;margin:.6rem 0}td,th{padding:3px 7px;border-bottom:1px solid #eee;text-align:right}
th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:12px;max-width:900px}
.chart{max-width:100%;height:auto}.chart .axis{font-size:11px;fill:#444}.chart .cell{font-size:10px}
.chart .legend{font-size:12px}.chart .grid{stroke:#eee}.chart .zero{stroke:#111;stroke-dasharray:3 3}
.warn{color:#b45309}
"""


def _html_table(report: Report, limit: int = 60) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in report.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(r.get(c)))}</td>" for c in report.columns) + "</tr>"
        for r in report.rows[:limit]
    )
    more = (
        f"<p class='note'>{len(report.rows) - limit} more rows in the CSV or JSON output.</p>"
        if len(report.rows) > limit
        else ""
    )
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def chart_for(report: Report) -> str:
    if report.kind == "cohorts":
        return charts.heatmap(report.extra["cohorts"])
    if report.kind == "segments":
        series: dict[str, list[tuple[str, float]]] = {}
        latest = max((r["as_of"] for r in report.rows), default=None)
        for r in report.rows:
            if r["as_of"] == latest and (
                r["segment"].startswith("rfm:") or r["segment"].startswith("lifecycle:")
            ):
                series[r["segment"]] = [
                    ("30 days", r["ordered_30d"]),
                    ("60 days", r["ordered_60d"]),
                    ("90 days", r["ordered_90d"]),
                ]
        return charts.lines(
            dict(list(series.items())[:8]), label="share of members ordering within 30, 60, 90 days"
        )
    if report.kind == "campaigns":
        return charts.uplift_bars(
            [r for r in report.rows if r["variant"] == "all" and r["holdout"]]
        )
    if report.kind == "csat":
        monthly = [
            (r["month"], r["csat"])
            for r in report.extra.get("monthly", [])
            if r.get("csat") is not None
        ]
        return charts.lines({"CSAT": monthly}, label="CSAT over time")
    if report.kind == "repeat":
        crr = [(r["month"], r["retention_rate"]) for r in report.extra.get("retention_rate", [])]
        return charts.lines(
            {"customer retention rate": crr}, label="customer retention rate by month"
        )
    return ""


def to_html(reports: list[Report], *, title: str = "homecoming retention report") -> str:
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title><style>{STYLE}</style></head><body>"
    ]
    parts.append(
        f"<h1>{escape(title)}</h1><p class='note'>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>"
    )
    for n, report in enumerate(reports, start=1):
        parts.append(f"<section id='{escape(report.kind)}'><h2>{escape(report.title)}</h2>")
        parts.append(chart_for(report))
        warnings = {r.get("warning") for r in report.rows if r.get("warning")}
        parts += [f"<p class='warn'>⚠ {escape(w)}</p>" for w in sorted(warnings)]
        parts.append(_html_table(report))
        parts.append(f"<p class='note'><sup>{n}</sup> {escape(report.definition)}</p>")
        parts += [f"<p class='note'>{escape(note)}</p>" for note in report.notes]
        parts.append("</section>")
    parts.append("</body></html>")
    return "".join(parts)
