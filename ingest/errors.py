"""Errors that stop a whole file (row problems are quarantined instead)."""

from __future__ import annotations

import re
import sqlite3

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

try:
    import psycopg
except ImportError:  # PostgreSQL support is optional
    psycopg = None  # type: ignore[assignment]

DRIVER_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error,) + (
    (psycopg.Error,) if psycopg is not None else ()
)
# Everything the database or its driver raises (bulk writes also catch OverflowError: SQLite
# refuses an integer it cannot hold with it while binding).
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, *DRIVER_ERRORS)
_QUOTED_TAIL = re.compile(r""":\s*(?:"[^"]*"|'[^']*')\s*$""")


class IngestError(Exception):
    """The file cannot be ingested at all; the message names the file and what to fix."""


class RowError(ValueError):
    """One row is bad: which field, and what would be valid."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class StoreError(Exception):
    """The database refused the file's rows: nothing of the file was loaded.

    Built from the database's error without its parameters or details, which hold the
    rows' values (addresses, names, birthdays): the message names the file, the lines, the
    table and the database's reason only, so it may go to logs and Prefect state.
    ``transient`` errors (a lock, a lost connection) are worth retrying; others are not.
    """

    def __init__(self, message: str, *, table: str | None = None, transient: bool = False) -> None:
        super().__init__(message)  # one positional argument: it pickles like any exception
        self.table, self.transient = table, transient
        self.placed = False  # whether the message names the file and lines yet

    def at(self, source: str, lines: tuple[int, int] | None) -> StoreError:
        """The error with the file and the lines being written when it happened."""
        if self.placed:
            return self
        where = f"lines {lines[0]}-{lines[1]}" if lines and lines[0] != lines[1] else None
        where = where or (f"line {lines[0]}" if lines else "the file")
        error = StoreError(
            f"{source}: the database refused {where} ({self}); nothing of this file was loaded",
            table=self.table,
            transient=self.transient,
        )
        error.placed = True
        return error


def store_error(exc: BaseException, *, table: str | None = None) -> StoreError:
    """A database error as a :class:`StoreError`: its first line, no parameters, no values."""
    if isinstance(exc, StoreError):
        return exc
    cause = getattr(exc, "orig", None) or exc  # the driver's error, without SQLAlchemy's dump
    statement = getattr(exc, "statement", None)
    if table is None and isinstance(statement, str):
        found = re.search(r'\b(?:INTO|UPDATE|FROM)\s+"?(\w+)', statement, re.IGNORECASE)
        table = found.group(1) if found else None
    lines = str(cause).strip().splitlines()
    reason = _QUOTED_TAIL.sub(": (value not shown)", lines[0] if lines else "")
    reason = f"{type(cause).__name__}: {reason}" if reason else type(cause).__name__
    transient = isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(cause, sqlite3.OperationalError)
        or (psycopg is not None and isinstance(cause, psycopg.OperationalError))
    )
    message = f"table {table}: {reason[:300]}" if table else reason[:300]
    return StoreError(message, table=table, transient=transient)
