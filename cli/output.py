"""Shared output for commands: JSON for scripts, Rich tables and progress for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

console = Console()
err_console = Console(stderr=True)
JSON = typer.Option(False, "--json", help="Print JSON for scripts")


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return str(value)


def print_json(data: object) -> None:
    """One JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, default=_default, ensure_ascii=False, indent=2) + "\n")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


def key_values(title: str, data: Mapping[str, object]) -> Table:
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_header=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    for key, value in data.items():
        t.add_row(str(key), "" if value is None else str(value))
    return t


def progress(*, disable: bool = False) -> Progress:
    """A progress bar on stderr, quiet when output goes to a script."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=disable or not err_console.is_terminal,
        transient=True,
    )


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a clear error on stderr and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def database_errors() -> Iterator[None]:
    """A database problem as a one-line error, not a traceback."""
    # imported on use: keeps `homecoming --help` fast (SQLAlchemy takes a tenth of a second)
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise fail(f"database error: {detail} (is it migrated? `homecoming db upgrade`)") from None
