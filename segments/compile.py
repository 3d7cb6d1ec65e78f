"""Rules to SQL (bound parameters only) and, for checking, to a plain Python evaluation.

Both follow the same semantics: a comparison on a missing value is false (so ``not`` of
it is true), ``between`` includes both ends, and date comparisons work by whole UTC days.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, select, true

from models.segments import CustomerCategory, CustomerFeatures, SegmentMember
from segments.features import FIELDS
from segments.rules import All, Any_, Bought, Compare, Condition, InSegment, Not, RelativeDate

F = CustomerFeatures.__table__.c


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


def to_sql(cond: Condition, *, as_of: date) -> ColumnElement[bool]:
    """A boolean SQL expression over ``customer_features`` for ``cond``."""
    if isinstance(cond, All):
        return and_(true(), *(to_sql(c, as_of=as_of) for c in cond.items))
    if isinstance(cond, Any_):
        return or_(false(), *(to_sql(c, as_of=as_of) for c in cond.items))
    if isinstance(cond, Not):
        return not_(to_sql(cond.item, as_of=as_of))
    if isinstance(cond, Bought):
        bought = select(CustomerCategory.customer_id).where(
            CustomerCategory.category.in_(cond.categories)
        )
        return F.customer_id.in_(bought)
    if isinstance(cond, InSegment):
        members = select(SegmentMember.customer_id).where(
            SegmentMember.segment == cond.segment, SegmentMember.as_of == as_of
        )
        return F.customer_id.in_(members)
    return _compare_sql(cond, as_of)


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
    if isinstance(value, datetime):
        if c.op in ("in", "not_in", "ne"):
            days = c.value if c.op != "ne" else (c.value,)
            hit = any(lo <= value < hi for lo, hi in (_bounds("eq", d, as_of) for d in days))
            return hit if c.op == "in" else not hit
        lo, hi = _bounds(c.op, c.value, as_of)
        return (lo is None or value >= lo) and (hi is None or value < hi)
    if c.op == "between":
        lo, hi = sorted(c.value)
        return lo <= value <= hi
    return {
        "eq": lambda: value == c.value,
        "ne": lambda: value != c.value,
        "lt": lambda: value < c.value,
        "lte": lambda: value <= c.value,
        "gt": lambda: value > c.value,
        "gte": lambda: value >= c.value,
        "in": lambda: value in c.value,
        "not_in": lambda: value not in c.value,
    }[c.op]()
