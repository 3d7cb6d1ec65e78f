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


class date_day(FunctionElement[int]):
    """Whole days since 1970-01-01 of a DATE column."""

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


class plus_days(FunctionElement):
    """A timestamp column plus a whole number of days (the number is a bound literal int)."""

    inherit_cache = True


@compiles(plus_days, "sqlite")
def _plus_days_sqlite(element: plus_days, compiler: Any, **kw: Any) -> str:
    col, days = list(element.clauses)
    return (
        f"datetime({compiler.process(col, **kw)}, '+' || {compiler.process(days, **kw)} || ' days')"
    )


@compiles(plus_days, "postgresql")
def _plus_days_pg(element: plus_days, compiler: Any, **kw: Any) -> str:
    col, days = list(element.clauses)
    return (
        f"(({compiler.process(col, **kw)}) + make_interval(days => {compiler.process(days, **kw)}))"
    )
