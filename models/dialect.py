"""SQL that differs between SQLite (the embedded default) and PostgreSQL, in one place.

Everything else writes portable SQLAlchemy and calls these helpers wherever the two
databases need different SQL: inserts that skip existing keys, locks, per-transaction
memory, temporary tables, bulk loads, and date arithmetic on the stored UTC timestamps.
So a change of strategy on one backend, or a third backend, is read and made here.

The date helpers are ``FunctionElement``s compiled per dialect: they work inside any query,
and compiled with literal values they give the SQL text of the BI views (migration 0002).
SQLite stores timestamps as UTC text and dates as ``YYYY-MM-DD``; PostgreSQL has
``timestamptz`` and ``date``, and converts with ``AT TIME ZONE 'UTC'``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    Integer,
    Select,
    String,
    Table,
    false,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.sql.functions import FunctionElement

LOAD_BATCH = 50_000  # rows per executemany when SQLite bulk-loads (PostgreSQL streams COPY)


def is_postgresql(bind: Connection | Engine | Dialect) -> bool:
    """Whether ``bind`` talks to PostgreSQL; anything else is treated as SQLite."""
    dialect = bind if isinstance(bind, Dialect) else bind.dialect
    return dialect.name == "postgresql"


# --- inserts that skip existing keys ---------------------------------------------------------


def insert_for(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of the connection's own dialect: unlike the portable ``insert()`` it has
    ``on_conflict_do_nothing`` and ``on_conflict_do_update`` (same call on both backends)."""
    return postgresql.insert(table) if is_postgresql(conn) else sqlite.insert(table)


def insert_new(
    conn: Connection, table: Table, values: Mapping[str, object], *, key: list[str]
) -> bool:
    """INSERT ... ON CONFLICT (key) DO NOTHING; True when the row is new.

    Asks for the primary key back rather than trusting ``rowcount``, which psycopg
    reports as -1 for an insert that returns rows.
    """
    primary = next(iter(table.primary_key.columns))
    statement = (
        insert_for(conn, table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=key)
        .returning(primary)
    )
    return conn.execute(statement).first() is not None


# --- locks -----------------------------------------------------------------------------------


def skip_locked(query: Select, conn: Connection) -> Select:
    """``query ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent claimers take
    different rows. SQLite has no row locks (one writer at a time), so it is left as is."""
    return query.with_for_update(skip_locked=True) if is_postgresql(conn) else query


def transaction_lock(conn: Connection, key: str, *, touch: Table) -> None:
    """Hold the lock named ``key`` until the transaction ends, so decisions taken under it
    never interleave.

    PostgreSQL: a transaction advisory lock on a stable 64-bit hash of ``key``. SQLite
    locks the whole database: an UPDATE of ``touch`` that changes no row makes this
    transaction take the single write lock now, before it reads what it decides on.
    """
    if is_postgresql(conn):
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        conn.execute(select(func.pg_advisory_xact_lock(number)))
        return
    primary = next(iter(touch.primary_key.columns))
    conn.execute(touch.update().where(false()).values({primary.name: primary}))


# --- per-transaction settings ----------------------------------------------------------------


def local_work_mem(conn: Connection, size: str) -> None:
    """Let PostgreSQL use ``size`` (e.g. '64MB') per sort or hash until the transaction ends
    (``SET LOCAL``): its 4 MB default sends groupings of millions of rows to disk. SQLite
    has no such setting."""
    if is_postgresql(conn):
        conn.execute(text("SELECT set_config('work_mem', :size, true)"), {"size": size})


# --- temporary tables and bulk loads ---------------------------------------------------------


class CreateTempTableAs(Executable, ClauseElement):
    """``CREATE TEMPORARY TABLE name AS SELECT ...`` (PostgreSQL may run the SELECT in
    parallel here, which it never does for INSERT ... SELECT); dropped at commit there,
    by :func:`drop_temp_table` on SQLite."""

    inherit_cache = False

    def __init__(self, name: str, query: Select) -> None:
        self.name, self.query = name, query


@compiles(CreateTempTableAs)
def _create_temp_table_as(element: CreateTempTableAs, compiler: Any, **kw: Any) -> str:
    at_commit = " ON COMMIT DROP" if is_postgresql(compiler.dialect) else ""
    query = compiler.process(element.query, **kw)
    return f"CREATE TEMPORARY TABLE {element.name}{at_commit} AS {query}"


def drop_temp_table(conn: Connection, table: Table) -> None:
    """Done with a :class:`CreateTempTableAs` table: PostgreSQL drops it at commit by
    itself; SQLite keeps it for the connection's life, so it goes now."""
    if not is_postgresql(conn):
        table.drop(conn)


def load_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """Append plain rows (values the driver takes as they are) as fast as the backend can:
    COPY on PostgreSQL, about ten times faster than parameters per row; batched
    executemany on SQLite. Identifiers come from our own table definitions."""
    if is_postgresql(conn):
        names = ", ".join(f'"{c}"' for c in columns)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    batch: list[dict[str, object]] = []
    for row in rows:
        batch.append(dict(zip(columns, row, strict=True)))
        if len(batch) >= LOAD_BATCH:
            conn.execute(insert(table), batch)
            batch = []
    if batch:
        conn.execute(insert(table), batch)


# --- date arithmetic on stored UTC timestamps and dates --------------------------------------


class epoch_day(FunctionElement[int]):
    """Whole days since 1970-01-01 of a UTC timestamp column: day arithmetic becomes subtraction."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_day, "sqlite")
def _epoch_day_sqlite(element: epoch_day, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(julianday(date({arg})) - 2440587.5 AS INTEGER)"


@compiles(epoch_day, "postgresql")
def _epoch_day_pg(element: epoch_day, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"((({arg}) AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"


class date_day(FunctionElement[int]):
    """Whole days since 1970-01-01 of a DATE column (no zone: a date is already local)."""

    type = Integer()
    inherit_cache = True


@compiles(date_day, "sqlite")
def _date_day_sqlite(element: date_day, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(julianday({arg}) - 2440587.5 AS INTEGER)"


@compiles(date_day, "postgresql")
def _date_day_pg(element: date_day, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"(({arg}) - DATE '1970-01-01')"


class epoch_month(FunctionElement[int]):
    """Months since 1970-01 of a UTC timestamp column (year * 12 + month - 1 - 1970 * 12)."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_month, "sqlite")
def _epoch_month_sqlite(element: epoch_month, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"((CAST(strftime('%Y', {arg}) AS INTEGER) - 1970) * 12 + CAST(strftime('%m', {arg}) AS INTEGER) - 1)"


@compiles(epoch_month, "postgresql")
def _epoch_month_pg(element: epoch_month, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return (
        f"((EXTRACT(YEAR FROM ({arg}) AT TIME ZONE 'UTC')::int - 1970) * 12"
        f" + EXTRACT(MONTH FROM ({arg}) AT TIME ZONE 'UTC')::int - 1)"
    )


class utc_month_label(FunctionElement[str]):
    """The UTC calendar month of a timestamp column as text, ``YYYY-MM``."""

    type = String()
    inherit_cache = True


@compiles(utc_month_label, "sqlite")
def _utc_month_label_sqlite(element: utc_month_label, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(utc_month_label, "postgresql")
def _utc_month_label_pg(element: utc_month_label, compiler: Any, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM')"


class utc_date(FunctionElement[date]):
    """The UTC calendar day of a timestamp column, to count distinct purchase days."""

    inherit_cache = True


@compiles(utc_date, "sqlite")
def _utc_date_sqlite(element: utc_date, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_date, "postgresql")
def _utc_date_pg(element: utc_date, compiler: Any, **kw: Any) -> str:
    return f"(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC')::date"


class utc_midnight(FunctionElement[datetime]):
    """Midnight UTC at the start of a DATE value, to compare a timestamp column with.

    SQLite keeps timestamps as text, some with microseconds and some without
    ('1997-10-01 00:00:00' sorts before '1997-10-01 00:00:00.000000'), so there the
    bare date stands in: it sorts before every time of its day in both forms.
    """

    type = DateTime()
    inherit_cache = True


@compiles(utc_midnight, "sqlite")
def _utc_midnight_sqlite(element: utc_midnight, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(utc_midnight, "postgresql")
def _utc_midnight_pg(element: utc_midnight, compiler: Any, **kw: Any) -> str:
    day = compiler.process(element.clauses, **kw)
    return f"(CAST({day} AS DATE)::timestamp AT TIME ZONE 'UTC')"


class next_utc_day(FunctionElement[datetime]):
    """The first instant of the UTC day after a timestamp, comparable with the column."""

    inherit_cache = True


@compiles(next_utc_day, "sqlite")
def _next_utc_day_sqlite(element: next_utc_day, compiler: Any, **kw: Any) -> str:
    # A bare 'YYYY-MM-DD' sorts before every stored time of that day (see utc_midnight).
    return f"date({compiler.process(element.clauses, **kw)}, '+1 day')"


@compiles(next_utc_day, "postgresql")
def _next_utc_day_pg(element: next_utc_day, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return (
        f"((date_trunc('day', ({arg}) AT TIME ZONE 'UTC') + INTERVAL '1 day') AT TIME ZONE 'UTC')"
    )


class shift_days(FunctionElement[datetime]):
    """A timestamp column plus whole days, in the column's stored form so that comparing
    the two is exact.

    On SQLite ``strftime`` drops the fraction of a second; it is put back from the stored
    text, so an order exactly at the end of a window compares equal, as on PostgreSQL.
    """

    inherit_cache = True

    def __init__(self, col: Any, days: int) -> None:
        # Both forms of the number are bound values, so one cached statement serves any.
        super().__init__(col, literal(int(days), Integer), literal(f"+{int(days)} days", String))


@compiles(shift_days, "sqlite")
def _shift_days_sqlite(element: shift_days, compiler: Any, **kw: Any) -> str:
    col, _, modifier = list(element.clauses)  # processing the unused number would bind it
    col, modifier = compiler.process(col, **kw), compiler.process(modifier, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%S', {col}, {modifier}) || substr({col}, 20))"


@compiles(shift_days, "postgresql")
def _shift_days_pg(element: shift_days, compiler: Any, **kw: Any) -> str:
    col, days, _ = list(element.clauses)
    return (
        f"(({compiler.process(col, **kw)}) + make_interval(days => {compiler.process(days, **kw)}))"
    )
