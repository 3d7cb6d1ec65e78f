"""Date arithmetic that compiles to the right SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


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
