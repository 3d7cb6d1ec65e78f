"""UCI "Online Retail" (2010-2011) and "Online Retail II" (2009-2011) invoice lines.

Rules, so every line is accounted for:
- ``C`` + digits is a cancellation: a return of kind ``cancellation`` against the customer
  (or no one, for a guest), never an order.
- digits only is an order line; without a customer id it is a guest line (kept, counted
  for no one). Price 0 lines are kept (free items; an order of only those totals 0).
- anything else is quarantined: other invoice prefixes (``A``: bad-debt adjustments), a
  negative quantity or price outside a cancellation, an unreadable date or number.
Invoice times are the store's local time (Europe/London) and are stored in UTC.
"""

from __future__ import annotations

from functools import partial

from ingest import values as v
from ingest.errors import RowError
from ingest.formats import Format
from ingest.records import LineRecord, ReturnRecord
from ingest.source import Row, check_fields, csv_rows

STORE_ZONE = "Europe/London"
CURRENCY = "GBP"
REQUIRED = ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID")
ALIASES = {"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}


def _customer(value: str) -> str | None:
    if not value:
        return None
    return value[:-2] if value.endswith(".0") else value


def parse(row: Row) -> LineRecord | ReturnRecord:
    check_fields(row)
    r = row.values
    invoice = v.required(r, "InvoiceNo")
    quantity = v.integer(v.required(r, "Quantity"), "Quantity")
    price = v.number(v.required(r, "UnitPrice"), "UnitPrice")
    at = v.timestamp(v.required(r, "InvoiceDate"), "InvoiceDate", STORE_ZONE)
    customer = _customer(r.get("CustomerID", ""))
    sku = v.required(r, "StockCode")
    if invoice.startswith("C") and invoice[1:].isdigit():
        return ReturnRecord(
            line_no=row.line_no,
            return_id=f"{invoice}:{row.line_no}",
            kind="cancellation",
            returned_at=at,
            order_id=None,
            customer_id=customer,
            sku=sku,
            quantity=abs(quantity),
            amount=abs(quantity) * abs(price),
            country=r.get("Country") or None,
        )
    if not invoice.isdigit():
        raise RowError(
            "InvoiceNo",
            f"InvoiceNo {invoice!r} is neither an order (digits) nor a cancellation (C + digits)",
        )
    if quantity <= 0:
        raise RowError(
            "Quantity",
            f"Quantity {quantity} on order {invoice}: only cancellations (C...) may be negative",
        )
    if price < 0:
        raise RowError(
            "UnitPrice",
            f"UnitPrice {price:g} is negative on order {invoice}; a price must be 0 or more",
        )
    return LineRecord(
        line_no=row.line_no,
        order_id=invoice,
        customer_id=customer,
        ordered_at=at,
        sku=sku,
        quantity=quantity,
        unit_price=price,
        currency=CURRENCY,
        product_name=r.get("Description") or None,
        country=r.get("Country") or None,
    )


FORMAT = Format(
    "online-retail",
    partial(csv_rows, required=REQUIRED, aliases=ALIASES),
    parse,
    creates_customers=True,
)
