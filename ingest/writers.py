"""Bulk writes of one batch of records, idempotent by natural keys.

Each writer looks up which keys already exist (those rows are duplicates), inserts the
rest with ``ON CONFLICT DO NOTHING`` as a guard against a concurrent run, and returns
rows it had to reject (a reference to an unknown customer or order) with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ingest.records import (
    CustomerRecord,
    DeviceRecord,
    LineRecord,
    ReturnRecord,
    ShipmentRecord,
    TicketRecord,
)
from models.base import utcnow
from models.store import (
    Consent,
    Customer,
    Device,
    Order,
    OrderLine,
    OrderReturn,
    Product,
    ShipmentEvent,
    SupportTicket,
)

CHUNK = 500


@dataclass
class BatchResult:
    loaded: int = 0
    guest_lines: int = 0
    cancellations: int = 0
    duplicates: int = 0
    rejects: list[tuple[int, str | None, str]] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        self.loaded += other.loaded
        self.guest_lines += other.guest_lines
        self.cancellations += other.cancellations
        self.duplicates += other.duplicates
        self.rejects.extend(other.rejects)


def _table(model: Any) -> Table:
    return model.__table__


def insert_ignore(conn: Connection, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(dialect_insert(_table(model)).on_conflict_do_nothing(), list(rows))


def lookup(conn: Connection, key_col: Any, keys: Iterable[Any], value_col: Any) -> dict[Any, Any]:
    """Map existing ``key_col`` values to ``value_col``, querying in chunks of bound parameters."""
    keys = list(dict.fromkeys(k for k in keys if k is not None))
    found: dict[Any, Any] = {}
    for i in range(0, len(keys), CHUNK):
        part = keys[i : i + CHUNK]
        found.update(conn.execute(select(key_col, value_col).where(key_col.in_(part))).all())
    return found


def customer_ids(conn: Connection, keys: Iterable[str]) -> dict[str, int]:
    return lookup(conn, Customer.external_id, keys, Customer.id)


def write_customers(conn: Connection, records: list[CustomerRecord], *, zone: str) -> BatchResult:
    result = BatchResult()
    existing = customer_ids(conn, (r.external_id for r in records))
    fresh: dict[str, CustomerRecord] = {}
    for rec in records:
        if rec.external_id in existing or rec.external_id in fresh:
            result.duplicates += 1
        else:
            fresh[rec.external_id] = rec
    now = utcnow()
    insert_ignore(
        conn,
        Customer,
        [
            {
                "external_id": r.external_id,
                "email": r.email,
                "first_name": r.first_name,
                "last_name": r.last_name,
                "locale": r.locale,
                "time_zone": r.time_zone,
                "country": r.country,
                "birthday": r.birthday,
                "created_at": r.created_at or now,
            }
            for r in fresh.values()
        ],
    )
    result.loaded = len(fresh)
    ids = customer_ids(conn, fresh)
    insert_ignore(
        conn,
        Consent,
        [
            {
                "customer_id": ids[r.external_id],
                "channel": channel,
                "status": status,
                "source": r.consent_source,
                "updated_at": r.created_at or now,
            }
            for r in fresh.values()
            for channel, status in r.consents.items()
        ],
    )
    return result


def _ensure_customers(
    conn: Connection, records: Iterable[LineRecord | ReturnRecord], zone: str
) -> None:
    """Formats that introduce customers (Online Retail, CDNOW) create them on first sight."""
    first: dict[str, str | None] = {}
    for r in records:
        if r.customer_id is not None and r.customer_id not in first:
            first[r.customer_id] = r.country
    missing = set(first) - set(customer_ids(conn, first))
    now = utcnow()
    insert_ignore(
        conn,
        Customer,
        [
            {
                "external_id": c,
                "country": first[c],
                "locale": "en",
                "time_zone": zone,
                "created_at": now,
            }
            for c in sorted(missing)
        ],
    )


def write_orders(
    conn: Connection,
    lines: list[LineRecord],
    returns: list[ReturnRecord],
    *,
    create_customers: bool,
    zone: str,
) -> BatchResult:
    result = BatchResult()
    if create_customers:
        _ensure_customers(conn, [*lines, *returns], zone)
    customers = customer_ids(conn, [r.customer_id for r in [*lines, *returns]])

    good: list[LineRecord] = []
    for rec in lines:
        if rec.customer_id is not None and rec.customer_id not in customers:
            result.rejects.append((rec.line_no, "customer_id", _unknown_customer(rec.customer_id)))
        else:
            good.append(rec)

    insert_ignore(
        conn,
        Product,
        [
            {"sku": sku, "name": r.product_name, "category": r.category}
            for sku, r in {r.sku: r for r in good}.items()
        ],
    )
    orders: dict[str, LineRecord] = {}
    for rec in good:
        orders.setdefault(rec.order_id, rec)
    before = lookup(conn, Order.external_id, orders, Order.id)
    insert_ignore(
        conn,
        Order,
        [
            {
                "external_id": oid,
                "customer_id": customers.get(r.customer_id) if r.customer_id else None,
                "ordered_at": r.ordered_at,
                "currency": r.currency,
                "country": r.country,
                "total": 0.0,
                "items": 0,
            }
            for oid, r in orders.items()
            if oid not in before
        ],
    )
    order_ids = lookup(conn, Order.external_id, [*orders, *(r.order_id for r in returns)], Order.id)
    line_keys = [(order_ids[r.order_id], r.line_no) for r in good]
    # Only orders that existed before this batch can already hold some of these lines.
    existing = _existing_lines(conn, list(before.values()))
    new_lines = []
    for rec, key in zip(good, line_keys, strict=True):
        if key in existing:
            result.duplicates += 1
            continue
        new_lines.append(
            {
                "order_id": key[0],
                "line_no": rec.line_no,
                "sku": rec.sku,
                "quantity": rec.quantity,
                "unit_price": rec.unit_price,
            }
        )
        if rec.customer_id is None:
            result.guest_lines += 1
        else:
            result.loaded += 1
    insert_ignore(conn, OrderLine, new_lines)
    result.add(_write_returns(conn, returns, customers, order_ids))
    return result


def _existing_lines(conn: Connection, order_ids: list[int]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for i in range(0, len(order_ids), CHUNK):
        part = order_ids[i : i + CHUNK]
        rows = conn.execute(
            select(OrderLine.order_id, OrderLine.line_no).where(OrderLine.order_id.in_(part))
        )
        found.update((row[0], row[1]) for row in rows)
    return found


def _unknown_customer(external_id: str) -> str:
    return f"customer_id {external_id!r} is not a known customer; ingest customers first"


def _write_returns(
    conn: Connection,
    returns: list[ReturnRecord],
    customers: dict[str, int],
    order_ids: dict[str, int],
) -> BatchResult:
    result = BatchResult()
    existing = set(
        lookup(conn, OrderReturn.external_id, (r.return_id for r in returns), OrderReturn.id)
    )
    owners = dict(
        lookup(
            conn, Order.id, (order_ids.get(r.order_id or "") for r in returns), Order.customer_id
        )
    )
    rows = []
    for rec in returns:
        if rec.return_id in existing:
            result.duplicates += 1
            continue
        order_id = order_ids.get(rec.order_id) if rec.order_id else None
        if rec.order_id and order_id is None:
            result.rejects.append(
                (
                    rec.line_no,
                    "order_id",
                    f"order_id {rec.order_id!r} is not a known order; a return names its order",
                )
            )
            continue
        if rec.customer_id is not None and rec.customer_id not in customers:
            result.rejects.append((rec.line_no, "customer_id", _unknown_customer(rec.customer_id)))
            continue
        existing.add(rec.return_id)
        customer = customers.get(rec.customer_id) if rec.customer_id else owners.get(order_id)
        rows.append(
            {
                "external_id": rec.return_id,
                "customer_id": customer,
                "order_id": order_id,
                "kind": rec.kind,
                "returned_at": rec.returned_at,
                "sku": rec.sku,
                "quantity": rec.quantity,
                "amount": rec.amount,
            }
        )
        if rec.kind == "cancellation":
            result.cancellations += 1
        else:
            result.loaded += 1
    insert_ignore(conn, OrderReturn, rows)
    return result


def write_tickets(conn: Connection, records: list[TicketRecord]) -> BatchResult:
    result = BatchResult()
    customers = customer_ids(conn, (r.customer_id for r in records))
    existing = set(
        lookup(conn, SupportTicket.external_id, (r.ticket_id for r in records), SupportTicket.id)
    )
    rows = []
    for r in records:
        if r.customer_id not in customers:
            result.rejects.append((r.line_no, "customer_id", _unknown_customer(r.customer_id)))
        elif r.ticket_id in existing:
            result.duplicates += 1
        else:
            existing.add(r.ticket_id)
            rows.append(
                {
                    "external_id": r.ticket_id,
                    "customer_id": customers[r.customer_id],
                    "channel": r.channel,
                    "topic": r.topic,
                    "opened_at": r.opened_at,
                    "first_response_at": r.first_response_at,
                    "resolved_at": r.resolved_at,
                    "touches": r.touches,
                }
            )
    insert_ignore(conn, SupportTicket, rows)
    result.loaded = len(rows)
    return result


def write_shipments(conn: Connection, records: list[ShipmentRecord]) -> BatchResult:
    result = BatchResult()
    orders = lookup(conn, Order.external_id, (r.order_id for r in records), Order.id)
    keys = [(orders.get(r.order_id), r.status, r.occurred_at) for r in records]
    existing: set[tuple[Any, ...]] = set()
    known = [k for k in keys if k[0] is not None]
    for i in range(0, len(known), CHUNK):
        part = known[i : i + CHUNK]
        existing.update(
            (row[0], row[1], row[2])
            for row in conn.execute(
                select(
                    ShipmentEvent.order_id, ShipmentEvent.status, ShipmentEvent.occurred_at
                ).where(ShipmentEvent.order_id.in_({k[0] for k in part}))
            )
        )
    rows = []
    for r, key in zip(records, keys, strict=True):
        if key[0] is None:
            result.rejects.append(
                (
                    r.line_no,
                    "order_id",
                    f"order_id {r.order_id!r} is not a known order; ingest orders first",
                )
            )
        elif key in existing:
            result.duplicates += 1
        else:
            existing.add(key)
            rows.append(
                {
                    "order_id": key[0],
                    "status": r.status,
                    "occurred_at": r.occurred_at,
                    "eta": r.eta,
                    "carrier": r.carrier,
                }
            )
    insert_ignore(conn, ShipmentEvent, rows)
    result.loaded = len(rows)
    return result


def write_devices(conn: Connection, records: list[DeviceRecord]) -> BatchResult:
    result = BatchResult()
    customers = customer_ids(conn, (r.customer_id for r in records))
    existing = set(lookup(conn, Device.token, (r.token for r in records), Device.id))
    rows = []
    now = utcnow()
    for r in records:
        if r.customer_id not in customers:
            result.rejects.append((r.line_no, "customer_id", _unknown_customer(r.customer_id)))
        elif r.token in existing:
            result.duplicates += 1
        else:
            existing.add(r.token)
            rows.append(
                {
                    "customer_id": customers[r.customer_id],
                    "platform": r.platform,
                    "token": r.token,
                    "enabled": True,
                    "created_at": r.created_at or now,
                }
            )
    insert_ignore(conn, Device, rows)
    result.loaded = len(rows)
    return result
