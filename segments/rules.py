"""The rule language: YAML conditions parsed into a small tree, with the line of every node.

    rule:
      all:
        - orders: {gte: 3}
        - last_order_at: {between: ["180 days ago", "60 days ago"]}
        - bought_category: skincare
        - revenue: {gt: 500}
        - open_tickets: 0
        - locale: {in: [tr, de]}
        - not: {in_segment: "rfm:hibernating"}

A condition is ``all`` / ``any`` (a list), ``not`` (one condition), ``bought_category``
(a category, a list, or ``{name, at_least, within_days}`` to count orders), ``in_segment``
(another segment's name), or ``FIELD: VALUE`` (equality) / ``FIELD: {OPERATOR: VALUE}``
(``min`` and ``max`` read as ``gte`` and ``lte``).
A mapping with several keys means all of them. Dates take ``YYYY-MM-DD``, ``N days ago``,
``N weeks ago`` or ``today``. Every mistake of a file is reported, not only the first.
See docs/segments.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from difflib import get_close_matches
from typing import Any, NamedTuple, TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from models.yaml_loader import YamlError, compose, line_of, scalar
from segments.conditions import (
    All,
    Any_,
    Bought,
    Compare,
    Condition,
    Definition,
    InSegment,
    Not,
    RelativeDate,
)
from segments.errors import DefinitionError
from segments.features import RULE_FIELDS

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "between", "in", "not_in", "is_null")
ALIASES = {"min": "gte", "max": "lte"}  # thresholds read as the marketer says them
COMBINATORS = ("all", "any", "not", "bought_category", "in_segment")
NAME = re.compile(r"^[a-z0-9][a-z0-9_:\-]{0,127}$")
RELATIVE = re.compile(r"^(\d{1,6})\s+(day|days|week|weeks)\s+ago$")
# Dates and numbers a rule may compare with: beyond these a comparison is a typo, and the
# arithmetic on them (a day after 9999-12-31) would fail at refresh time.
EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)
MAX_DAYS_AGO = 366 * 200
MAX_NUMBER = 1e15
MAX_ERRORS = 100  # per file: past this, the rest is noise
BOUGHT_KEYS = ("name", "at_least", "within_days")
T = TypeVar("T")
L = TypeVar("L", Compare, Bought, InSegment)


_line = line_of


class _TooMany(Exception):
    """Stops parsing a file once it has given ``MAX_ERRORS`` mistakes."""


def suggest(word: str, valid: list[str]) -> str:
    """``; did you mean 'x'?`` for the closest valid word (any case), or nothing."""
    by_lower = {v.lower(): v for v in valid}
    close = get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[close[0]]!r}?" if close else ""


def parse_definition(text: str, source: str) -> Definition:
    """One definition; raises its first mistake (see :func:`parse_checked` for all of them)."""
    definition, errors, _ = parse_checked(text, source)
    if errors:
        raise errors[0]
    assert definition is not None
    return definition


class Parsed(NamedTuple):
    definition: Definition | None  # None when there is any mistake
    errors: list[DefinitionError]  # in line order
    leaves: list[Compare | Bought | InSegment]  # the conditions that did parse


def parse_checked(text: str, source: str) -> Parsed:
    """One definition and every mistake in it (then no definition), in line order, with
    the conditions that parsed (so the names in a broken file can be checked too).

    The YAML loader's limits (size, depth, aliases) apply first; a file it refuses gives
    that one error.
    """
    try:
        root = compose(text, source)
    except YamlError as exc:
        return Parsed(None, [DefinitionError.of(exc)], [])
    parser = _Parser(source)
    try:
        definition = parser.definition(root)
    except _TooMany:
        definition = None
        stop = max(e.line or 0 for e in parser.errors)
        message = f"more than {MAX_ERRORS} mistakes; stopped here, fix these first"
        parser.errors.append(DefinitionError(source, stop, message))
    errors = sorted(parser.errors, key=lambda e: e.line or 0)
    return Parsed(None if errors else definition, errors, parser.leaves)


class _Parser:
    """Reads one file's node tree, noting every mistake and carrying on past it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[DefinitionError] = []
        self.leaves: list[Compare | Bought | InSegment] = []  # checked for names, even if broken

    def leaf(self, c: L) -> L:
        self.leaves.append(c)
        return c

    def error(self, line: int | None, message: str) -> DefinitionError:
        return DefinitionError(self.source, line, message)

    def attempt(self, step: Callable[..., T], *args: Any) -> T | None:
        """``step(*args)``, or None with its mistake noted."""
        try:
            return step(*args)
        except DefinitionError as exc:
            if len(self.errors) >= MAX_ERRORS:
                raise _TooMany from None
            self.errors.append(exc)
            return None

    def scalar(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            raise self.error(_line(node), "expected a single value here, not a list or mapping")
        try:
            return scalar(node, self.source)
        except YamlError as exc:
            raise DefinitionError.of(exc) from None

    def key(self, node: Node) -> str:
        """A mapping key: a plain word (a list or mapping as a key is a mistake, not a crash)."""
        if not isinstance(node, ScalarNode):
            raise self.error(_line(node), "keys must be plain words, not lists or mappings")
        return str(node.value)

    def definition(self, root: Node | None) -> Definition | None:
        if not isinstance(root, MappingNode):
            line = _line(root) if root else None
            self.attempt(self._raise, line, "expected a mapping with name, description and rule")
            return None
        keys: dict[str, Node] = {}
        meant: set[str] = set()  # keys an unknown key was probably meant to be
        for k, v in root.value:
            word = self.attempt(self.key, k)
            if word in ("name", "description", "rule"):
                keys[word] = v
            elif word is not None:
                hint = suggest(word, ["name", "description", "rule"])
                meant.add(hint.split("'")[1] if hint else "")
                message = f"unknown key {word!r}; valid keys: name, description, rule{hint}"
                self.attempt(self._raise, _line(k), message)
        for required in ("name", "rule"):
            if required not in keys and required not in meant:  # a misspelt key says it
                message = f"missing {required!r}; a segment needs name and rule"
                self.attempt(self._raise, _line(root), message)
        name = self.attempt(self.name, keys["name"]) if "name" in keys else None
        description = (
            self.attempt(self.scalar, keys["description"]) if "description" in keys else ""
        )
        rule = self.condition(keys["rule"]) if "rule" in keys else None
        if name is None or rule is None or self.errors:
            return None
        return Definition(name, str(description or ""), rule, self.source, _line(root))

    def _raise(self, line: int | None, message: str) -> None:
        raise self.error(line, message)

    def name(self, node: Node) -> str:
        name = self.scalar(node)
        if not isinstance(name, str) or not NAME.match(name):
            raise self.error(
                _line(node), f"name {name!r} must be lowercase letters, digits, _ : or -"
            )
        return name

    def condition(self, node: Node) -> Condition | None:
        if not isinstance(node, MappingNode) or not node.value:
            message = (
                "expected a condition such as {orders: {gte: 2}}; conditions are "
                f"{', '.join(COMBINATORS)} or a field"
            )
            return self.attempt(self._raise, _line(node), message)
        parts = [self.one(k, v) for k, v in node.value]
        conditions = [p for p in parts if p is not None]
        if len(conditions) < len(parts):
            return None
        return conditions[0] if len(conditions) == 1 else All(tuple(conditions))

    def one(self, key: Node, value: Node) -> Condition | None:
        word, line = self.attempt(self.key, key), _line(key)
        if word is None:
            return None
        if word in ("all", "any"):
            if not isinstance(value, SequenceNode) or not value.value:
                message = f"{word} takes a non-empty list of conditions"
                return self.attempt(self._raise, _line(value), message)
            parts = [self.condition(v) for v in value.value]
            items = tuple(p for p in parts if p is not None)
            if len(items) < len(parts):
                return None
            return All(items) if word == "all" else Any_(items)
        if word == "not":
            inner = self.condition(value)
            return Not(inner) if inner is not None else None
        if word == "bought_category":
            return self.bought(value, line)
        if word == "in_segment":
            return self.attempt(self.in_segment, value, line)
        if word not in RULE_FIELDS:
            message = (
                f"unknown field {word!r}; valid fields: {', '.join(RULE_FIELDS)}; "
                f"or one of {', '.join(COMBINATORS)}{suggest(word, [*RULE_FIELDS, *COMBINATORS])}"
            )
            return self.attempt(self._raise, line, message)
        if not isinstance(value, MappingNode):
            found = self.attempt(self.value, word, "eq", value)
            return (
                None if found is None else self.leaf(Compare(word, "eq", found[0], line, found[1]))
            )
        if not value.value:
            message = f"give {word} an operator, e.g. {{gte: 2}}; operators: {', '.join(OPERATORS)}"
            return self.attempt(self._raise, _line(value), message)
        parts = [self.compare(word, op, arg) for op, arg in value.value]
        compares = tuple(p for p in parts if p is not None)
        if len(compares) < len(parts):
            return None
        return compares[0] if len(compares) == 1 else All(compares)  # {gte: 2, lte: 5}: both

    def compare(self, field: str, op_node: Node, arg: Node) -> Compare | None:
        op = self.attempt(self.operator, field, op_node)
        found = None if op is None else self.attempt(self.value, field, op, arg)
        if op is None or found is None:
            return None
        return self.leaf(Compare(field, op, found[0], _line(op_node), found[1]))

    def operator(self, field: str, node: Node) -> str:
        op = self.key(node)
        op = ALIASES.get(op, op)
        if op not in OPERATORS:
            raise self.error(
                _line(node),
                f"unknown operator {op!r} for {field}; valid operators: {', '.join(OPERATORS)}, min, max"
                + suggest(op, [*OPERATORS, *ALIASES]),
            )
        return op

    def in_segment(self, value: Node, line: int) -> InSegment:
        segment = self.scalar(value)
        if not isinstance(segment, str):
            raise self.error(_line(value), "in_segment takes a segment name, e.g. rfm:champions")
        return self.leaf(InSegment(segment, line, _line(value)))

    def bought(self, value: Node, line: int) -> Bought | None:
        if not isinstance(value, MappingNode):
            names = self.attempt(self.names, value)
            return None if names is None else self.leaf(Bought(names[0], line, lines=names[1]))
        keys: dict[str, Node] = {}
        for k, v in value.value:
            word = self.attempt(self.key, k)
            if word in BOUGHT_KEYS:
                keys[word] = v
            elif word is not None:
                message = (
                    f"unknown key {word!r} in bought_category; valid keys: "
                    f"{', '.join(BOUGHT_KEYS)}{suggest(word, list(BOUGHT_KEYS))}"
                )
                self.attempt(self._raise, _line(k), message)
        if "name" not in keys:
            message = "bought_category needs a name, e.g. {name: coffee, at_least: 2}"
            return self.attempt(self._raise, _line(value), message)
        before = len(self.errors)
        names = self.attempt(self.names, keys["name"])
        at_least = (
            self.attempt(self.count, keys["at_least"], "at_least", 10**6)
            if "at_least" in keys
            else 1
        )
        within = (
            self.attempt(self.count, keys["within_days"], "within_days", MAX_DAYS_AGO)
            if "within_days" in keys
            else None
        )
        if names is None or at_least is None or len(self.errors) > before:
            return None
        return self.leaf(Bought(names[0], line, at_least, within, names[1]))

    def names(self, node: Node) -> tuple[tuple[str, ...], tuple[int, ...]]:
        items = node.value if isinstance(node, SequenceNode) else [node]
        raw = [self.scalar(v) for v in items]
        if not raw or not all(isinstance(c, str) and c for c in raw):
            raise self.error(
                _line(node), "bought_category takes a category name or a list of names"
            )
        return tuple(raw), tuple(_line(v) for v in items)

    def count(self, node: Node, key: str, most: int) -> int:
        n = self.scalar(node)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= most:
            raise self.error(_line(node), f"{key} takes a whole number from 1 to {most}, not {n!r}")
        return n

    def value(self, field: str, op: str, node: Node) -> tuple[Any, tuple[int, ...]] | None:
        """The value of one comparison and the line of each value; None when a value in a
        list was wrong (each such mistake noted)."""
        kind = RULE_FIELDS[field]
        if op == "is_null":
            flag = self.scalar(node)
            if not isinstance(flag, bool):
                raise self.error(_line(node), "is_null takes true or false")
            return flag, (_line(node),)
        if op in ("between", "in", "not_in"):
            if not isinstance(node, SequenceNode):
                what = "a list of two values [low, high]" if op == "between" else "a list of values"
                raise self.error(_line(node), f"{op} on {field} takes {what}")
            parts = [self.attempt(_typed, field, kind, v, self) for v in node.value]
            if any(p is None for p in parts):
                return None
            if op == "between" and len(parts) != 2:
                raise self.error(
                    _line(node), f"between on {field} takes exactly two values [low, high]"
                )
            if op != "between" and not parts:
                raise self.error(_line(node), f"{op} on {field} takes a non-empty list")
            return tuple(parts), tuple(_line(v) for v in node.value)
        if kind == "text" and op in ("lt", "lte", "gt", "gte"):
            raise self.error(_line(node), f"{field} is text; use eq, ne, in, not_in or is_null")
        return _typed(field, kind, node, self), (_line(node),)


def _typed(field: str, kind: str, node: Node, parser: _Parser) -> Any:
    value = parser.scalar(node)
    line = _line(node)
    fail = parser.error
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(line, f"{field} is a number; {value!r} is not one (e.g. 3 or 49.90)")
        if not -MAX_NUMBER < value < MAX_NUMBER:  # also refuses .nan and .inf
            raise fail(line, f"{field} {value!r} is out of range (-10^15 to 10^15)")
        return value
    if kind == "text":
        if not isinstance(value, str):
            raw = node.value if isinstance(node, ScalarNode) else value
            raise fail(
                line,
                f"{field} is text; {raw} was read as {type(value).__name__} {value!r}: "
                f'quote it, e.g. "{raw}"',
            )
        return value
    if isinstance(value, date):
        if not EARLIEST <= value <= LATEST:
            raise fail(line, f"{field} {value} is out of range; use a date from 1900 to 2100")
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "today":
            return RelativeDate(0)
        match = RELATIVE.match(text)
        if match:
            n = int(match.group(1))
            days = n * 7 if match.group(2).startswith("week") else n
            if days > MAX_DAYS_AGO:
                raise fail(line, f"{field} {value!r} is too far back; at most 200 years ago")
            return RelativeDate(days)
    raise fail(
        line,
        f"{field} is a date; {value!r} is not one "
        "(use YYYY-MM-DD, 'N days ago', 'N weeks ago' or 'today')",
    )


__all__ = [
    "All",
    "Any_",
    "Bought",
    "Compare",
    "Condition",
    "Definition",
    "DefinitionError",
    "InSegment",
    "Not",
    "Parsed",
    "RelativeDate",
    "parse_checked",
    "parse_definition",
    "suggest",
]
