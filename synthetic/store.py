"""``write_store``: a realistic synthetic store in the generic CSV layout (``homecoming generate``).

Customers in eleven markets and languages (:mod:`synthetic.people`), their purchases,
returns and cancellations (:mod:`synthetic.purchases`), shipment events and support
tickets (:mod:`synthetic.aftersales`), push devices and e-mail consent. Timestamps are
written in the customer's local time with its UTC offset; everything happens before
``end``. Everything is drawn with numpy in chunks of customers, so memory stays flat and
the same seed gives the same files byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from synthetic.aftersales import write_shipments, write_tickets
from synthetic.localtime import DAY
from synthetic.output import CsvFiles
from synthetic.people import write_customers
from synthetic.purchases import draw_orders, write_lines
from synthetic.world import World

CHUNK = 10_000


def write_store(
    *,
    out: Path,
    customers: int,
    seed: int,
    end: date,
    years: float = 2.0,
    activity: float = 1.0,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write customers, orders, interactions, shipments and devices CSVs into ``out``.

    History covers ``years`` before midnight UTC starting ``end``. ``activity``
    multiplies every purchase rate (for benchmarks that want more orders per
    customer). ``on_progress`` receives the number of customers written so far.
    Returns the number of data rows written per file.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if years <= 0 or activity <= 0:
        raise ValueError("years and activity must be above 0")
    end_s = float(datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp())
    start_s = end_s - years * 365 * DAY
    world = World(start_s, end_s, activity)
    next_order = 1
    with CsvFiles(Path(out)) as files:
        for chunk, first in enumerate(range(0, customers, CHUNK)):
            rng = np.random.default_rng([seed, chunk])
            n = min(CHUNK, customers - first)
            next_order = _chunk(world, files, rng, first, n, next_order)
            if on_progress:
                on_progress(first + n)
    return dict(files.counts)


def _chunk(
    world: World, files: CsvFiles, rng: np.random.Generator, first: int, n: int, next_order: int
) -> int:
    """Customers ``first + 1`` to ``first + n`` and all that happens to them; gives the next order number."""
    cust = write_customers(world, files, rng, first, n)
    orders, habits = draw_orders(world, rng, cust, next_order)
    cancelled, returns = write_lines(world, files, rng, orders, habits)
    delayed = write_shipments(world, files, rng, orders, cancelled)
    write_tickets(world, files, rng, orders, delayed, returns)
    return next_order + len(orders.ids)
