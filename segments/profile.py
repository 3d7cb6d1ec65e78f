"""What the segments are and what their members look like, so a marketer can tell whether
one is the right one: the listing, each segment's latest snapshot, and a member profile.

Everything is aggregated by the database over the latest snapshot of the segment, joined
to the customer features of the latest refresh; only counts and averages come back.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypedDict

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Float,
    Row,
    and_,
    case,
    cast,
    func,
    select,
)

from models.base import table
from models.segments import CustomerFeatures, SegmentSnapshot, latest_snapshots
from segments.clustering import latest_model
from segments.definitions import load_all
from segments.membership import members_select

F = table(CustomerFeatures).c
S = table(SegmentSnapshot).c
TOP = 5
# Name prefixes of the segments a refresh computes (``rfm:champions``); the rest are rules.
COMPUTED_KINDS = ("rfm", "predicted", "cluster", "lifecycle")
AVERAGES = (
    "orders",
    "revenue",
    "avg_order_value",
    "days_since_last_order",
    "tenure_days",
    "categories",
    "last_csat",
    "messages_received",
)


class Snapshot(TypedDict):
    """A segment's latest snapshot: :func:`last_snapshot`'s answer."""

    as_of: date
    size: int
    entered: int
    left: int


class Listed(TypedDict):
    """One segment in :func:`listing`; the figures are None until its first refresh."""

    segment: str
    as_of: date | None
    size: int | None
    entered: int | None
    left: int | None
    kind: str
    description: str


class Profile(TypedDict):
    """What a segment's members look like: :func:`profile`'s answer."""

    members_with_features: int
    averages: dict[str, float | None]
    share_buyers: float | None
    share_with_open_ticket: float | None
    top_locales: dict[str, int]
    top_countries: dict[str, int]
    top_categories: dict[str, int]
    rfm_segments: dict[str, int]


def kind_of(name: str) -> str:
    """What made a segment: its name's prefix (``rfm``, ``predicted``, ``cluster``,
    ``lifecycle``), or ``rule`` for a marketer's definition."""
    prefix = name.split(":", 1)[0] if ":" in name else ""
    return prefix if prefix in COMPUTED_KINDS else "rule"


def _latest_rows(
    conn: Connection, segment: str | None = None
) -> list[Row[tuple[str, date, int, int, int]]]:
    """segment, as_of, size, entered, left of each segment's latest snapshot, by name."""
    latest = latest_snapshots(segment=segment).subquery("latest")
    return list(
        conn.execute(
            select(S.segment, S.as_of, S.size, S.entered, S.left)
            .join(latest, and_(latest.c.segment == S.segment, latest.c.as_of == S.as_of))
            .order_by(S.segment)
        )
    )


def last_snapshot(conn: Connection, segment: str) -> Snapshot | None:
    """as_of, size, entered and left of ``segment``'s latest snapshot; None if never refreshed."""
    rows = _latest_rows(conn, segment)
    if not rows:
        return None
    r = rows[0]
    return {"as_of": r.as_of, "size": r.size, "entered": r.entered, "left": r.left}


def listing(engine: Engine) -> list[Listed]:
    """Every segment with its kind, description and latest snapshot (size, entered, left);
    segments defined but not refreshed yet come last, with empty figures."""
    definitions, _ = load_all()
    model = latest_model(engine)
    clusters = {name: p["words"] for name, p in (model["profiles"] if model else {}).items()}
    described = {d.name: d.description for d in definitions}
    with engine.connect() as conn:
        rows = _latest_rows(conn)
    data: list[Listed] = [
        {
            "segment": r.segment,
            "as_of": r.as_of,
            "size": r.size,
            "entered": r.entered,
            "left": r.left,
            "kind": kind_of(r.segment),
            "description": described.get(r.segment, clusters.get(r.segment, "")),
        }
        for r in rows
    ]
    seen = {d["segment"] for d in data}
    data += [
        {
            "segment": name,
            "as_of": None,
            "size": None,
            "entered": None,
            "left": None,
            "kind": kind_of(name),
            "description": text,
        }
        for name, text in sorted(described.items())
        if name not in seen  # defined but not refreshed yet
    ]
    return data


def profile(conn: Connection, segment: str) -> Profile:
    """Averages of key features, and the most common locales, countries and categories."""
    members = members_select(segment)
    where = F.customer_id.in_(members)
    averages = conn.execute(
        select(*(func.avg(cast(F[name], Float)).label(name) for name in AVERAGES)).where(where)
    ).one()
    shares = conn.execute(
        select(
            func.count().label("n"),
            func.sum(case((F.orders > 0, 1), else_=0)).label("buyers"),
            func.sum(case((F.open_tickets > 0, 1), else_=0)).label("open_tickets"),
        ).where(where)
    ).one()

    def top(column: Column[Any], condition: ColumnElement[bool]) -> dict[str, int]:
        rows = conn.execute(
            select(column, func.count().label("n"))
            .where(condition, column.is_not(None))
            .group_by(column)
            .order_by(func.count().desc(), column)
            .limit(TOP)
        ).all()
        return {str(value): n for value, n in rows}

    n = shares.n or 0
    return {
        "members_with_features": n,
        "averages": {
            name: None if value is None else round(float(value), 2)
            for name, value in averages._asdict().items()
        },
        "share_buyers": round((shares.buyers or 0) / n, 3) if n else None,
        "share_with_open_ticket": round((shares.open_tickets or 0) / n, 3) if n else None,
        "top_locales": top(F.locale, where),
        "top_countries": top(F.country, where),
        "top_categories": top(F.top_category, where),
        "rfm_segments": top(F.rfm_segment, where),
    }
