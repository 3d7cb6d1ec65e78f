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

The database sorts and scores with window functions; Python reads at most sixteen sorted
values and computes the four edges with numpy, so the floating-point arithmetic of the
edges is the same as pandas'.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection, case, func, select, update

from models.segments import CustomerFeatures

F = CustomerFeatures.__table__.c

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


def levels() -> np.ndarray:
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


def quintile_edges(known: dict[int, Any], n: int) -> list[float]:
    """The four edges from the values at ``positions(n)`` of a sorted column of ``n`` values.

    A sorted stand-in array holds the known values at their positions (and copies of them
    in between), so ``np.quantile`` does the interpolation itself, bit for bit.
    """
    where = sorted(known)
    values = np.array([known[p] for p in where])
    filled = values[np.clip(np.searchsorted(where, np.arange(n), side="right") - 1, 0, None)]
    return [float(e) for e in np.quantile(filled, levels(), method="linear")]


def _edges(conn: Connection, column, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    ranked = (
        select(column.label("v"), (func.row_number().over(order_by=column) - 1).label("pos"))
        .where(F.orders > 0)
        .subquery()
    )
    rows = conn.execute(
        select(ranked.c.pos, ranked.c.v).where(ranked.c.pos.in_(positions(n)))
    ).all()
    return quintile_edges({int(p): v for p, v in rows}, n)


def _bin(value, edges: list[float], labels: tuple[int, ...]):  # type: ignore[no-untyped-def]
    """The label of the first bin whose upper edge the value does not exceed."""
    return case(*((value <= e, labels[i]) for i, e in enumerate(edges)), else_=labels[4])


def score(conn: Connection) -> dict[str, int]:
    """Write r/f/m scores, the RFM segment and the value percentile; returns segment sizes."""
    n = conn.execute(select(func.count()).where(F.orders > 0)).scalar_one()
    if n == 0:
        return {}
    r_edges = _edges(conn, F.days_since_last_order, n)
    m_edges = _edges(conn, F.revenue, n)
    f_edges = [float(e) for e in np.quantile(np.arange(1, n + 1, dtype=float), levels())]
    ranked = (
        select(
            F.customer_id.label("cid"),
            _bin(F.days_since_last_order, r_edges, DESCENDING).label("r"),
            _bin(
                func.row_number().over(order_by=(F.orders, F.first_order_at, F.customer_id)),
                f_edges,
                ASCENDING,
            ).label("f"),
            _bin(F.revenue, m_edges, ASCENDING).label("m"),
            func.percent_rank().over(order_by=F.revenue).label("pct"),
        )
        .where(F.orders > 0)
        .subquery()
    )
    named = case(
        *((ranked.c.r.in_(rs) & ranked.c.f.in_(fs), segment) for rs, fs, segment in SEGMENT_MAP)
    )
    scores = select(ranked, named.label("segment")).subquery()
    conn.execute(
        update(CustomerFeatures)
        .where(F.customer_id == scores.c.cid)
        .values(
            r_score=scores.c.r,
            f_score=scores.c.f,
            m_score=scores.c.m,
            value_percentile=scores.c.pct,
            rfm_segment=scores.c.segment,
        )
    )
    return dict(
        conn.execute(
            select(F.rfm_segment, func.count()).where(F.orders > 0).group_by(F.rfm_segment)
        ).all()
    )
