"""UCI "Online Retail" (2010-2011) and "Online Retail II" (2009-2011) invoice lines.

Rules, so every line is accounted for (docs/formats.md):
- ``C`` + digits is a cancellation: a return of kind ``cancellation`` against the customer
  (or no one, for a guest), never an order.
- digits only is an order line; without a customer id it is a guest line (kept, counted
  for no one). Price 0 lines are kept (free items): an order of only those totals 0, which
  the analyses' ``total > 0`` leaves out, so orders with a customer and a positive total
  are exactly the invoices of the usual cleaned data set.
- anything else is quarantined: other invoice prefixes (``A``: bad-debt adjustments), a
  negative or zero quantity or a negative price outside a cancellation, an unreadable
  date or number.
Invoice times are the store's local time (Europe/London) and are stored in UTC.
"""

from __future__ import annotations

from functools import lru_cache, partial

from ingest import values as v
from ingest.errors import RowError
from ingest.formats import Format
from ingest.records import LineRecord, ReturnRecord
from ingest.source import Row, check_fields, csv_rows

STORE_ZONE = "Europe/London"
CURRENCY = "GBP"
REQUIRED = ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID")
LIMIT = 2**31  # quantities and prices beyond this are typos (and overflow an INTEGER)
ALIASES = {"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}


@lru_cache(maxsize=16384)
def customer_id(value: str | None) -> str | None:
    """``17850.0`` (the spreadsheet's float) and ``17850`` are the same customer."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return v.optional({"CustomerID": value}, "CustomerID", 64)
    if not number.is_integer() or abs(number) >= 1e18:
        raise RowError("CustomerID", f"CustomerID {value[:70]!r} is not a whole number in range")
    return str(int(number))


def parse(row: Row) -> LineRecord | ReturnRecord:
    """One invoice line; written for speed (half a million calls) with the checks of ``values``."""
    check_fields(row)
    r = row.values
    invoice, sku = r["InvoiceNo"], r["StockCode"]
    if not (invoice and sku and r["Quantity"] and r["UnitPrice"] and r["InvoiceDate"]) or (
        len(invoice) > 64 or len(sku) > 64
    ):
        for name in ("InvoiceNo", "StockCode", "Quantity", "UnitPrice", "InvoiceDate"):
            v.required(r, name)
    try:
        quantity = int(r["Quantity"])
    except ValueError:
        quantity = v.integer(r["Quantity"], "Quantity")
    try:
        price = float(r["UnitPrice"])
    except ValueError:
        price = v.number(r["UnitPrice"], "UnitPrice")
    if not (-LIMIT < quantity < LIMIT and -LIMIT < price < LIMIT):
        quantity = v.integer(r["Quantity"], "Quantity")
        price = v.number(r["UnitPrice"], "UnitPrice")
    at = v.store_timestamp(r["InvoiceDate"], "InvoiceDate", STORE_ZONE)
    customer = customer_id(r["CustomerID"])
    description, country = r.get("Description") or None, r.get("Country") or None
    if (description and len(description) > 255) or (country and len(country) > 64):
        v.optional(r, "Description", 255)
        v.optional(r, "Country", 64)
    if invoice[0] == "C" and invoice[1:].isdigit():
        return ReturnRecord(
            line_no=row.line_no,
            return_id=invoice,
            kind="cancellation",
            returned_at=at,
            order_id=None,
            customer_id=customer,
            sku=sku,
            quantity=abs(quantity),
            amount=abs(quantity) * abs(price),
            country=country,
        )
    if not invoice.isdigit():
        raise RowError(
            "InvoiceNo",
            f"InvoiceNo {invoice!r} is neither an order (digits) nor a cancellation (C + digits)",
        )
    if quantity <= 0:
        raise RowError(
            "Quantity",
            f"Quantity {quantity} on order {invoice}: must be above 0; only cancellations "
            "(C...) may be negative",
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
        product_name=description,
        country=country,
    )


FORMAT = Format(
    "online-retail",
    partial(csv_rows, required=REQUIRED, aliases=ALIASES),
    parse,
    creates_customers=True,
)
