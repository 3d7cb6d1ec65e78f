"""RFM scores (1-5) by quintiles, and the named recency-frequency segments.

Over the customers with at least one order as of the refresh date, each score is exactly
what ``pandas.qcut(values, 5, labels=...)`` gives on the same numbers:

- **R**: ``qcut(days_since_last_order, 5, labels=[5, 4, 3, 2, 1])`` (fewer days score higher);
- **F**: ``qcut(orders.rank(method="first"), 5, labels=[1, 2, 3, 4, 5])`` where the customers
  stand in order of first appearance (first order time, then customer id), so equal order
  counts are ranked by who bought first;
- **M**: ``qcut(revenue, 5, labels=[1, 2, 3, 4, 5])`` (revenue net of returns, in cents).

A "quintile cut" means: the edges are the 20/40/60/80 % quantiles with linear
interpolation between the two nearest sorted values (numpy's default ``linear`` method,
at the levels ``qcut`` uses), and a value equal to an edge falls in the lower bin. Where
ties make two edges equal, ``qcut`` refuses to cut; here the lower bin simply stays empty.

The database sorts and scores with window functions, as the staged features are written
into ``customer_features`` (``scored_select``; no row is updated afterwards). Python reads
a few sorted values around each quantile and computes the four edges with numpy, so the
floating-point arithmetic of the edges is the same as pandas'.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    Case,
    ColumnElement,
    Connection,
    Select,
    Table,
    case,
    func,
    null,
    or_,
    select,
)

from models.base import table
from models.segments import CustomerFeatures

F = table(CustomerFeatures).c

# R score x F score -> segment (the widely used recency-frequency map).
SEGMENT_MAP: list[tuple[tuple[int, ...], tuple[int, ...], str]] = [
    ((1, 2), (1, 2), "hibernating"),
    ((1, 2), (3, 4), "at_risk"),
    ((1, 2), (5,), "cant_lose"),
    ((3,), (1, 2), "about_to_sleep"),
    ((3,), (3,), "need_attention"),
    ((3, 4), (4, 5), "loyal_customers"),
    ((4,), (1,), "promising"),
    ((5,), (1,), "new_customers"),
    ((4, 5), (2, 3), "potential_loyalists"),
    ((5,), (4, 5), "champions"),
]
SEGMENTS = tuple(name for _, _, name in SEGMENT_MAP)
ASCENDING = (1, 2, 3, 4, 5)
DESCENDING = (5, 4, 3, 2, 1)


def segment_of(r: int, f: int) -> str:
    for rs, fs, name in SEGMENT_MAP:
        if r in rs and f in fs:
            return name
    raise ValueError(f"no RFM segment for R={r}, F={f}")


def levels() -> NDArray[np.float64]:
    """The inner quantile levels of a 5-bin ``qcut``, computed as pandas computes them."""
    q = np.linspace(0, 1, 6)
    np.putmask(q, 5 * q != np.arange(6), np.nextafter(q, 1))
    return q[1:-1]


def positions(n: int) -> list[int]:
    """0-based sorted positions whose values decide the edges (with a margin for rounding)."""
    out: set[int] = set()
    for level in levels():
        at = int(np.floor(level * (n - 1)))
        out.update(p for p in range(at - 1, at + 3) if 0 <= p < n)
    return sorted(out)


def quintile_edges(known: Mapping[int, float], n: int) -> list[float]:
    """The four edges from the values at ``positions(n)`` of a sorted column of ``n`` values.

    A sorted stand-in array holds the known values at their positions (and copies of them
    in between), so ``np.quantile`` does the interpolation itself, bit for bit.
    """
    where = sorted(known)
    values = np.array([known[p] for p in where])
    filled = values[np.clip(np.searchsorted(where, np.arange(n), side="right") - 1, 0, None)]
    return [float(e) for e in np.quantile(filled, levels(), method="linear")]


def _edges(conn: Connection, stage: Table, n: int) -> tuple[list[float], list[float]]:
    """Recency and monetary edges from the staged buyers, sorted by the database."""
    c = stage.c
    ranked = (
        select(
            c.days_since_last_order.label("days"),
            c.revenue.label("revenue"),
            (func.row_number().over(order_by=c.days_since_last_order) - 1).label("r_pos"),
            (func.row_number().over(order_by=c.revenue) - 1).label("m_pos"),
        )
        .where(c.orders > 0)
        .subquery()
    )
    wanted = positions(n)
    days: dict[int, int] = {}
    money: dict[int, float] = {}
    for d, m, r_pos, m_pos in conn.execute(
        select(ranked).where(or_(ranked.c.r_pos.in_(wanted), ranked.c.m_pos.in_(wanted)))
    ):
        if r_pos in wanted:
            days[int(r_pos)] = d
        if m_pos in wanted:
            money[int(m_pos)] = m
    return quintile_edges(days, n), quintile_edges(money, n)


def _bin(value: ColumnElement[float], edges: list[float], labels: tuple[int, ...]) -> Case[int]:
    """The label of the first bin whose upper edge the value does not exceed."""
    return case(*((value <= e, labels[i]) for i, e in enumerate(edges)), else_=labels[4])


def scored_select(conn: Connection, stage: Table) -> Select:
    """The staged rows followed by value_percentile, r, f, m scores and the RFM segment.

    Customers without an order get no scores (NULL). Window functions rank the buyers
    among themselves (partitioned apart from the others).
    """
    c = stage.c
    buyer = c.orders > 0
    n = conn.execute(select(func.count()).where(buyer)).scalar_one()
    if n == 0:
        return select(*c, null(), null(), null(), null(), null())
    r_edges, m_edges = _edges(conn, stage, n)
    f_edges = [float(e) for e in np.quantile(np.arange(1, n + 1, dtype=float), levels())]
    group = case((buyer, 1), else_=0)
    windows = select(  # narrow: the sorts carry ids, not whole rows
        c.customer_id.label("cid"),
        func.row_number()
        .over(partition_by=group, order_by=(c.orders, c.first_order_at, c.customer_id))
        .label("f_rank"),
        func.percent_rank().over(partition_by=group, order_by=c.revenue).label("pct"),
    ).subquery("windows")
    w = windows.c
    ranked = (
        select(
            *c,
            case((buyer, w.pct)).label("pct"),
            case((buyer, _bin(c.days_since_last_order, r_edges, DESCENDING))).label("r"),
            case((buyer, _bin(w.f_rank, f_edges, ASCENDING))).label("f"),
            case((buyer, _bin(c.revenue, m_edges, ASCENDING))).label("m"),
        )
        .join_from(stage, windows, w.cid == c.customer_id)
        .subquery("scored")
    )
    named = case(
        *((ranked.c.r.in_(rs) & ranked.c.f.in_(fs), segment) for rs, fs, segment in SEGMENT_MAP)
    )
    return select(
        *(ranked.c[col.name] for col in c), ranked.c.pct, ranked.c.r, ranked.c.f, ranked.c.m, named
    )


def sizes(conn: Connection) -> dict[str, int]:
    """Customers per RFM segment in ``customer_features``."""
    return dict(
        conn.execute(
            select(F.rfm_segment, func.count())
            .where(F.rfm_segment.is_not(None))
            .group_by(F.rfm_segment)
        )
        .tuples()
        .all()
    )
