"""Bulk reads and writes on SQLite and PostgreSQL, fast and idempotent.

The generic toolkit under the domain writers (:mod:`ingest.writers`), knowing no table of
its own. ``insert_ignore`` skips rows whose unique key exists (a re-run, a concurrent
run): on SQLite through the driver's ``executemany``, on PostgreSQL through COPY for big
batches. Lookups (``lookup``, ``lookup_from``, ``existing_rows``) go in chunks (SQLite
``IN``) or as one array parameter (PostgreSQL ``= ANY``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Table, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.schema import ColumnDefault
from sqlmodel import SQLModel

from ingest.errors import DATABASE_ERRORS, store_error
from models.base import table as table_of
from models.dialect import insert_for, is_postgresql

T = TypeVar("T")

CHUNK = 2_000  # keys per SQLite IN (...): well below its limit of bound parameters
CHUNK_PG = 20_000  # keys per PostgreSQL = ANY(array): one parameter, so a whole batch
COPY_MIN = 500  # on PostgreSQL, batches at least this big go through COPY
# what a write may raise: the database's errors, and SQLite's OverflowError while binding
_WRITE_FAILURES: tuple[type[Exception], ...] = (OverflowError, *DATABASE_ERRORS)


def chunks(items: Sequence[T], conn: Connection) -> Iterator[Sequence[T]]:
    """``items`` in pieces small enough for one lookup query on this connection's database."""
    size = CHUNK_PG if is_postgresql(conn) else CHUNK
    for i in range(0, len(items), size):
        yield items[i : i + size]


def insert_ignore(
    conn: Connection, model: type[SQLModel], rows: Sequence[Mapping[str, object]]
) -> None:
    """Insert rows, skipping any whose unique key exists (SQLite and PostgreSQL alike).

    A database error comes out as :class:`StoreError` naming the table, never the values.
    """
    if not rows:
        return
    table = table_of(model)
    try:
        if is_postgresql(conn):
            if len(rows) >= COPY_MIN:
                _copy_ignore(conn, table, rows)
            else:
                conn.execute(insert_for(conn, table).on_conflict_do_nothing(), list(rows))
        else:
            _sqlite_ignore(conn, table, rows)
    except _WRITE_FAILURES as exc:
        raise store_error(exc, table=table.name) from None


def _sqlite_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, object]]) -> None:
    """SQLite: the statement compiled once, the rows through the driver's ``executemany``.

    Twice as fast as Core's executemany, which rebuilds every parameter set in Python;
    the columns' own bind processors still turn aware timestamps into stored UTC.
    """
    names = list(rows[0])
    compiled = (
        insert_for(conn, table)
        .on_conflict_do_nothing()
        .compile(dialect=conn.dialect, column_keys=names)
    )
    order = compiled.positiontup or []
    # Columns the rows leave out but the statement names take their Python-side default.
    defaults = {n: _default(table, n) for n in order if n not in rows[0]}
    if defaults:
        rows = [{**defaults, **row} for row in rows]
    get = itemgetter(*order) if len(order) > 1 else (lambda row: (row[order[0]],))
    convert = [
        (i, p)
        for i, p in enumerate(table.c[n].type.bind_processor(conn.dialect) for n in order)
        if p is not None
    ]
    params: list[Sequence[object]] = []
    for row in rows:
        values = get(row)
        if convert:
            values = list(values)
            for i, p in convert:
                values[i] = p(values[i])
        params.append(values)
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(compiled.string, params)
    finally:
        cursor.close()


def _copy_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, object]]) -> None:
    """PostgreSQL: COPY into a temporary table, then INSERT … SELECT … ON CONFLICT DO NOTHING.

    COPY is about ten times faster than a parameterised executemany. Identifiers come
    from our own table definitions; every value travels through COPY, never as SQL text.
    """
    names = list(rows[0])
    cols = [table.c[n] for n in names]
    stage = f"stage_{table.name}"
    col_list = ", ".join(f'"{n}"' for n in names)
    processors = [c.type.bind_processor(conn.dialect) for c in cols]
    conn.exec_driver_sql(f'DROP TABLE IF EXISTS pg_temp."{stage}"')
    conn.exec_driver_sql(
        f'CREATE TEMP TABLE "{stage}" ON COMMIT DROP AS '
        f'SELECT {col_list} FROM "{table.name}" WITH NO DATA'
    )
    cursor = conn.connection.cursor()
    try:
        with cursor.copy(f'COPY "{stage}" ({col_list}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(
                    [
                        p(row[n]) if p is not None else row[n]
                        for n, p in zip(names, processors, strict=True)
                    ]
                )
    finally:
        cursor.close()
    conn.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({col_list}) SELECT {col_list} FROM "{stage}" '
        "ON CONFLICT DO NOTHING"
    )


def _default(table: Table, name: str) -> object:
    default = table.c[name].default
    if not isinstance(default, ColumnDefault) or not (default.is_scalar or default.is_callable):
        raise ValueError(f"{table.name}.{name}: give a value, it has no Python-side default")
    return default.arg(None) if default.is_callable else default.arg


def lookup(conn: Connection, key_col: Any, keys: Iterable[Any], *cols: Any) -> dict[Any, Any]:
    """Map existing ``key_col`` values to ``cols`` (one value, or a tuple for several)."""
    return lookup_from(conn, None, key_col, keys, *cols)


def key_in(conn: Connection, column: Any, values: Sequence[object]) -> ColumnElement[bool]:
    """``column IN (…)``; on PostgreSQL ``= ANY(array)``, one parameter however many keys."""
    if is_postgresql(conn):
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def lookup_from(
    conn: Connection, source: Any, key_col: Any, keys: Iterable[Any], *cols: Any
) -> dict[Any, Any]:
    """:func:`lookup` over ``source`` (a join, say) rather than ``key_col``'s own table."""
    wanted = list(dict.fromkeys(k for k in keys if k is not None))
    found: dict[Any, Any] = {}
    for part in chunks(wanted, conn):
        query = select(key_col, *cols)
        if source is not None:
            query = query.select_from(source)
        for row in conn.execute(query.where(key_in(conn, key_col, part))):
            found[row[0]] = row[1] if len(cols) == 1 else tuple(row[1:])
    return found


def existing_rows(
    conn: Connection, key_col: Any, keys: Sequence[Any], *cols: Any
) -> set[tuple[Any, ...]]:
    """``(key, *cols)`` of every existing row whose ``key_col`` is among ``keys``.

    For natural keys of several columns: which (order, line number) or (order, status,
    time) already exist, one query per chunk of ``keys``.
    """
    found: set[tuple[Any, ...]] = set()
    for part in chunks(keys, conn):
        rows = conn.execute(select(key_col, *cols).where(key_in(conn, key_col, part)))
        found.update(tuple(row) for row in rows)
    return found
