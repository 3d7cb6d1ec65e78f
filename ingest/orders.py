"""Orders of one batch: order lines grouped into orders, new products, returns and cancellations.

The biggest of the domain writers (:mod:`ingest.writers` hands it the order files). Lines
are keyed by (order, position in the order), so the same order read again (a re-run, an
export that overlaps the last one) finds its lines as duplicates; an order spanning
batches gets its total recomputed by the database. Formats that introduce customers
(Online Retail, CDNOW) create them here on first sight. The records are read, never
changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select, update

from ingest import values as v
from ingest.bulk import chunks, existing_rows, insert_ignore, key_in, lookup
from ingest.keys import (
    KnownCustomer,
    KnownOrder,
    known_customers,
    known_orders,
    unknown_customer,
    unknown_order,
)
from ingest.records import BatchResult, LineRecord, Reject, ReturnRecord
from models.base import table
from models.store import Customer, Order, OrderLine, OrderReturn, Product


def write_orders(
    conn: Connection,
    lines: list[LineRecord],
    returns: list[ReturnRecord],
    *,
    create_customers: bool,
    zone: str,
) -> BatchResult:
    """Order lines grouped into orders (with their new products), then returns.

    An order takes its time, currency and country from its first line in the batch, the
    time read in its customer's zone (``zone`` for a guest order). A line naming an unknown
    customer, or another customer than its order, is rejected.
    """
    result = BatchResult()
    records: list[LineRecord | ReturnRecord] = [*lines, *returns]
    if create_customers:
        result.created["customers"] = _ensure_customers(conn, records, zone)
    customers = known_customers(conn, [r.customer_id for r in records])
    good: list[LineRecord] = []
    for rec in lines:
        if rec.customer_id is not None and rec.customer_id not in customers:
            result.rejects.append(
                Reject(rec.line_no, "customer_id", unknown_customer(rec.customer_id))
            )
        else:
            good.append(rec)
    result.created["products"] = _write_products(conn, good)
    heads: dict[str, LineRecord] = {}
    for rec in good:
        heads.setdefault(rec.order_id, rec)
    known = known_orders(conn, [*heads, *(r.order_id for r in returns)])
    batch = _OrderBatch(conn, zone, customers, heads, known, result)
    accepted, tallies = batch.accept(good)
    new = batch.insert_orders(tallies)
    batch.insert_lines(accepted, new)
    result.add(_write_returns(conn, returns, customers, {**known, **new}, zone))
    return result


@dataclass
class _Tally:
    """A new order's total and item count, summed over this batch's lines."""

    total: float = 0.0
    items: int = 0


@dataclass
class _OrderBatch:
    """The order lines of one batch with their references resolved, on their way in."""

    conn: Connection
    zone: str
    customers: dict[str, KnownCustomer]
    heads: dict[str, LineRecord]  # each order's first good line
    known: dict[str, KnownOrder]  # orders in the database before this batch
    result: BatchResult
    existing: set[tuple[Any, ...]] = field(init=False)  # (order id, line_no) already stored

    def __post_init__(self) -> None:
        # Only orders known before this batch can already hold some of these lines.
        self.existing = existing_rows(
            self.conn, OrderLine.order_id, [o.id for o in self.known.values()], OrderLine.line_no
        )

    def buyer(self, rec: LineRecord) -> int | None:
        return self.customers[rec.customer_id].id if rec.customer_id else None

    def accept(self, good: list[LineRecord]) -> tuple[list[LineRecord], dict[str, _Tally]]:
        """Lines that keep to their order's customer and item count; new orders' tallies."""
        stored = lookup(self.conn, Order.id, [o.id for o in self.known.values()], Order.items)
        items = {oid: stored.get(o.id, 0) for oid, o in self.known.items()}  # item counts
        accepted: list[LineRecord] = []
        tallies: dict[str, _Tally] = {}
        for rec in good:
            order = self.known.get(rec.order_id)
            owner = order.customer_id if order else self.buyer(self.heads[rec.order_id])
            if owner != self.buyer(rec):
                self.result.rejects.append(
                    Reject(rec.line_no, "customer_id", _other_owner(rec, owner))
                )
                continue
            if (order.id if order else None, rec.position) not in self.existing:
                count = items.get(rec.order_id, 0) + rec.quantity
                if count > v.INT_MAX:  # the order's item count must fit its INTEGER column
                    self.result.rejects.append(Reject(rec.line_no, "quantity", _too_many(rec)))
                    continue
                items[rec.order_id] = count
            accepted.append(rec)
            if order is None:
                tally = tallies.setdefault(rec.order_id, _Tally())
                tally.total += rec.quantity * rec.unit_price
                tally.items += rec.quantity
        return accepted, tallies

    def insert_orders(self, tallies: dict[str, _Tally]) -> dict[str, KnownOrder]:
        """The batch's new orders; a new order holds only this batch's lines, so its total
        is known before it is written."""
        fresh = {oid: head for oid, head in self.heads.items() if oid not in self.known}
        rows = [
            {
                "external_id": oid,
                "customer_id": self.buyer(head),
                "ordered_at": v.localize(
                    head.ordered_at,
                    self.zone
                    if head.customer_id is None
                    else self.customers[head.customer_id].time_zone,
                ),
                "currency": head.currency,
                "country": head.country,
                "total": tallies[oid].total,
                "items": tallies[oid].items,
            }
            for oid, head in fresh.items()
        ]
        insert_ignore(self.conn, Order, rows)
        self.result.created["orders"] = len(rows)
        ids = lookup(self.conn, Order.external_id, fresh, Order.id)
        return {
            oid: KnownOrder(
                ids[oid],
                self.buyer(head),
                self.customers[head.customer_id].time_zone if head.customer_id else None,
            )
            for oid, head in fresh.items()
        }

    def insert_lines(self, accepted: list[LineRecord], new: dict[str, KnownOrder]) -> None:
        """The accepted lines not yet stored; known orders that gained some get new totals."""
        ids = {oid: o.id for oid, o in self.known.items()}
        ids.update({oid: o.id for oid, o in new.items()})
        rows = []
        for rec in accepted:
            order_id = ids[rec.order_id]
            if (order_id, rec.position) in self.existing:
                self.result.duplicates += 1
                continue
            rows.append(
                {
                    "order_id": order_id,
                    "line_no": rec.position,
                    "sku": rec.sku,
                    "quantity": rec.quantity,
                    "unit_price": rec.unit_price,
                }
            )
            if rec.customer_id is None:
                self.result.guest_lines += 1
            else:
                self.result.loaded += 1
        insert_ignore(self.conn, OrderLine, rows)
        self.result.created["order_lines"] = len(rows)
        # Known orders that gained lines (an order spanning batches, or an overlapping export).
        grown = {self.known[r.order_id].id for r in accepted if r.order_id in self.known}
        recompute_totals(self.conn, grown & {row["order_id"] for row in rows})


class _FirstSight(NamedTuple):
    """Where and when a customer unknown to the database first appears in a batch."""

    country: str | None
    at: datetime


def _ensure_customers(
    conn: Connection, records: Iterable[LineRecord | ReturnRecord], zone: str
) -> int:
    """Formats that introduce customers (Online Retail, CDNOW) create them on first sight.

    ``created_at`` is the customer's earliest line in the batch that introduces them; the
    time zone comes from the country when it has only one (United Kingdom ->
    Europe/London), else the default; the locale is the default ``en``.
    """
    first: dict[str, _FirstSight] = {}
    for r in records:
        if r.customer_id is None:
            continue
        at = r.ordered_at if isinstance(r, LineRecord) else r.returned_at
        seen = first.get(r.customer_id)
        if seen is None or at < seen.at:
            first[r.customer_id] = _FirstSight(seen.country if seen else r.country, at)
    missing = sorted(set(first) - set(known_customers(conn, first)))
    insert_ignore(
        conn,
        Customer,
        [
            {
                "external_id": c,
                "country": first[c].country,
                "locale": "en",
                "time_zone": v.zone_for_country(first[c].country) or zone,
                "created_at": v.localize(first[c].at, zone),
            }
            for c in missing
        ],
    )
    return len(missing)


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


def recompute_totals(conn: Connection, ids: Iterable[int]) -> None:
    """Order total and item count from their lines, computed by the database.

    One aggregate per chunk of orders joined back (``UPDATE … FROM``), rather than two
    correlated subqueries per order, which PostgreSQL plans badly on freshly loaded tables.
    An order whose lines are all free (price 0) ends with total 0.
    """
    lines, orders = table(OrderLine), table(Order)
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
    customers: dict[str, KnownCustomer],
    orders: dict[str, KnownOrder],
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
            reason = f"{unknown_order(rec.order_id)}; a return names its order"
            result.rejects.append(Reject(rec.line_no, "order_id", reason))
            continue
        if rec.customer_id is not None and rec.customer_id not in customers:
            result.rejects.append(
                Reject(rec.line_no, "customer_id", unknown_customer(rec.customer_id))
            )
            continue
        existing.add(rec.external_id)
        customer: int | None
        customer_zone: str | None
        if rec.customer_id is not None:
            customer, customer_zone = customers[rec.customer_id]
        else:
            customer, customer_zone = (
                (order.customer_id, order.time_zone) if order else (None, None)
            )
        rows.append(
            {
                "external_id": rec.external_id,
                "customer_id": customer,
                "order_id": order.id if order else None,
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
