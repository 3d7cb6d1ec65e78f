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

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from segments.features import FIELDS

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "between", "in", "not_in", "is_null")
COMBINATORS = ("all", "any", "not", "bought_category", "in_segment")
NAME = re.compile(r"^[a-z0-9][a-z0-9_:\-]{0,127}$")
RELATIVE = re.compile(r"^(\d+)\s+(day|days|week|weeks)\s+ago$")


class DefinitionError(ValueError):
    """A mistake in a definition, with the file and line and what would be valid."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source, self.line, self.message = source, line, message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


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


_CONSTRUCTOR = yaml.SafeLoader("")  # only its scalar constructors are used


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _scalar(node: Node, source: str) -> Any:
    if not isinstance(node, ScalarNode):
        raise DefinitionError(
            source, _line(node), "expected a single value here, not a list or mapping"
        )
    return (
        _CONSTRUCTOR.construct_object(node) if node.tag != "tag:yaml.org,2002:str" else node.value
    )


def parse_definition(text: str, source: str) -> Definition:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError(
            source, mark.line + 1 if mark else None, f"not valid YAML: {problem}"
        ) from None
    if not isinstance(root, MappingNode):
        line = _line(root) if root else None
        raise DefinitionError(source, line, "expected a mapping with name, description and rule")
    keys = {k.value: v for k, v in root.value}
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


def _one(key: ScalarNode, value: Node, source: str) -> Condition:
    word, line = key.value, _line(key)
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
            op = op_node.value
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
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "today":
            return RelativeDate(0)
        match = RELATIVE.match(text)
        if match:
            n = int(match.group(1))
            return RelativeDate(n * 7 if match.group(2).startswith("week") else n)
    raise DefinitionError(
        source,
        line,
        f"{field} is a date; {value!r} is not one (use YYYY-MM-DD, 'N days ago', 'N weeks ago' or 'today')",
    )
