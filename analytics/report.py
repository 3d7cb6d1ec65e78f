"""A report: titled tables with the definitions behind them, the shape every renderer takes.

Also the rules every report shares, kept here so they are defined once: the minimum base
of a rate (:data:`MIN_BASE`), the possible range of each kind of column (:func:`guarded`)
and rounding for people (:func:`decimal_text`). Rows carry unrounded numbers; only the
renderers for people round, once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

MIN_BASE = 30
"""The fewest customers (or answers) a rate is computed over. With fewer, the 95 % interval
of a share around 50 % is wider than ±18 points (1.96 · √(0.25 / 30) = 0.18), too wide to
act on, so the rate is not available (n/a) and the row's ``note`` says why."""
RELATIVE = "relative_"  # percent columns named so are ratios minus 1: from −100 %, unbounded
NOT_AVAILABLE = "n/a"  # how people see None; CSV leaves the cell empty, JSON writes null


@dataclass
class Table:
    key: str  # JSON key and artifact name, lowercase-with-dashes words
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    percent: tuple[str, ...] = ()  # rates (fractions in [0, 1]) shown as "%" to people
    terminal: list[str] | None = None  # the columns a terminal has room for (default: all)
    decimals: dict[str, int] = field(default_factory=dict)  # places shown, default 2
    points: tuple[str, ...] = ()  # differences of rates (in [-1, 1]) shown as "pt"


@dataclass
class Report:
    kind: str
    title: str
    tables: list[Table]  # the first is the main one
    definitions: list[str]  # footnotes: how every number is defined
    window: str = ""
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # chart data and JSON-only shapes

    @property
    def main(self) -> Table:
        return self.tables[0]


def share(part: float, base: float, *, observed: bool = True) -> float | None:
    """``part / base``, or None when the base is below :data:`MIN_BASE` or the window has
    not been fully observed (missing days would read as customers who did not act)."""
    if not observed or base < MIN_BASE:
        return None
    return part / base


def small_base(base: float, of: str = "customers", hidden: str = "rates") -> str:
    """The reason what is computed over ``base`` is not shown (empty when it is)."""
    if base >= MIN_BASE:
        return ""
    return f"{base:,.0f} {of}, below the minimum base of {MIN_BASE}: {hidden} not shown"


def join_notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def bounds(table: Table, column: str) -> tuple[float, float] | None:
    """The possible range of a column's values, None for columns without one."""
    if column in table.points:
        return (-1.0, 1.0)
    if column in table.percent:
        return (-1.0, math.inf) if column.startswith(RELATIVE) else (0.0, 1.0)
    return None


def impossible(value: object, limits: tuple[float, float] | None) -> bool:
    """A number a column cannot hold: outside its range, or not a number (NaN)."""
    if limits is None or not isinstance(value, int | float) or isinstance(value, bool):
        return False
    low, high = limits
    return math.isnan(value) or not (low - 1e-9 <= value <= high + 1e-9)


def guarded(report: Report) -> Report:
    """The report with every impossible value (a rate outside [0, 1], a difference outside
    [-1, 1], NaN) replaced by None and named in a warning. Such a value is a bug upstream;
    an analyst must never be shown it as a number. The report itself is left unchanged."""
    found: list[str] = []
    tables = []
    for table in report.tables:
        limits = {c: bounds(table, c) for c in table.columns}
        rows = []
        for row in table.rows:
            bad = [c for c, lim in limits.items() if impossible(row.get(c), lim)]
            if bad:
                found += [
                    f"{table.key}: {c} = {row[c]!r} is outside its possible range" for c in bad
                ]
                row = {**row, **dict.fromkeys(bad)}
            rows.append(row)
        tables.append(replace(table, rows=rows))
    if not found:
        return report
    warnings = [f"{f}; shown as {NOT_AVAILABLE} (please report this bug)" for f in found]
    return replace(report, tables=tables, warnings=[*report.warnings, *warnings])


def decimal_text(value: float, places: int, *, scale: int = 0, sign: bool = False) -> str:
    """``value`` times 10**scale rounded half-up to ``places`` on its shortest decimal
    representation, so 0.0095 as points is "1.0" and 0.02345 is "2.3": binary floats
    (0.0095 * 100 = 0.9499…) and rounding twice (to 0.0235, then to 2.4) would not."""
    exact = Decimal(repr(float(value))).scaleb(scale)
    rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded.is_zero():
        rounded = abs(rounded)  # no "-0.0"
    text = f"{rounded:,f}"
    return f"+{text}" if sign and rounded > 0 else text
