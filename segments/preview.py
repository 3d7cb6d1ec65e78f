"""Who a definition would select, before it is saved.

Against the features of the last refresh when they are of the asked date (the usual case,
and instant); otherwise the features are computed for that date inside a transaction that
is rolled back, so a preview never changes what campaigns and reports read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, Engine, func, select

from models.base import table
from models.segments import CustomerFeatures
from segments.compile import to_sql
from segments.features import refresh_features
from segments.membership import latest_as_of
from segments.rules import Definition

F = table(CustomerFeatures).c
SAMPLE = 10


@dataclass(frozen=True)
class Preview:
    segment: str
    as_of: date
    size: int
    customers: int
    sample_customer_ids: list[int]
    computed: bool  # features were computed for this preview (not those of the last refresh)
    notes: list[str]


def _select(conn: Connection, definition: Definition, *, as_of: date, sample: int) -> tuple:
    where = to_sql(definition.rule, as_of=as_of, written=())
    size = conn.execute(select(func.count()).where(where)).scalar_one()
    customers = conn.execute(select(func.count()).select_from(CustomerFeatures)).scalar_one()
    ids = list(
        conn.execute(
            select(F.customer_id).where(where).order_by(F.customer_id).limit(sample)
        ).scalars()
    )
    return size, customers, ids


def preview(
    engine: Engine, definition: Definition, *, as_of: date | None = None, sample: int = SAMPLE
) -> Preview:
    """Size and the first ``sample`` customer ids of ``definition`` as of ``as_of``.

    ``as_of`` None means the date of the last refresh (today if there was none).
    """
    with engine.connect() as conn:
        try:
            stored = conn.execute(select(func.max(F.as_of))).scalar()
            day = as_of or stored or date.today()
            if day != stored:
                refresh_features(conn, as_of=day)
            size, customers, ids = _select(conn, definition, as_of=day, sample=sample)
            notes = [
                f"in_segment {ref.segment!r} (line {ref.line}) has no snapshot on or before "
                f"{day}: it counts as empty"
                for ref in definition.references()
                if conn.execute(latest_as_of(ref.segment, as_of=day)).scalar() is None
            ]
        finally:
            conn.rollback()  # a preview leaves no trace
    return Preview(definition.name, day, size, customers, ids, day != stored, notes)
