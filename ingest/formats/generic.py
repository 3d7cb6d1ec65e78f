"""homecoming's own CSV layout, one file per kind (docs/formats.md)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ingest import values as v
from ingest.errors import IngestError, RowError
from ingest.formats import Format
from ingest.records import (
    CustomerRecord,
    DeviceRecord,
    LineRecord,
    Record,
    ReturnRecord,
    ShipmentRecord,
    TicketRecord,
)
from ingest.source import Row, check_fields, csv_rows

CONSENT = ("subscribed", "unsubscribed", "bounced", "complained")
CHANNELS = ("email", "chat", "phone", "social")
PLATFORMS = ("ios", "android")
SHIPMENT_STATUSES = (
    "placed",
    "confirmed",
    "packed",
    "shipped",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "delayed",
)
REQUIRED = {
    "customers": ("customer_id",),
    "orders": ("order_id", "ordered_at", "sku", "quantity", "unit_price"),
    "interactions": ("ticket_id", "customer_id", "channel", "opened_at"),
    "shipments": ("order_id", "status", "occurred_at"),
    "devices": ("customer_id", "platform", "token"),
}


def customer(row: Row) -> CustomerRecord:
    check_fields(row)
    r = row.values
    consents = {}
    for channel in ("email", "push"):
        status = r.get(f"{channel}_consent")
        if status:
            consents[channel] = v.choice(status, f"{channel}_consent", CONSENT)
    zone = v.time_zone(v.optional(r, "time_zone", 64))
    created = v.optional_timestamp(r, "created_at")
    return CustomerRecord(
        line_no=row.line_no,
        external_id=v.required(r, "customer_id"),
        email=v.email(v.optional(r, "email", 320)),
        first_name=v.one_line(v.optional(r, "first_name", 100), "first_name"),
        last_name=v.one_line(v.optional(r, "last_name", 100), "last_name"),
        locale=v.locale(v.optional(r, "locale", 35)),
        time_zone=zone,
        country=v.optional(r, "country", 64),
        birthday=v.birthday(v.optional(r, "birthday")),
        created_at=v.localize(created, zone) if created else None,
        consents=consents,
        consent_source=v.optional(r, "consent_source", 64) or "import",
    )


def order_line(row: Row, *, default_currency: str) -> LineRecord | ReturnRecord:
    check_fields(row)
    r = row.values
    kind = v.choice(v.optional(r, "type"), "type", ("order", "return", "cancellation"), "order")
    order_id = v.required(r, "order_id")
    at = v.timestamp(v.required(r, "ordered_at"), "ordered_at")
    sku = v.required(r, "sku")
    quantity = v.integer(v.required(r, "quantity"), "quantity")
    if quantity <= 0:
        raise RowError(
            "quantity",
            f"quantity {quantity} must be above 0 (a return is a row with type=return "
            "and a positive quantity)",
        )
    price = v.number(v.required(r, "unit_price"), "unit_price")
    if price < 0:
        raise RowError(
            "unit_price",
            f"unit_price {price:g} is negative; a price must be 0 or more (a refund is a row "
            "with type=return)",
        )
    customer_id = v.optional(r, "customer_id", 64)
    if kind != "order":
        return ReturnRecord(
            line_no=row.line_no,
            return_id=v.required(r, "return_id", 88),
            kind=kind,
            returned_at=at,
            order_id=order_id,
            customer_id=customer_id,
            sku=sku,
            quantity=quantity,
            amount=quantity * price,
        )
    return LineRecord(
        line_no=row.line_no,
        order_id=order_id,
        customer_id=customer_id,
        ordered_at=at,
        sku=sku,
        quantity=quantity,
        unit_price=price,
        currency=v.currency(v.optional(r, "currency"), default_currency),
        product_name=v.optional(r, "product_name"),
        category=v.optional(r, "category", 100),
    )


def ticket(row: Row) -> TicketRecord:
    check_fields(row)
    r = row.values
    return TicketRecord(
        line_no=row.line_no,
        ticket_id=v.required(r, "ticket_id"),
        customer_id=v.required(r, "customer_id"),
        channel=v.choice(v.required(r, "channel"), "channel", CHANNELS),
        topic=v.optional(r, "topic", 100),
        opened_at=v.timestamp(v.required(r, "opened_at"), "opened_at"),
        first_response_at=v.optional_timestamp(r, "first_response_at"),
        resolved_at=v.optional_timestamp(r, "resolved_at"),
        touches=v.integer(r.get("touches") or "1", "touches", minimum=1),
    )


def shipment(row: Row) -> ShipmentRecord:
    check_fields(row)
    r = row.values
    return ShipmentRecord(
        line_no=row.line_no,
        order_id=v.required(r, "order_id"),
        status=v.choice(v.required(r, "status"), "status", SHIPMENT_STATUSES),
        occurred_at=v.timestamp(v.required(r, "occurred_at"), "occurred_at"),
        eta=v.optional_timestamp(r, "eta"),
        carrier=v.optional(r, "carrier", 64),
    )


def device(row: Row) -> DeviceRecord:
    check_fields(row)
    r = row.values
    return DeviceRecord(
        line_no=row.line_no,
        customer_id=v.required(r, "customer_id"),
        platform=v.choice(v.required(r, "platform"), "platform", PLATFORMS),
        token=v.required(r, "token", 512),
        created_at=v.optional_timestamp(r, "created_at"),
    )


def format_for(kind: str, *, default_currency: str) -> Format:
    parsers: dict[str, Callable[[Row], Record | None]] = {
        "customers": customer,
        "orders": partial(order_line, default_currency=default_currency),
        "interactions": ticket,
        "shipments": shipment,
        "devices": device,
    }
    if kind not in parsers:
        raise IngestError(f"unknown kind {kind!r}; expected one of {', '.join(parsers)}")
    return Format("generic", partial(csv_rows, required=REQUIRED[kind]), parsers[kind])
