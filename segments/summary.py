"""Per-customer purchase summary for the CLV models, computed by the database.

For each customer with an order on or before the calibration end:
``x`` repeat purchase days (distinct order days - 1), ``t_x`` days from the first to the
last order day, ``T`` days from the first order day to the calibration end, and
``monetary`` the mean value of the repeat purchase days (the first day left out), as in
Fader, Hardie & Lee (2005). Guest orders count for no one; a purchase of
value 0 is still a purchase, as in the CDNOW data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import Engine, case, func, select

from models.sqltime import epoch_day
from models.store import Order

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Summary:
    customer_id: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    monetary: np.ndarray

    def __len__(self) -> int:
        return len(self.customer_id)


def summary_select(calibration_end: date):  # type: ignore[no-untyped-def]
    o = Order.__table__.c
    end_day = (calibration_end - EPOCH).days
    days = (
        select(o.customer_id, epoch_day(o.ordered_at).label("d"), func.sum(o.total).label("v"))
        .where(o.customer_id.is_not(None), o["items"] > 0, epoch_day(o.ordered_at) <= end_day)
        .group_by(o.customer_id, epoch_day(o.ordered_at))
        .subquery()
    )
    ranked = select(
        days.c.customer_id,
        days.c.d,
        days.c.v,
        func.row_number().over(partition_by=days.c.customer_id, order_by=days.c.d).label("rn"),
    ).subquery()
    n = func.count()
    repeat_value = func.sum(case((ranked.c.rn > 1, ranked.c.v), else_=0.0))
    return (
        select(
            ranked.c.customer_id,
            (n - 1).label("x"),
            (func.max(ranked.c.d) - func.min(ranked.c.d)).label("t_x"),
            (end_day - func.min(ranked.c.d)).label("T"),
            case((n > 1, repeat_value / (n - 1)), else_=0.0).label("monetary"),
        )
        .group_by(ranked.c.customer_id)
        .order_by(ranked.c.customer_id)
    )


def customer_summary(engine: Engine, *, calibration_end: date, time_unit: str = "days") -> Summary:
    """The summary as numpy arrays; ``time_unit`` "weeks" divides the times by 7."""
    if time_unit not in ("days", "weeks"):
        raise ValueError(f"time_unit {time_unit!r} is not valid; expected days or weeks")
    scale = 7.0 if time_unit == "weeks" else 1.0
    cols: list[list[float]] = [[], [], [], [], []]
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=50_000).execute(
            summary_select(calibration_end)
        )
        for part in result.partitions():
            for row in part:
                for i, value in enumerate(row):
                    cols[i].append(value)
    ids, x, t_x, big_t, m = (np.asarray(c, dtype=float) for c in cols)
    return Summary(ids.astype(np.int64), x, t_x / scale, big_t / scale, m)


__all__ = ["Summary", "customer_summary", "summary_select"]
