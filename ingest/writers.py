"""Bulk writes of one batch of records, idempotent by natural keys.

Each writer looks up which keys already exist (those rows are duplicates), inserts the
rest with ``ON CONFLICT DO NOTHING`` as a guard against a concurrent run, and returns
the rows it had to reject (a reference to an unknown customer or order) with the reason.
Naive timestamps are read here, in the time zone of the customer they belong to.

Natural keys: customer ``external_id``; order ``external_id``; order line (order, position
in the order); return ``external_id``; ticket ``external_id``; device ``token``; shipment
event (order, status, time).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from ingest import values as v
from ingest.bulk import chunks, insert_ignore, key_in, lookup, lookup_from
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


@dataclass
class BatchResult:
    loaded: int = 0
    guest_lines: int = 0
    cancellations: int = 0
    duplicates: int = 0
    rejects: list[tuple[int, str | None, str]] = field(default_factory=list)
    created: Counter[str] = field(default_factory=Counter)

    def add(self, other: BatchResult) -> None:
        self.loaded += other.loaded
        self.guest_lines += other.guest_lines
        self.cancellations += other.cancellations
        self.duplicates += other.duplicates
        self.rejects.extend(other.rejects)
        self.created.update(other.created)


def customer_ids(conn: Connection, keys: Iterable[str | None]) -> dict[str, tuple[int, str]]:
    """external id -> (id, time zone)."""
    return lookup(conn, Customer.external_id, keys, Customer.id, Customer.time_zone)


def order_ids(conn: Connection, keys: Iterable[str | None]) -> dict[str, tuple[int, Any, Any]]:
    """external id -> (id, customer id, the customer's time zone or None)."""
    orders, customers = Order.__table__, Customer.__table__
    return lookup_from(
        conn,
        orders.outerjoin(customers, customers.c.id == orders.c.customer_id),
        orders.c.external_id,
        keys,
        orders.c.id,
        orders.c.customer_id,
        customers.c.time_zone,
    )


def _unknown_customer(external_id: str) -> str:
    return f"customer_id {external_id!r} is not a known customer; ingest customers first"


def _unknown_order(external_id: str) -> str:
    return f"order_id {external_id!r} is not a known order; ingest orders first"


def _local(value: datetime | None, zone: str | None, default: str) -> datetime | None:
    return None if value is None else v.localize(value, zone or default)


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
    result.loaded = result.created["customers"] = len(fresh)
    ids = customer_ids(conn, fresh)
    consents = [
        {
            "customer_id": ids[r.external_id][0],
            "channel": channel,
            "status": status,
            "source": r.consent_source,
            "updated_at": r.created_at or now,
        }
        for r in fresh.values()
        for channel, status in r.consents.items()
    ]
    insert_ignore(conn, Consent, consents)
    result.created["consents"] = len(consents)
    return result


def _ensure_customers(
    conn: Connection, records: Iterable[LineRecord | ReturnRecord], zone: str
) -> int:
    """Formats that introduce customers (Online Retail, CDNOW) create them on first sight.

    ``created_at`` is the customer's earliest line in the batch that introduces them; the
    time zone comes from the country when it has only one (United Kingdom ->
    Europe/London), else the default; the locale is the default ``en``.
    """
    first: dict[str, tuple[str | None, datetime]] = {}
    for r in records:
        if r.customer_id is None:
            continue
        at = r.ordered_at if isinstance(r, LineRecord) else r.returned_at
        seen = first.get(r.customer_id)
        if seen is None or at < seen[1]:
            first[r.customer_id] = (seen[0] if seen else r.country, at)
    missing = sorted(set(first) - set(customer_ids(conn, first)))
    insert_ignore(
        conn,
        Customer,
        [
            {
                "external_id": c,
                "country": first[c][0],
                "locale": "en",
                "time_zone": v.zone_for_country(first[c][0]) or zone,
                "created_at": v.localize(first[c][1], zone),
            }
            for c in missing
        ],
    )
    return len(missing)


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
        result.created["customers"] = _ensure_customers(conn, [*lines, *returns], zone)
    customers = customer_ids(conn, [r.customer_id for r in [*lines, *returns]])

    good: list[LineRecord] = []
    for rec in lines:
        if rec.customer_id is None:
            rec.ordered_at = v.localize(rec.ordered_at, zone)
        elif rec.customer_id in customers:
            rec.ordered_at = v.localize(rec.ordered_at, customers[rec.customer_id][1])
        else:
            result.rejects.append((rec.line_no, "customer_id", _unknown_customer(rec.customer_id)))
            continue
        good.append(rec)

    result.created["products"] = _write_products(conn, good)
    heads: dict[str, LineRecord] = {}
    for rec in good:
        heads.setdefault(rec.order_id, rec)
    # Orders known before this batch: (id, customer, the customer's zone).
    known = order_ids(conn, [*heads, *(r.order_id for r in returns)])

    def buyer(rec: LineRecord | None) -> int | None:
        return customers[rec.customer_id][0] if rec and rec.customer_id else None

    # Only orders known before this batch can already hold some of these lines.
    existing = _existing_lines(conn, [o[0] for o in known.values()])
    stored = lookup(conn, Order.id, [o[0] for o in known.values()], Order.items)
    items = {oid: stored.get(o[0], 0) for oid, o in known.items()}  # an order's item count
    accepted: list[LineRecord] = []
    sums: dict[str, list[float]] = {}  # new order -> [total, items]
    for rec in good:
        owner = known[rec.order_id][1] if rec.order_id in known else buyer(heads[rec.order_id])
        if owner != buyer(rec):
            result.rejects.append((rec.line_no, "customer_id", _other_owner(rec, owner)))
            continue
        if (known.get(rec.order_id, (None,))[0], rec.position) not in existing:
            count = items.get(rec.order_id, 0) + rec.quantity
            if count > v.INT_MAX:  # the order's item count must fit its INTEGER column
                result.rejects.append((rec.line_no, "quantity", _too_many(rec)))
                continue
            items[rec.order_id] = count
        accepted.append(rec)
        if rec.order_id not in known:
            acc = sums.setdefault(rec.order_id, [0.0, 0])
            acc[0] += rec.quantity * rec.unit_price
            acc[1] += rec.quantity
    # A new order holds only this batch's lines, so its total is known before it is written.
    new_orders = [
        {
            "external_id": oid,
            "customer_id": buyer(r),
            "ordered_at": r.ordered_at,
            "currency": r.currency,
            "country": r.country,
            "total": sums[oid][0],
            "items": int(sums[oid][1]),
        }
        for oid, r in heads.items()
        if oid not in known
    ]
    insert_ignore(conn, Order, new_orders)
    result.created["orders"] = len(new_orders)
    ids = {oid: o[0] for oid, o in known.items()}
    ids.update(lookup(conn, Order.external_id, (o["external_id"] for o in new_orders), Order.id))
    new_lines = []
    for rec in accepted:
        order_id = ids[rec.order_id]
        if (order_id, rec.position) in existing:
            result.duplicates += 1
            continue
        new_lines.append(
            {
                "order_id": order_id,
                "line_no": rec.position,
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
    result.created["order_lines"] = len(new_lines)
    # Known orders that gained lines (an order spanning batches, or an overlapping export).
    grown = {known[r.order_id][0] for r in accepted if r.order_id in known}
    recompute_totals(conn, grown & {line["order_id"] for line in new_lines})
    orders = dict(known)
    for o in new_orders:
        head = heads[o["external_id"]]
        zone_of = customers[head.customer_id][1] if head.customer_id else None
        orders[o["external_id"]] = (ids[o["external_id"]], o["customer_id"], zone_of)
    result.add(_write_returns(conn, returns, customers, orders, zone))
    return result


def _other_owner(rec: LineRecord, owner: int | None) -> str:
    whose = "a guest order" if owner is None else "another customer's order"
    named = repr(rec.customer_id) if rec.customer_id else "no customer (a guest)"
    return (
        f"order_id {rec.order_id!r} is {whose}, but this line names {named}; "
        "every line of an order names the same customer_id"
    )


def _too_many(rec: LineRecord) -> str:
    return (
        f"quantity {rec.quantity} would bring order {rec.order_id!r} above {v.INT_MAX:,} items "
        "in all; check the quantity"
    )


def _write_products(conn: Connection, lines: list[LineRecord]) -> int:
    """New SKUs, named by their first line; known products are left as they are."""
    first: dict[str, LineRecord] = {}
    for r in lines:
        first.setdefault(r.sku, r)
    known = lookup(conn, Product.sku, first, Product.id)
    rows = [
        {"sku": sku, "name": r.product_name, "category": r.category}
        for sku, r in first.items()
        if sku not in known
    ]
    insert_ignore(conn, Product, rows)
    return len(rows)


def _existing_lines(conn: Connection, ids: list[int]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for part in chunks(ids, conn):
        rows = conn.execute(
            select(OrderLine.order_id, OrderLine.line_no).where(
                key_in(conn, OrderLine.order_id, part)
            )
        )
        found.update((row[0], row[1]) for row in rows)
    return found


def recompute_totals(conn: Connection, ids: Iterable[int]) -> None:
    """Order total and item count from their lines, computed by the database.

    One aggregate per chunk of orders joined back (``UPDATE … FROM``), rather than two
    correlated subqueries per order, which PostgreSQL plans badly on freshly loaded tables.
    An order whose lines are all free (price 0) ends with total 0.
    """
    lines, orders = OrderLine.__table__, Order.__table__
    for part in chunks(sorted(ids), conn):
        sums = (
            select(
                lines.c.order_id,
                func.sum(lines.c.quantity * lines.c.unit_price).label("total"),
                func.sum(lines.c.quantity).label("n_items"),
            )
            .where(key_in(conn, lines.c.order_id, part))
            .group_by(lines.c.order_id)
            .subquery()
        )
        conn.execute(
            update(orders)
            .where(orders.c.id == sums.c.order_id)
            .values(total=sums.c.total, items=sums.c.n_items)
        )


def _write_returns(
    conn: Connection,
    returns: list[ReturnRecord],
    customers: dict[str, tuple[int, str]],
    orders: dict[str, tuple[int, Any, Any]],
    zone: str,
) -> BatchResult:
    result = BatchResult()
    existing = set(
        lookup(conn, OrderReturn.external_id, (r.external_id for r in returns), OrderReturn.id)
    )
    rows = []
    for rec in returns:
        if rec.external_id in existing:
            result.duplicates += 1
            continue
        order = orders.get(rec.order_id) if rec.order_id else None
        if rec.order_id and order is None:
            result.rejects.append(
                (
                    rec.line_no,
                    "order_id",
                    f"{_unknown_order(rec.order_id)}; a return names its order",
                )
            )
            continue
        if rec.customer_id is not None and rec.customer_id not in customers:
            result.rejects.append((rec.line_no, "customer_id", _unknown_customer(rec.customer_id)))
            continue
        existing.add(rec.external_id)
        if rec.customer_id is not None:
            customer, customer_zone = customers[rec.customer_id]
        else:
            customer, customer_zone = (order[1], order[2]) if order else (None, None)
        rows.append(
            {
                "external_id": rec.external_id,
                "customer_id": customer,
                "order_id": order[0] if order else None,
                "kind": rec.kind,
                "returned_at": v.localize(rec.returned_at, customer_zone or zone),
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
    result.created["returns"] = len(rows)
    return result


def write_tickets(conn: Connection, records: list[TicketRecord], *, zone: str) -> BatchResult:
    result = BatchResult()
    customers = customer_ids(conn, (r.customer_id for r in records))
    existing = set(
        lookup(conn, SupportTicket.external_id, (r.ticket_id for r in records), SupportTicket.id)
    )
    rows = []
    for r in records:
        if r.customer_id not in customers:
            result.rejects.append((r.line_no, "customer_id", _unknown_customer(r.customer_id)))
            continue
        if r.ticket_id in existing:
            result.duplicates += 1
            continue
        customer, customer_zone = customers[r.customer_id]
        opened = v.localize(r.opened_at, customer_zone)
        first = _local(r.first_response_at, customer_zone, zone)
        resolved = _local(r.resolved_at, customer_zone, zone)
        late = [(n, t) for n, t in (("first_response_at", first), ("resolved_at", resolved)) if t]
        early = next((n for n, t in late if t < opened), None)
        if early:
            result.rejects.append(
                (r.line_no, early, f"{early} is before opened_at; it must be at or after it")
            )
            continue
        existing.add(r.ticket_id)
        rows.append(
            {
                "external_id": r.ticket_id,
                "customer_id": customer,
                "channel": r.channel,
                "topic": r.topic,
                "opened_at": opened,
                "first_response_at": first,
                "resolved_at": resolved,
                "touches": r.touches,
            }
        )
    insert_ignore(conn, SupportTicket, rows)
    result.loaded = result.created["tickets"] = len(rows)
    return result


def write_shipments(conn: Connection, records: list[ShipmentRecord], *, zone: str) -> BatchResult:
    result = BatchResult()
    orders = order_ids(conn, (r.order_id for r in records))
    keyed: list[tuple[ShipmentRecord, tuple[Any, ...] | None]] = []
    for r in records:
        order = orders.get(r.order_id)
        if order is None:
            keyed.append((r, None))
            continue
        r.occurred_at = v.localize(r.occurred_at, order[2] or zone)
        r.eta = _local(r.eta, order[2], zone)
        keyed.append((r, (order[0], r.status, r.occurred_at)))
    existing: set[tuple[Any, ...]] = set()
    for part in chunks(sorted({k[0] for _, k in keyed if k is not None}), conn):
        existing.update(
            (row[0], row[1], row[2])
            for row in conn.execute(
                select(
                    ShipmentEvent.order_id, ShipmentEvent.status, ShipmentEvent.occurred_at
                ).where(key_in(conn, ShipmentEvent.order_id, part))
            )
        )
    rows = []
    for r, key in keyed:
        if key is None:
            result.rejects.append((r.line_no, "order_id", _unknown_order(r.order_id)))
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
    result.loaded = result.created["shipment_events"] = len(rows)
    return result


def write_devices(conn: Connection, records: list[DeviceRecord], *, zone: str) -> BatchResult:
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
            customer, customer_zone = customers[r.customer_id]
            rows.append(
                {
                    "customer_id": customer,
                    "platform": r.platform,
                    "token": r.token,
                    "enabled": True,
                    "created_at": _local(r.created_at, customer_zone, zone) or now,
                }
            )
    insert_ignore(conn, Device, rows)
    result.loaded = result.created["devices"] = len(rows)
    return result
