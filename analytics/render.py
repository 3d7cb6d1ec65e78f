"""Reports as Rich tables for the terminal, CSV and JSON (the HTML page is ``analytics.html``)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table as RichTable
from rich.text import Text

from analytics.html import TEXT_COLUMNS, cell, to_html
from analytics.report import Report, Table

__all__ = ["to_csv", "to_html", "to_json", "to_terminal"]


def rich_table(table: Table) -> RichTable:
    columns = table.terminal or table.columns
    percent = set(table.percent)
    out = RichTable(
        title=table.title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD
    )
    for col in columns:
        out.add_column(
            f"{col} %" if col in percent else col,
            justify="left" if col in TEXT_COLUMNS else "right",
            overflow="fold",
        )
    for row in table.rows:
        out.add_row(
            *(_terminal_cell(row.get(c), c in percent, table.decimals.get(c, 2)) for c in columns)
        )
    if not table.rows:
        out.caption = "no rows"
    return out


def _terminal_cell(value: object, is_percent: bool, decimals: int) -> str:
    if is_percent and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value * 100:.1f}"  # the header says %
    return cell(value, decimals=decimals)


def to_terminal(report: Report) -> Group:
    """Every table of the report, its warnings, and the definitions as footnotes."""
    parts: list[RenderableType] = [Text(report.title, style="bold underline")]
    if report.window:
        parts.append(Text(f"window: {report.window}", style="dim"))
    for table in report.tables:
        parts.append(rich_table(table))
    parts += [Text(f"⚠ {w}", style="yellow") for w in report.warnings]
    parts += [Text(f"[{i}] {d}", style="dim") for i, d in enumerate(report.definitions, 1)]
    return Group(*parts)


def to_csv(report: Report) -> str:
    """The main table, fractions as fractions, one header line."""
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=report.main.columns, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(report.main.rows)
    return buf.getvalue()


def to_json(report: Report) -> str:
    """Every table under its key; cohorts as ``{"cohorts": [{"cohort", "size", "retention"}]}``."""
    data: dict[str, Any] = {"report": report.kind, "title": report.title, "window": report.window}
    if report.kind == "cohorts":
        data["cohorts"] = report.data["cohorts"]
    else:
        for table in report.tables:
            data[table.key.replace("-", "_")] = table.rows
    data["warnings"] = report.warnings
    data["definitions"] = report.definitions
    return json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n"
