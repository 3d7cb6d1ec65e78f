"""The tree a rule is parsed into (``segments.rules``), with the line of every node.

Kept apart from the parser so the compiler and the checks read only this small shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Any  # a number, text, date, or a list/pair of them; for relative dates a RelativeDate
    line: int
    lines: tuple[int, ...] = ()  # the line of each value


@dataclass(frozen=True)
class Bought:
    """Bought in one of ``categories``: ever (plain), or in at least ``at_least`` orders in
    the ``within_days`` days up to the as-of date (counted from order lines)."""

    categories: tuple[str, ...]
    line: int
    at_least: int = 1
    within_days: int | None = None
    lines: tuple[int, ...] = ()

    @property
    def counted(self) -> bool:
        return self.at_least > 1 or self.within_days is not None


@dataclass(frozen=True)
class InSegment:
    segment: str
    line: int
    value_line: int = 0


@dataclass(frozen=True)
class All:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Any_:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Compare | Bought | InSegment | All | Any_ | Not


@dataclass(frozen=True)
class RelativeDate:
    """``N days ago``, resolved against the refresh date when the rule runs."""

    days: int

    def on(self, as_of: date) -> date:
        return as_of - timedelta(days=self.days)


@dataclass(frozen=True)
class Definition:
    name: str
    description: str
    rule: Condition
    source: str
    line: int

    def references(self) -> list[InSegment]:
        found: list[InSegment] = []

        def walk(c: Condition) -> None:
            if isinstance(c, InSegment):
                found.append(c)
            elif isinstance(c, All | Any_):
                for item in c.items:
                    walk(item)
            elif isinstance(c, Not):
                walk(c.item)

        walk(self.rule)
        return found

    def conditions(self) -> list[Compare | Bought | InSegment]:
        """Every leaf condition, in file order (for checking values against the store)."""
        found: list[Compare | Bought | InSegment] = []

        def walk(c: Condition) -> None:
            if isinstance(c, All | Any_):
                for item in c.items:
                    walk(item)
            elif isinstance(c, Not):
                walk(c.item)
            else:
                found.append(c)

        walk(self.rule)
        return found
