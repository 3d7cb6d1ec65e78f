"""A report: titled tables with the definitions behind them, the shape every renderer takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Table:
    key: str  # JSON key and artifact name, lowercase-with-dashes words
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    percent: tuple[str, ...] = ()  # fraction columns shown as percentages to people
    terminal: list[str] | None = None  # the columns a terminal has room for (default: all)
    decimals: dict[str, int] = field(default_factory=dict)  # places shown, default 2


@dataclass
class Report:
    kind: str
    title: str
    tables: list[Table]  # the first is the main one (CSV, terminal)
    definitions: list[str]  # footnotes: how every number is defined
    window: str = ""
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # chart data and JSON-only shapes

    @property
    def main(self) -> Table:
        return self.tables[0]
