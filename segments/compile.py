"""Rules to SQL (bound parameters only) and, for checking, to a plain Python evaluation.

Both follow the same semantics: a comparison on a missing value is false (so ``not`` of
it is true), ``between`` includes both ends, date comparisons work by whole UTC days, and
text (categories, locales, countries, any name) compares without regard to case, on every
database. Counted ``bought_category`` and the prediction fields read their own tables by
customer id: a customer with no prediction compares false, like a missing value.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select, true

from models.base import table
from models.segments import CustomerFeatures, CustomerPrediction, SegmentMember
from models.store import Order, OrderLine, Product, counted_order
from segments.features import MARK, PREDICTED, RULE_FIELDS
from segments.membership import members_select
from segments.rules import All, Any_, Bought, Compare, Condition, InSegment, Not, RelativeDate

F = table(CustomerFeatures).c
P = table(CustomerPrediction).c


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
            if c.counted:
                return F.customer_id.in_(_counted_orders(c, as_of))
            bought = func.lower(F.bought_categories)
            return or_(
                false(),
                *(
                    bought.contains(f"{MARK}{name.lower()}{MARK}", autoescape=True)
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


def _counted_orders(c: Bought, as_of: date) -> Any:
    """Customers with at least ``c.at_least`` counted orders holding a line in one of the
    categories, by the end of ``as_of`` and, with ``within_days``, no more than that many
    days before it (as ``days_since_last_order`` counts days)."""
    o, line, product = table(Order).c, table(OrderLine).c, table(Product).c
    window = [o.ordered_at < _start(as_of + timedelta(days=1))]
    if c.within_days is not None:
        window.append(o.ordered_at >= _start(as_of - timedelta(days=c.within_days)))
    return (
        select(o.customer_id)
        .select_from(
            table(OrderLine)
            .join(table(Order), line.order_id == o.id)
            .join(table(Product), product.sku == line.sku)
        )
        .where(
            counted_order(),
            *window,
            func.lower(product.category).in_(sorted({n.lower() for n in c.categories})),
        )
        .group_by(o.customer_id)
        .having(func.count(func.distinct(o.id)) >= c.at_least)
    )


def _compare_sql(cond: Compare, as_of: date) -> ColumnElement[bool]:
    if cond.field in PREDICTED:  # one row per customer with a prediction
        if cond.op == "is_null":
            predicted = F.customer_id.in_(select(P.customer_id))
            return not_(predicted) if cond.value else predicted
        test = _test(P[cond.field], cond, as_of)
        return F.customer_id.in_(select(P.customer_id).where(test))
    return _test(F[cond.field], cond, as_of)


def _test(col: Any, cond: Compare, as_of: date) -> ColumnElement[bool]:
    op, value = cond.op, cond.value
    if op == "is_null":
        return col.is_(None) if value else col.is_not(None)
    kind = RULE_FIELDS[cond.field]
    if kind == "text":  # names compare without regard to case
        col = func.lower(col)
        value = tuple(v.lower() for v in value) if isinstance(value, tuple) else value.lower()
    if kind == "date":
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
    orders: Sequence[tuple[datetime, Collection[str]]] = (),
) -> bool:
    """The same rule evaluated in Python on one customer's features (for tests and previews).

    ``categories``: every category the customer bought; ``orders``: each counted order's
    time and categories (for a counted ``bought_category``); predictions are in ``row``.
    """

    def ev(c: Condition) -> bool:
        if isinstance(c, All):
            return all(ev(i) for i in c.items)
        if isinstance(c, Any_):
            return any(ev(i) for i in c.items)
        if isinstance(c, Not):
            return not ev(c.item)
        if isinstance(c, Bought):
            names = {n.lower() for n in c.categories}
            if not c.counted:
                return bool(names & {n.lower() for n in categories})
            first = date.min if c.within_days is None else as_of - timedelta(days=c.within_days)
            return (
                sum(
                    1
                    for at, cats in orders
                    if first <= at.astimezone(UTC).date() <= as_of
                    and names & {n.lower() for n in cats}
                )
                >= c.at_least
            )
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
    if isinstance(value, str):  # names compare without regard to case
        value = value.lower()
        want = tuple(v.lower() for v in want) if isinstance(want, tuple) else want.lower()
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
