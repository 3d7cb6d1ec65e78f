"""``homecoming ingest KIND FILE``: load a store export, quarantining bad rows."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.output import console, err_console, fail, key_values, print_json

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from ingest.run import IngestSummary


class Kind(StrEnum):
    customers = "customers"
    orders = "orders"
    interactions = "interactions"
    shipments = "shipments"
    devices = "devices"


class Fmt(StrEnum):
    generic = "generic"
    online_retail = "online-retail"
    cdnow = "cdnow"


def ingest(
    kind: Kind = typer.Argument(..., help="What the file holds"),
    file: Path = typer.Argument(..., help="CSV file (gzip is read transparently)"),
    fmt: Fmt = typer.Option(
        Fmt.generic,
        "--format",
        help="File layout (docs/formats.md): online-retail and cdnow hold orders",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object for scripts"),
) -> None:
    """Load a store export. Bad rows go to quarantine with file, line, field and reason; good rows load.

    Ingesting the same file again loads nothing new: every row counts as a duplicate.

    A file that cannot be read as a whole (missing, empty, truncated, not UTF-8, a missing or repeated column), or rows the database refuses, load nothing and exit with code 2. Exit code 0 means the file was read: check quarantined for rows left out.

    A database without tables is created first.
    """
    # imported on use: keeps `homecoming --help` fast
    from sqlalchemy.exc import SQLAlchemyError

    from ingest.errors import IngestError, StoreError
    from ingest.run import ingest_file
    from models.db import current_revision, safe_url, upgrade
    from models.settings import get_settings

    try:
        if current_revision() is None:
            upgrade()
        with _rows_progress(disable=json_out) as bar:
            task = bar.add_task(f"ingesting {file.name}", total=None)
            summary = ingest_file(
                kind=kind.value,
                path=file,
                fmt=fmt.value,
                on_progress=lambda n: bar.update(task, completed=n),
            )
    except (IngestError, StoreError) as exc:
        raise fail(str(exc)) from None
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        where = safe_url(get_settings().database_url)
        raise fail(
            f"database error at {where}: {detail} (is it migrated? `homecoming db upgrade`)"
        ) from None
    if json_out:
        print_json(summary.as_dict())
        return
    console.print(_table(summary, title=f"{kind.value} from {file.name} ({fmt.value})"))


def _rows_progress(*, disable: bool) -> Progress:
    """Rows read so far and time elapsed, on stderr: a file is streamed, its length unknown."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
        console=err_console,
        disable=disable or not err_console.is_terminal,
        transient=True,
    )


def _table(summary: IngestSummary, *, title: str) -> Table:
    rows: list[tuple[str, str]] = [("read", f"{summary.read:,}")]
    rows += [
        (name.replace("_", " "), f"{getattr(summary, name):,}")
        for name in ("loaded", "guest_lines", "cancellations", "quarantined", "duplicates")
    ]
    rows += [(f"new {name.replace('_', ' ')}", f"{n:,}") for name, n in summary.created.items()]
    rows += [
        (f"quarantined for {field}", f"{n:,}")
        for field, n in sorted(summary.quarantine_reasons.items())
    ]
    rows.append(("seconds", f"{summary.seconds:.1f}"))
    t = key_values(title, dict(rows))
    if summary.quarantined:
        t.caption = "each quarantined row, its line and the reason: table quarantine"
    return t
