"""The names a rule compares with, checked against what the store has.

A category, locale, country or segment that matches nothing is almost always a typo, and
a typo silently gives an empty segment; so each is an error naming the nearest valid value.
Names compare without regard to case (as the compiled SQL does), so ``Coffee`` is known
when the store has ``coffee``. Without a database only what is known statically is
checked (segment names, RFM segment names, the form of a locale), and the vocabulary's
``note`` says what was not.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from models.base import table
from models.store import Customer, Product
from segments.conditions import Bought, Compare, Definition, InSegment
from segments.errors import DefinitionError
from segments.rfm import SEGMENTS as RFM_SEGMENTS
from segments.rules import suggest

CLUSTER = re.compile(r"^cluster:\d+$")
LOCALE_FORM = re.compile(r"^[a-z]{2,3}([-_][a-z0-9]{2,8})*$", re.IGNORECASE)
_UNCHECKED = "categories and countries were not checked, locales only for their form"
SHOWN = 12  # valid values listed in a message; the suggestion covers the rest
# Rule fields holding names of a kind the store knows, and what each kind is called.
NAME_FIELDS = {"top_category": "category", "locale": "locale", "country": "country"}
PLURAL = {
    "category": "categories",
    "locale": "locales",
    "country": "countries",
    "rfm segment": "RFM segments",
}


@dataclass(frozen=True)
class Vocabulary:
    """Known values of each kind; None where they are not known (then not checked)."""

    categories: tuple[str, ...] | None = None
    locales: tuple[str, ...] | None = None
    countries: tuple[str, ...] | None = None
    from_database: bool = False
    note: str = ""  # what could not be checked, and why

    def known(self, kind: str) -> tuple[str, ...] | None:
        return {"category": self.categories, "locale": self.locales, "country": self.countries}[
            kind
        ]


def static_vocabulary(note: str = "") -> Vocabulary:
    """Nothing from a store: categories and countries unchecked, locales by their form."""
    return Vocabulary(note=note or f"no database: {_UNCHECKED}")


def database_vocabulary(engine: Engine) -> Vocabulary:
    """Categories from the products, locales and countries from the customers.

    A database that cannot be read (missing, not migrated, unreachable) gives the static
    vocabulary, with a note saying so; a missing SQLite file is not created.
    """
    url = engine.url
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if on_disk and not Path(url.database or "").exists():
        return static_vocabulary(f"no database at {url.database}: " + _UNCHECKED)
    p, c = table(Product).c, table(Customer).c
    try:
        with engine.connect() as conn:
            found = [
                tuple(conn.execute(select(col).where(col.is_not(None)).distinct()).scalars())
                for col in (p.category, c.locale, c.country)
            ]
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return static_vocabulary(f"database not readable ({detail}): " + _UNCHECKED)
    empty = [
        kind
        for kind, values in zip(("products", "customers"), found[:2], strict=True)
        if not values
    ]
    note = f"the database has no {' or '.join(empty)} yet: their names were not checked"
    categories, locales, countries = (tuple(sorted(v)) or None for v in found)
    if not locales:
        countries = None  # no customers: nothing to say about countries either
    return Vocabulary(categories, locales, countries, True, note if empty else "")


def check_values(
    definition: Definition, vocabulary: Vocabulary, segments: Collection[str]
) -> list[DefinitionError]:
    """Every unknown name in ``definition``: categories, locales, countries, RFM segment
    names and ``in_segment`` names (``segments``: the known ones; ``cluster:N`` always is)."""
    errors = []
    for kind, value, line in _names(definition):
        message = _unknown(kind, value, vocabulary, segments)
        if message:
            errors.append(DefinitionError(definition.source, line, message))
    return errors


def _names(definition: Definition) -> Iterator[tuple[str, str, int]]:
    """(kind, value, line) of every name the definition compares with."""
    for c in definition.conditions():
        if isinstance(c, Bought):
            lines = c.lines or (c.line,) * len(c.categories)
            yield from (("category", n, line) for n, line in zip(c.categories, lines, strict=True))
        elif isinstance(c, InSegment):
            yield "segment", c.segment, c.value_line or c.line
        elif isinstance(c, Compare) and c.op in ("eq", "ne", "in", "not_in"):
            kind = NAME_FIELDS.get(c.field) or ("rfm segment" if c.field == "rfm_segment" else "")
            if kind:
                values = c.value if isinstance(c.value, tuple) else (c.value,)
                lines = c.lines or (c.line,) * len(values)
                yield from ((kind, v, line) for v, line in zip(values, lines, strict=True))


def _unknown(kind: str, value: str, vocabulary: Vocabulary, segments: Collection[str]) -> str:
    """The message for an unknown ``value`` of ``kind``, or "" when it is known."""
    if kind == "segment":
        if value in segments or CLUSTER.match(value):
            return ""
        valid = sorted(segments)
        return (
            f"unknown segment {value!r}; known: {_listed(valid)}, cluster:N{suggest(value, valid)}"
        )
    if kind == "rfm segment":
        valid, where = list(RFM_SEGMENTS), ""
    else:
        known = vocabulary.known(kind)
        if known is None:
            if kind == "locale" and not LOCALE_FORM.match(value):
                return f"locale {value!r} is not a locale code such as tr or pt-BR"
            return ""
        valid, where = list(known), "in the database"
    if value.lower() in {v.lower() for v in valid}:
        return ""
    return f"unknown {kind} {value!r}; {' '.join(filter(None, (PLURAL[kind], where)))}: {_listed(valid)}{suggest(value, valid)}"


def _listed(values: list[str]) -> str:
    more = len(values) - SHOWN
    return ", ".join(values[:SHOWN]) + (f", … ({more} more)" if more > 0 else "")
