"""Connections for report queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from models.dialect import local_work_mem

# PostgreSQL's default (4 MB a sort or hash) sends the groupings of millions of orders to
# disk; a report asks for more, for its own transaction only (like SET LOCAL).
WORK_MEM = "64MB"


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only use of the database, with room to sort on PostgreSQL."""
    with engine.connect() as conn:
        local_work_mem(conn, WORK_MEM)
        yield conn
