"""RFM scores (1-5) by quintiles, and the named recency-frequency segments.

Definitions, over the customers with at least one order as of the refresh date:

- **R**: the quintile cut of days since the last order, fewer days scoring higher — the
  same as ``pandas.qcut(days, 5, labels=[5, 4, 3, 2, 1])``: quintile edges are the
  linearly interpolated 20/40/60/80 % quantiles, and a value on an edge falls in the
  lower bin.
- **F**: quintiles of the order count ranked with ties broken by first appearance (the
  earlier first order first) — ``qcut(orders.rank(method="first"), 5, labels=[1..5])``.
- **M**: quintiles of revenue — ``qcut(revenue, 5, labels=[1..5])``.

The database sorts and scores; Python only computes the four quintile edges.
"""

from __future__ import annotations

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


def segment_of(r: int, f: int) -> str:
    for rs, fs, name in SEGMENT_MAP:
        if r in rs and f in fs:
            return name
    raise ValueError(f"no RFM segment for R={r}, F={f}")


def quintile_edges(sorted_values: dict[int, float], n: int) -> list[float]:
    """The 20/40/60/80 % quantiles with linear interpolation, from values at 0-based positions."""
    edges = []
    for k in (1, 2, 3, 4):
        pos = (n - 1) * k / 5
        lo, frac = int(pos), pos - int(pos)
        hi = min(lo + 1, n - 1)
        edges.append(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)
    return edges


def positions(n: int) -> set[int]:
    out = set()
    for k in (1, 2, 3, 4):
        pos = (n - 1) * k / 5
        out.update({int(pos), min(int(pos) + 1, n - 1)})
    return out


def _edges(conn: Connection, column, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    ranked = (
        select(column.label("v"), (func.row_number().over(order_by=column) - 1).label("pos"))
        .where(F.orders > 0)
        .subquery()
    )
    wanted = sorted(positions(n))
    rows = conn.execute(select(ranked.c.pos, ranked.c.v).where(ranked.c.pos.in_(wanted))).all()
    return quintile_edges({int(p): float(v) for p, v in rows}, n)


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
    f_edges = [1 + (n - 1) * k / 5 for k in (1, 2, 3, 4)]  # ranks 1..n are unique
    ranks = (
        select(
            F.customer_id.label("cid"),
            func.row_number()
            .over(order_by=(F.orders, F.first_order_at, F.customer_id))
            .label("f_rank"),
            func.percent_rank().over(order_by=F.revenue).label("pct"),
        )
        .where(F.orders > 0)
        .subquery()
    )
    conn.execute(
        update(CustomerFeatures)
        .where(F.customer_id == ranks.c.cid)
        .values(
            r_score=_bin(F.days_since_last_order, r_edges, (5, 4, 3, 2, 1)),
            m_score=_bin(F.revenue, m_edges, (1, 2, 3, 4, 5)),
            f_score=_bin(ranks.c.f_rank, f_edges, (1, 2, 3, 4, 5)),
            value_percentile=ranks.c.pct,
        )
    )
    name = case(
        *((F.r_score.in_(rs) & F.f_score.in_(fs), seg) for rs, fs, seg in SEGMENT_MAP),
    )
    conn.execute(update(CustomerFeatures).where(F.orders > 0).values(rfm_segment=name))
    return dict(
        conn.execute(
            select(F.rfm_segment, func.count()).where(F.orders > 0).group_by(F.rfm_segment)
        ).all()
    )
