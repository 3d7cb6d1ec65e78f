"""Rules to SQL (bound parameters only) and, for checking, to a plain Python evaluation.

Both follow the same semantics: a comparison on a missing value is false (so ``not`` of
it is true), ``between`` includes both ends, and date comparisons work by whole UTC days.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, select, true

from models.base import table
from models.segments import CustomerFeatures, SegmentMember
from segments.features import FIELDS, MARK
from segments.membership import members_select
from segments.rules import All, Any_, Bought, Compare, Condition, InSegment, Not, RelativeDate

F = table(CustomerFeatures).c


def _day(value: Any, as_of: date) -> date:
    return value.on(as_of) if isinstance(value, RelativeDate) else value


def _start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _bounds(op: str, value: Any, as_of: date) -> tuple[datetime | None, datetime | None]:
    """Half-open [low, high) instants a date comparison accepts."""
    if op == "between":
        a, b = sorted(_day(v, as_of) for v in value)
        return _start(a), _start(b + timedelta(days=1))
    d = _day(value, as_of)
    after = _start(d + timedelta(days=1))
    return {
        "eq": (_start(d), after),
        "lt": (None, _start(d)),
        "lte": (None, after),
        "gt": (after, None),
        "gte": (_start(d), None),
    }[op]


def to_sql(
    cond: Condition, *, as_of: date, written: Collection[str] | None = None
) -> ColumnElement[bool]:
    """A boolean SQL expression over ``customer_features`` for ``cond``.

    ``in_segment`` reads the members written for ``as_of`` itself when the segment is in
    ``written`` (a refresh writes a rule's dependencies first), or always when ``written``
    is None; any other segment is read from its latest snapshot at or before ``as_of``
    (a preview; a model segment a refresh had to skip).
    """

    def sql(c: Condition) -> ColumnElement[bool]:
        if isinstance(c, All):
            return and_(true(), *(sql(i) for i in c.items))
        if isinstance(c, Any_):
            return or_(false(), *(sql(i) for i in c.items))
        if isinstance(c, Not):
            return not_(sql(c.item))
        if isinstance(c, Bought):
            return or_(
                false(),
                *(
                    F.bought_categories.contains(f"{MARK}{name}{MARK}", autoescape=True)
                    for name in c.categories
                ),
            )
        if isinstance(c, InSegment):
            if written is not None and c.segment not in written:
                return F.customer_id.in_(members_select(c.segment, as_of=as_of))
            m = table(SegmentMember).c
            members = select(m.customer_id).where(m.segment == c.segment, m.as_of == as_of)
            return F.customer_id.in_(members)
        return _compare_sql(c, as_of)

    return sql(cond)


def _compare_sql(cond: Compare, as_of: date) -> ColumnElement[bool]:
    col = F[cond.field]
    op, value = cond.op, cond.value
    if op == "is_null":
        return col.is_(None) if value else col.is_not(None)
    if FIELDS[cond.field] == "date":
        if op in ("in", "not_in", "ne"):
            days = value if op != "ne" else (value,)
            any_day = or_(
                false(),
                *(and_(col >= lo, col < hi) for lo, hi in (_bounds("eq", d, as_of) for d in days)),
            )
            test = any_day if op == "in" else not_(any_day)
        else:
            lo, hi = _bounds(op, value, as_of)
            test = and_(true(), *([col >= lo] if lo else []), *([col < hi] if hi else []))
    elif op == "between":
        lo, hi = sorted(value)
        test = col.between(lo, hi)
    elif op in ("in", "not_in"):
        test = col.in_(value) if op == "in" else col.not_in(value)
    else:
        test = {
            "eq": col == value,
            "ne": col != value,
            "lt": col < value,
            "lte": col <= value,
            "gt": col > value,
            "gte": col >= value,
        }[op]
    return and_(col.is_not(None), test)


def evaluate(
    cond: Condition,
    row: Mapping[str, Any],
    *,
    as_of: date,
    categories: set[str],
    member_of: Callable[[str], bool],
) -> bool:
    """The same rule evaluated in Python on one customer's features (for tests and previews)."""

    def ev(c: Condition) -> bool:
        if isinstance(c, All):
            return all(ev(i) for i in c.items)
        if isinstance(c, Any_):
            return any(ev(i) for i in c.items)
        if isinstance(c, Not):
            return not ev(c.item)
        if isinstance(c, Bought):
            return bool(categories & set(c.categories))
        if isinstance(c, InSegment):
            return member_of(c.segment)
        return _compare_py(c, row.get(c.field), as_of)

    return ev(cond)


def _compare_py(c: Compare, value: Any, as_of: date) -> bool:
    if c.op == "is_null":
        return (value is None) == c.value
    if value is None:
        return False
    want = c.value
    if isinstance(value, datetime):  # compared by UTC day, written apart from the SQL on purpose
        value = value.astimezone(UTC).date()
        want = tuple(_day(v, as_of) for v in want) if isinstance(want, tuple) else _day(want, as_of)
    if c.op == "between":
        lo, hi = sorted(want)
        return lo <= value <= hi
    return {
        "eq": lambda: value == want,
        "ne": lambda: value != want,
        "lt": lambda: value < want,
        "lte": lambda: value <= want,
        "gt": lambda: value > want,
        "gte": lambda: value >= want,
        "in": lambda: value in want,
        "not_in": lambda: value not in want,
    }[c.op]()
