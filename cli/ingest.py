"""``homecoming ingest KIND FILE``: load a store export, quarantining bad rows."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from cli.output import console, fail, key_values, print_json, progress
from ingest.errors import IngestError
from ingest.run import ingest_file


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
    file: Path = typer.Argument(..., help="CSV file (.gz is read as gzip)"),
    fmt: Fmt = typer.Option(Fmt.generic, "--format", help="File layout: see docs/formats.md"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object for scripts"),
) -> None:
    """Load a store export. Bad rows go to quarantine with file, line and reason; good rows load.

    Ingesting the same file again loads nothing new (every row counts as a duplicate).
    """
    try:
        with progress(disable=json_out) as bar:
            task = bar.add_task(f"ingesting {file.name}", total=None)
            summary = ingest_file(
                kind=kind.value,
                path=file,
                fmt=fmt.value,
                on_progress=lambda n: bar.update(task, completed=n),
            )
    except IngestError as exc:
        raise fail(str(exc)) from None
    data = summary.as_dict()
    if json_out:
        print_json(data)
        return
    shown = {
        k: f"{data[k]:,}"
        for k in ("read", "loaded", "guest_lines", "cancellations", "quarantined", "duplicates")
    }
    console.print(key_values(f"{kind.value} from {file.name} ({fmt.value})", shown))
    for field, count in sorted(data["quarantine_reasons"].items()):
        console.print(f"  quarantined for {field}: {count:,}")
    if summary.quarantined:
        console.print("  see the quarantine table for each row, its line and the reason")
