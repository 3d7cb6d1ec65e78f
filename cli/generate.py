"""``homecoming generate``: a realistic synthetic store in the generic CSV layout."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer

from cli.output import console, key_values, print_json, progress
from synthetic import write_store


def generate(
    customers: int = typer.Option(10_000, "--customers", min=1, help="How many customers"),
    seed: int = typer.Option(7, "--seed", help="The same seed gives the same files"),
    out: Path = typer.Option(Path("store"), "--out", help="Folder for the CSV files"),
    end: datetime = typer.Option(
        datetime(2026, 11, 20), "--end", formats=["%Y-%m-%d"], help="Last day of history"
    ),
    years: float = typer.Option(2.0, "--years", min=0.1, help="Years of history before --end"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
) -> None:
    """Write customers, orders, interactions, shipments and devices CSVs (see docs/formats.md)."""
    with progress(disable=json_out) as bar:
        task = bar.add_task("generating customers", total=customers)
        counts = write_store(
            out=out,
            customers=customers,
            seed=seed,
            end=date(end.year, end.month, end.day),
            years=years,
            on_progress=lambda n: bar.update(task, completed=n),
        )
    if json_out:
        print_json({"out": str(out), "rows": counts})
    else:
        console.print(
            key_values(
                f"synthetic store in {out}", {f"{k}.csv": f"{v:,}" for k, v in counts.items()}
            )
        )
