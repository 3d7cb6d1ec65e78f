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
(a category or a list), ``in_segment`` (another segment's name), or ``FIELD: VALUE``
(equality) / ``FIELD: {OPERATOR: VALUE}``. A mapping with several keys means all of them.
Dates take ``YYYY-MM-DD``, ``N days ago``, ``N weeks ago`` or ``today``. See docs/segments.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from models.yaml_loader import YamlError, compose, line_of, scalar
from segments.features import FIELDS

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "between", "in", "not_in", "is_null")
COMBINATORS = ("all", "any", "not", "bought_category", "in_segment")
NAME = re.compile(r"^[a-z0-9][a-z0-9_:\-]{0,127}$")
RELATIVE = re.compile(r"^(\d{1,6})\s+(day|days|week|weeks)\s+ago$")
# Dates and numbers a rule may compare with: beyond these a comparison is a typo, and the
# arithmetic on them (a day after 9999-12-31) would fail at refresh time.
EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)
MAX_DAYS_AGO = 366 * 200
MAX_NUMBER = 1e15


class DefinitionError(YamlError):
    """A mistake in a definition, with the file and line and what would be valid."""

    @classmethod
    def of(cls, exc: YamlError) -> DefinitionError:
        """A file the YAML loader refused (syntax, size, depth, aliases), as a definition error."""
        return cls(exc.source, exc.line, exc.message)

    def not_loaded(self, what: str, name: str) -> DefinitionError:
        """This error, saying which definition it keeps from loading (so a command given that
        name can show it)."""
        return DefinitionError(
            self.source, self.line, f"{self.message} ({what} {name!r} is not loaded)"
        )


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Any  # a number, text, date, or a list/pair of them; for relative dates a RelativeDate
    line: int


@dataclass(frozen=True)
class Bought:
    categories: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class InSegment:
    segment: str
    line: int


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


_line = line_of


def _scalar(node: Node, source: str) -> Any:
    if not isinstance(node, ScalarNode):
        raise DefinitionError(
            source, _line(node), "expected a single value here, not a list or mapping"
        )
    try:
        return scalar(node, source)
    except YamlError as exc:
        raise DefinitionError.of(exc) from None


def _key(node: Node, source: str) -> str:
    """A mapping key: a plain word (a list or mapping as a key is a mistake, not a crash)."""
    if not isinstance(node, ScalarNode):
        raise DefinitionError(
            source, _line(node), "keys must be plain words, not lists or mappings"
        )
    return str(node.value)


def parse_definition(text: str, source: str) -> Definition:
    """One definition; the YAML loader's limits (size, depth, aliases) apply first."""
    try:
        root = compose(text, source)
    except YamlError as exc:
        raise DefinitionError.of(exc) from None
    if not isinstance(root, MappingNode):
        line = _line(root) if root else None
        raise DefinitionError(source, line, "expected a mapping with name, description and rule")
    keys = {_key(k, source): v for k, v in root.value}
    unknown = set(keys) - {"name", "description", "rule"}
    if unknown:
        bad = next(k for k, _ in root.value if k.value in unknown)
        raise DefinitionError(
            source, _line(bad), f"unknown key {bad.value!r}; valid keys: name, description, rule"
        )
    for required in ("name", "rule"):
        if required not in keys:
            raise DefinitionError(
                source, _line(root), f"missing {required!r}; a segment needs name and rule"
            )
    name = _scalar(keys["name"], source)
    if not isinstance(name, str) or not NAME.match(name):
        raise DefinitionError(
            source,
            _line(keys["name"]),
            f"name {name!r} must be lowercase letters, digits, _ : or -",
        )
    description = _scalar(keys["description"], source) if "description" in keys else ""
    return Definition(
        name, str(description or ""), _condition(keys["rule"], source), source, _line(root)
    )


def _condition(node: Node, source: str) -> Condition:
    if not isinstance(node, MappingNode) or not node.value:
        raise DefinitionError(
            source,
            _line(node),
            f"expected a condition such as {{orders: {{gte: 2}}}}; conditions are {', '.join(COMBINATORS)} or a field",
        )
    parts = [_one(k, v, source) for k, v in node.value]
    return parts[0] if len(parts) == 1 else All(tuple(parts))


def _one(key: Node, value: Node, source: str) -> Condition:
    word, line = _key(key, source), _line(key)
    if word in ("all", "any"):
        if not isinstance(value, SequenceNode) or not value.value:
            raise DefinitionError(
                source, _line(value), f"{word} takes a non-empty list of conditions"
            )
        items = tuple(_condition(v, source) for v in value.value)
        return All(items) if word == "all" else Any_(items)
    if word == "not":
        return Not(_condition(value, source))
    if word == "bought_category":
        raw = (
            [_scalar(v, source) for v in value.value]
            if isinstance(value, SequenceNode)
            else [_scalar(value, source)]
        )
        if not raw or not all(isinstance(c, str) and c for c in raw):
            raise DefinitionError(
                source, _line(value), "bought_category takes a category name or a list of names"
            )
        return Bought(tuple(raw), line)
    if word == "in_segment":
        segment = _scalar(value, source)
        if not isinstance(segment, str):
            raise DefinitionError(
                source, _line(value), "in_segment takes a segment name, e.g. rfm:champions"
            )
        return InSegment(segment, line)
    if word not in FIELDS:
        raise DefinitionError(
            source,
            line,
            f"unknown field {word!r}; valid fields: {', '.join(FIELDS)}; or one of {', '.join(COMBINATORS)}",
        )
    if isinstance(value, MappingNode):
        if not value.value:
            raise DefinitionError(
                source,
                _line(value),
                f"give {word} an operator, e.g. {{gte: 2}}; operators: {', '.join(OPERATORS)}",
            )
        parts = []
        for op_node, arg in value.value:
            op = _key(op_node, source)
            if op not in OPERATORS:
                raise DefinitionError(
                    source,
                    _line(op_node),
                    f"unknown operator {op!r} for {word}; valid operators: {', '.join(OPERATORS)}",
                )
            parts.append(Compare(word, op, _value(word, op, arg, source), _line(op_node)))
        return parts[0] if len(parts) == 1 else All(tuple(parts))  # {gte: 2, lte: 5}: both
    return Compare(word, "eq", _value(word, "eq", value, source), line)


def _value(field: str, op: str, node: Node, source: str) -> Any:
    kind = FIELDS[field]
    if op == "is_null":
        flag = _scalar(node, source)
        if not isinstance(flag, bool):
            raise DefinitionError(source, _line(node), "is_null takes true or false")
        return flag
    if op in ("between", "in", "not_in"):
        if not isinstance(node, SequenceNode):
            what = "a list of two values [low, high]" if op == "between" else "a list of values"
            raise DefinitionError(source, _line(node), f"{op} on {field} takes {what}")
        values = tuple(_typed(field, kind, v, source) for v in node.value)
        if op == "between" and len(values) != 2:
            raise DefinitionError(
                source, _line(node), f"between on {field} takes exactly two values [low, high]"
            )
        if op != "between" and not values:
            raise DefinitionError(source, _line(node), f"{op} on {field} takes a non-empty list")
        return values
    if kind == "text" and op in ("lt", "lte", "gt", "gte"):
        raise DefinitionError(
            source, _line(node), f"{field} is text; use eq, ne, in, not_in or is_null"
        )
    return _typed(field, kind, node, source)


def _typed(field: str, kind: str, node: Node, source: str) -> Any:
    value = _scalar(node, source)
    line = _line(node)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DefinitionError(
                source, line, f"{field} is a number; {value!r} is not one (e.g. 3 or 49.90)"
            )
        if not -MAX_NUMBER < value < MAX_NUMBER:  # also refuses .nan and .inf
            raise DefinitionError(
                source, line, f"{field} {value!r} is out of range (-10^15 to 10^15)"
            )
        return value
    if kind == "text":
        if not isinstance(value, str):
            raw = node.value if isinstance(node, ScalarNode) else value
            raise DefinitionError(
                source,
                line,
                f"{field} is text; {raw} was read as {type(value).__name__} {value!r}: "
                f'quote it, e.g. "{raw}"',
            )
        return value
    if isinstance(value, date):
        if not EARLIEST <= value <= LATEST:
            raise DefinitionError(
                source, line, f"{field} {value} is out of range; use a date from 1900 to 2100"
            )
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
                raise DefinitionError(
                    source, line, f"{field} {value!r} is too far back; at most 200 years ago"
                )
            return RelativeDate(days)
    raise DefinitionError(
        source,
        line,
        f"{field} is a date; {value!r} is not one (use YYYY-MM-DD, 'N days ago', 'N weeks ago' or 'today')",
    )
