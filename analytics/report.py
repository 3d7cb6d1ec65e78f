"""A report: a titled table with its definition, the common shape every renderer takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Report:
    kind: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    definition: str
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # chart data and JSON-only shapes
