"""RFM scores (1-5) by quintiles of each value, and the named recency-frequency segments.

Over the customers with at least one order as of the refresh date, every score is a
function of that customer's own value, and the same rule serves all three:

- **R**: ``days_since_last_order``, labels 5, 4, 3, 2, 1 (fewer days score higher);
- **F**: ``orders``, labels 1..5;
- **M**: ``revenue`` (net of returns and cancellations, in currency units), labels 1..5.

The rule: the four edges are the 20/40/60/80 % quantiles of the values with linear
interpolation (numpy's default ``linear`` method, at the levels ``pandas.qcut`` uses), and
a value gets the label of the first bin whose upper edge it does not exceed, so a value
equal to an edge falls in the lower bin. Equal values therefore always share a score:
two customers with the same order count get the same F whatever their order dates or
ids. Where the edges are distinct this is exactly ``pandas.qcut(values, 5, labels=...)``.

Order counts tie massively (most customers of a shop buy once or twice), so F edges may
coincide: with edges 1, 1, 2, 4 the bins between equal edges stay empty (no F=2 here) and
the others keep their labels (F=5 still means above the 80 % edge). One-order customers
always score F=1, so a recent one-off buyer is ``new_customers`` (R=5) or
``promising`` (R=4). Ranking ties apart instead (``rank(method="first")`` by first order)
gave equal counts different scores by date, and on the UCI Online Retail file left those
two segments empty; with this rule all ten are populated there (docs/segments.md).
Quintile scoring as in Hughes, *Strategic Database Marketing* (1994); the quantiles are
Hyndman & Fan's (1996) definition 7.

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
# The value each score bins, with the score's name and labels (low value first).
SCORED: dict[str, tuple[str, tuple[int, ...]]] = {
    "days_since_last_order": ("r", DESCENDING),
    "orders": ("f", ASCENDING),
    "revenue": ("m", ASCENDING),
}


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


def _edges(conn: Connection, stage: Table, n: int) -> dict[str, list[float]]:
    """The edges of each scored column over the staged buyers, sorted by the database."""
    c = stage.c
    ranked = (
        select(
            *(c[col].label(col) for col in SCORED),
            *((func.row_number().over(order_by=c[col]) - 1).label(f"{col}_pos") for col in SCORED),
        )
        .where(c.orders > 0)
        .subquery()
    )
    wanted = positions(n)
    known: dict[str, dict[int, float]] = {col: {} for col in SCORED}
    at = [ranked.c[f"{col}_pos"] for col in SCORED]
    for row in conn.execute(select(ranked).where(or_(*(p.in_(wanted) for p in at)))):
        for i, col in enumerate(SCORED):
            pos = int(row[len(SCORED) + i])
            if pos in wanted:
                known[col][pos] = row[i]
    return {col: quintile_edges(known[col], n) for col in SCORED}


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
    edges = _edges(conn, stage, n)
    group = case((buyer, 1), else_=0)
    windows = select(  # narrow: the sort carries ids, not whole rows
        c.customer_id.label("cid"),
        func.percent_rank().over(partition_by=group, order_by=c.revenue).label("pct"),
    ).subquery("windows")
    w = windows.c
    ranked = (
        select(
            *c,
            case((buyer, w.pct)).label("pct"),
            *(
                case((buyer, _bin(c[col], edges[col], labels))).label(score)
                for col, (score, labels) in SCORED.items()
            ),
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
