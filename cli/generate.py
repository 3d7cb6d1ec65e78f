"""``homecoming generate``: a realistic synthetic store in the generic CSV layout."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer

from cli.output import console, key_values, print_json, progress


def generate(
    customers: int = typer.Option(10_000, "--customers", min=1, help="How many customers"),
    seed: int = typer.Option(7, "--seed", help="The same seed gives the same files"),
    out: Path = typer.Option(Path("store"), "--out", help="Folder for the CSV files"),
    end: datetime = typer.Option(
        datetime(2026, 11, 20), "--end", formats=["%Y-%m-%d"], help="Last day of history"
    ),
    years: float = typer.Option(2.0, "--years", min=0.1, help="Years of history before --end"),
    respond: bool = typer.Option(
        False,
        "--respond",
        help="Instead of a new store: the customers' response orders to the messages sent so "
        "far in the database, written to --out as responses.csv (then loaded) with the true "
        "effect of every campaign period in truth.json",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
) -> None:
    """Write customers, orders, interactions, shipments and devices CSVs (see docs/formats.md)."""
    if respond:
        _respond(out, seed, date(end.year, end.month, end.day), json_out)
        return
    # imported on use: keeps `homecoming --help` fast
    from synthetic import write_store

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


def _respond(out: Path, seed: int, end: date, json_out: bool) -> None:
    from flows.responses import answer_campaigns
    from models.db import get_engine

    out.mkdir(parents=True, exist_ok=True)
    answered = answer_campaigns(get_engine(), store=out, seed=seed, end=end)
    if json_out:
        print_json({"out": str(out), **answered})
        return
    console.print(
        key_values(
            f"responses in {out}",
            {
                "response orders (responses.csv, loaded)": f"{answered['responses']:,}",
                "quarantined": f"{answered['quarantined']:,}",
                "campaign periods and variants (truth.json)": f"{len(answered['comparisons']):,}",
            },
        )
    )
