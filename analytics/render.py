"""Reports as Rich tables for the terminal, CSV and JSON (the HTML page is ``analytics.html``).

Every format carries every table. People (terminal, HTML) see numbers rounded once, half-up,
rates in % and differences in pt, "n/a" for what is not available; scripts (CSV, JSON) get
the unrounded fractions, an empty cell or null for n/a, and the reason in ``note``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table as RichTable
from rich.text import Text

from analytics.html import TEXT_COLUMNS, cell, header, to_html
from analytics.report import Report, Table, guarded

__all__ = ["CSV_LAYOUT", "to_csv", "to_html", "to_json", "to_terminal"]

CSV_LAYOUT = (
    "CSV: one file with every table of the report(s) stacked; the first column, table, names "
    "the table (its JSON key with dashes) and the other columns are the union of the tables' "
    "columns, empty where a table has no such column or a value is not available. Fractions "
    "are unrounded (0.0095 is 0.95 % or 0.95 pt). In pandas: "
    'df = pd.read_csv(path); df[df.table == "customer-retention-rate"].dropna(axis=1, how="all").'
)


def rich_table(table: Table) -> RichTable:
    columns = table.terminal or table.columns
    percent, points = set(table.percent), set(table.points)
    out = RichTable(
        title=table.title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD
    )
    for col in columns:
        out.add_column(
            header(table, col),
            justify="left" if col in TEXT_COLUMNS else "right",
            overflow="fold",
        )
    for row in table.rows:
        out.add_row(
            *(
                cell(
                    row.get(c),
                    is_percent=c in percent,
                    is_points=c in points,
                    decimals=table.decimals.get(c, 2),
                    unit=False,
                )
                for c in columns
            )
        )
    if not table.rows:
        out.caption = "no rows"
    return out


def to_terminal(report: Report) -> Group:
    """Every table of the report, its warnings, and the definitions as footnotes."""
    report = guarded(report)
    parts: list[RenderableType] = [Text(report.title, style="bold underline")]
    if report.window:
        parts.append(Text(f"window: {report.window}", style="dim"))
    for table in report.tables:
        parts.append(rich_table(table))
    parts += [Text(f"⚠ {w}", style="yellow") for w in report.warnings]
    parts += [Text(f"[{i}] {d}", style="dim") for i, d in enumerate(report.definitions, 1)]
    return Group(*parts)


def csv_columns(reports: list[Report]) -> list[str]:
    """``table`` and then every column of every table, in order of first appearance."""
    seen: dict[str, None] = {"table": None}
    for report in reports:
        for table in report.tables:
            seen.update(dict.fromkeys(table.columns))
    return list(seen)


def to_csv(reports: Report | list[Report]) -> str:
    """Every table of the reports stacked in one CSV (see :data:`CSV_LAYOUT`)."""
    chosen = [guarded(r) for r in (reports if isinstance(reports, list) else [reports])]
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=csv_columns(chosen), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for report in chosen:
        for table in report.tables:
            for row in table.rows:
                writer.writerow(
                    {"table": table.key, **{c: _csv_value(row.get(c)) for c in table.columns}}
                )
    return buf.getvalue()


def _finite(value: object) -> object:
    """NaN and infinity are not numbers JSON or a spreadsheet can hold: not available."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _csv_value(value: object) -> object:
    value = _finite(value)
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def to_json(report: Report) -> str:
    """Every table under its key (dashes as underscores); cohorts also as
    ``{"cohorts": [{"cohort", "size", "retention", "customers"}]}``."""
    report = guarded(report)
    data: dict[str, Any] = {"report": report.kind, "title": report.title, "window": report.window}
    if report.kind == "cohorts":
        data["cohorts"] = report.data["cohorts"]
    for table in report.tables:
        data[table.key.replace("-", "_")] = [
            {k: _finite(v) for k, v in row.items()} for row in table.rows
        ]
    data["warnings"] = report.warnings
    data["definitions"] = report.definitions
    return json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n"
