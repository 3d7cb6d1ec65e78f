"""Which customers and orders a batch names are already in the database, by natural key.

Rows of one file refer to each other by the store's own ids (customer ``external_id``,
order ``external_id``); the writers resolve those to database rows here, in bulk, and
read naive timestamps in the time zone of the customer they belong to. A reference
that resolves to nothing is rejected with one of the reasons below.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Connection

from ingest.bulk import lookup, lookup_from
from models.base import table
from models.store import Customer, Order


class KnownCustomer(NamedTuple):
    """A customer already in the database."""

    id: int
    time_zone: str


class KnownOrder(NamedTuple):
    """An order already in the database, with its customer (None: a guest order)."""

    id: int
    customer_id: int | None
    time_zone: str | None  # the customer's; None for a guest order


def known_customers(conn: Connection, keys: Iterable[str | None]) -> dict[str, KnownCustomer]:
    """external id -> the customer, for those of ``keys`` that exist (None keys are skipped)."""
    found = lookup(conn, Customer.external_id, keys, Customer.id, Customer.time_zone)
    return {key: KnownCustomer(*row) for key, row in found.items()}


def known_orders(conn: Connection, keys: Iterable[str | None]) -> dict[str, KnownOrder]:
    """external id -> the order, for those of ``keys`` that exist (None keys are skipped)."""
    orders, customers = table(Order), table(Customer)
    found = lookup_from(
        conn,
        orders.outerjoin(customers, customers.c.id == orders.c.customer_id),
        orders.c.external_id,
        keys,
        orders.c.id,
        orders.c.customer_id,
        customers.c.time_zone,
    )
    return {key: KnownOrder(*row) for key, row in found.items()}


def unknown_customer(external_id: str) -> str:
    return f"customer_id {external_id!r} is not a known customer; ingest customers first"


def unknown_order(external_id: str) -> str:
    return f"order_id {external_id!r} is not a known order; ingest orders first"
