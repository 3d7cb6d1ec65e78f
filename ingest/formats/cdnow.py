"""The CDNOW transaction file (Fader, Hardie & Lee 2005): ``customer date cds dollars``.

The 1/10 sample adds a sample id after the customer id; the master file has a header
line. All purchases of one customer on one day form one order
(``cdnow-<customer>-<YYYYMMDD>``), each file line one order line of ``cds`` units of SKU
``CD`` at ``dollars / cds`` each, so the order total is the day's dollars and the orders
are the distinct purchase days the BG/NBD literature counts. Dates are UTC midnight.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from ingest import values as v
from ingest.errors import RowError
from ingest.formats import Format
from ingest.records import LineRecord
from ingest.source import Row, whitespace_rows

SHAPE = "customer [sample_id] date(YYYYMMDD) cds dollars"


@lru_cache(maxsize=4096)
def _midnight(day: str) -> datetime:
    try:
        at = datetime.strptime(day, "%Y%m%d")
    except ValueError:
        raise RowError("date", f"date {day!r} is not a date (expected YYYYMMDD)") from None
    v.in_range(at, "date", day)
    return at.replace(tzinfo=UTC)


def parse(row: Row) -> LineRecord | None:
    parts = [row.values[str(i)] for i in range(len(row.values))]
    if row.line_no == 1 and not parts[0].isdigit():
        return None  # the header
    if len(parts) == 5:
        customer, _sample, day, cds, dollars = parts
    elif len(parts) == 4:
        customer, day, cds, dollars = parts
    else:
        raise RowError(None, f"line has {len(parts)} fields; expected {SHAPE}")
    if not (customer.isascii() and customer.isdigit()) or len(customer) > 64:
        raise RowError(
            "customer",
            f"customer {customer[:70]!r} is not a number of up to 64 digits; expected {SHAPE}",
        )
    at = _midnight(day)
    quantity = v.integer(cds, "cds", minimum=1)
    amount = v.number(dollars, "dollars", minimum=0)
    customer = str(int(customer))
    return LineRecord(
        line_no=row.line_no,
        order_id=f"cdnow-{customer}-{day}",
        customer_id=customer,
        ordered_at=at,
        sku="CD",
        quantity=quantity,
        unit_price=amount / quantity,
        currency="USD",
        product_name="CD",
        category="music",
    )


FORMAT = Format("cdnow", whitespace_rows, parse, creates_customers=True)
