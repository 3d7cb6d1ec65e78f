"""The domain writers: one batch of records into the store's tables, idempotent by natural keys.

Each writer looks up which keys already exist (those rows are duplicates), inserts the
rest with ``ON CONFLICT DO NOTHING`` as a guard against a concurrent run, and returns
the rows it had to reject (a reference to an unknown customer or order) with the reason.
Naive timestamps are read here, in the time zone of the customer they belong to. The
records are read, never changed. Orders, the biggest writer, live in :mod:`ingest.orders`
(re-exported here, so that every writer is ``writers.write_*``); the generic machinery is
:mod:`ingest.bulk`; resolving the store's ids to database rows is :mod:`ingest.keys`.

Natural keys: customer ``external_id``; order ``external_id``; order line (order, position
in the order); return ``external_id``; ticket ``external_id``; device ``token``; shipment
event (order, status, time).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection

from ingest import values as v
from ingest.bulk import existing_rows, insert_ignore, lookup
from ingest.keys import known_customers, known_orders, unknown_customer, unknown_order
from ingest.orders import write_orders
from ingest.records import (
    BatchResult,
    CustomerRecord,
    DeviceRecord,
    Reject,
    ShipmentRecord,
    TicketRecord,
)
from models.base import utcnow
from models.store import Consent, Customer, Device, ShipmentEvent, SupportTicket

__all__ = [
    "BatchResult",
    "write_customers",
    "write_devices",
    "write_orders",
    "write_shipments",
    "write_tickets",
]


def _local(value: datetime | None, zone: str | None, default: str) -> datetime | None:
    return None if value is None else v.localize(value, zone or default)


def write_customers(conn: Connection, records: list[CustomerRecord], *, zone: str) -> BatchResult:
    """New customers and their consents; a known ``external_id`` is a duplicate."""
    result = BatchResult()
    existing = known_customers(conn, (r.external_id for r in records))
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
    ids = known_customers(conn, fresh)
    consents = [
        {
            "customer_id": ids[r.external_id].id,
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


def write_tickets(conn: Connection, records: list[TicketRecord], *, zone: str) -> BatchResult:
    """Support tickets of known customers; responses may not come before the ticket."""
    result = BatchResult()
    customers = known_customers(conn, (r.customer_id for r in records))
    existing = set(
        lookup(conn, SupportTicket.external_id, (r.ticket_id for r in records), SupportTicket.id)
    )
    rows = []
    for r in records:
        if r.customer_id not in customers:
            result.rejects.append(Reject(r.line_no, "customer_id", unknown_customer(r.customer_id)))
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
            reason = f"{early} is before opened_at; it must be at or after it"
            result.rejects.append(Reject(r.line_no, early, reason))
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


class _Event(NamedTuple):
    """A shipment row of a known order, its times read in the order's customer's zone."""

    record: ShipmentRecord
    order_id: int
    occurred_at: datetime
    eta: datetime | None

    @property
    def key(self) -> tuple[int, str, datetime]:
        return (self.order_id, self.record.status, self.occurred_at)


def write_shipments(conn: Connection, records: list[ShipmentRecord], *, zone: str) -> BatchResult:
    """Shipment events of known orders, keyed by (order, status, time)."""
    result = BatchResult()
    orders = known_orders(conn, (r.order_id for r in records))
    events: list[_Event | None] = []  # one per record, None for an unknown order
    for r in records:
        order = orders.get(r.order_id)
        if order is None:
            events.append(None)
        else:
            occurred_at = v.localize(r.occurred_at, order.time_zone or zone)
            eta = _local(r.eta, order.time_zone, zone)
            events.append(_Event(r, order.id, occurred_at, eta))
    existing = existing_rows(
        conn,
        ShipmentEvent.order_id,
        sorted({e.order_id for e in events if e is not None}),
        ShipmentEvent.status,
        ShipmentEvent.occurred_at,
    )
    rows = []
    for r, event in zip(records, events, strict=True):
        if event is None:
            result.rejects.append(Reject(r.line_no, "order_id", unknown_order(r.order_id)))
        elif event.key in existing:
            result.duplicates += 1
        else:
            existing.add(event.key)
            rows.append(
                {
                    "order_id": event.order_id,
                    "status": r.status,
                    "occurred_at": event.occurred_at,
                    "eta": event.eta,
                    "carrier": r.carrier,
                }
            )
    insert_ignore(conn, ShipmentEvent, rows)
    result.loaded = result.created["shipment_events"] = len(rows)
    return result


def write_devices(conn: Connection, records: list[DeviceRecord], *, zone: str) -> BatchResult:
    """Push devices of known customers, keyed by token."""
    result = BatchResult()
    customers = known_customers(conn, (r.customer_id for r in records))
    existing = set(lookup(conn, Device.token, (r.token for r in records), Device.id))
    rows = []
    now = utcnow()
    for r in records:
        if r.customer_id not in customers:
            result.rejects.append(Reject(r.line_no, "customer_id", unknown_customer(r.customer_id)))
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
