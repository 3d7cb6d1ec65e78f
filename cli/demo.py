"""``homecoming demo``: the whole loop on a fresh SQLite file, a local Prefect and a file outbox."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer

from cli.output import console, key_values, print_json, table


def demo(
    folder: Path = typer.Option(
        Path(".homecoming/demo"), "--dir", help="Where the demo database, store and outbox go"
    ),
    customers: int = typer.Option(3000, "--customers", min=100, help="Size of the generated store"),
    seed: int = typer.Option(7, "--seed", help="Seed of the generated store"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
) -> None:
    """Generate a store, ingest it, segment it, run campaigns and surveys through a file outbox
    and the web service, and write the retention report: one Prefect flow."""
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from flows.demo import demo_flow
    from models.settings import get_settings
    from web.server import free_port

    started = time.monotonic()
    # Links in the demo's messages are built from HOMECOMING_PUBLIC_URL deep inside sending,
    # which reads the process settings. Point them, once and before the flow starts, at the
    # web service the flow runs on this port, so the outbox's links are the ones answered.
    port = free_port()
    os.environ["HOMECOMING_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    get_settings.cache_clear()
    if not json_out:
        console.print(
            "starting a local Prefect and running the demo flow (the first start takes a few seconds)…"
        )
    summary = demo_flow(folder=str(folder), customers=customers, seed=seed, port=port)
    summary["wall_seconds"] = round(time.monotonic() - started, 1)
    if json_out:
        print_json(summary)
        return
    shown = {
        "customers": f"{summary['customers']:,}",
        "orders": f"{summary['orders']:,}",
        "repeat-purchase share": f"{summary['repeat_purchase_share']:.1%}",
        "quarantined rows": f"{summary['quarantine_rows']:,}",
        "database": summary["database"],
        "HTML report": summary["report"],
        "took": f"{summary['wall_seconds']} s",
    }
    console.print(key_values("homecoming demo", shown))
    console.print(
        table(
            f"segments of the generated store, as of {summary['segments_as_of']}",
            ["segment", "customers"],
            summary["segments"].items(),
        )
    )
    columns = ["campaign", "period", "sent", "held_out", "suppressed", "failed", "sent_again"]
    console.print(
        table(
            "campaigns through the outbox; the same period run again sends nothing (sent_again)",
            [c.replace("_", " ") for c in columns],
            ([run[c] for c in columns] for run in summary["campaigns"]),
        )
    )
    console.print(
        table(
            "campaign effects: the generator's true uplift against what the report measures "
            "(pt, 95 % interval; flagged: significant after the Benjamini-Hochberg correction)",
            ["campaign", "period", "variant", "true", "measured", "interval", "flagged"],
            (
                [
                    e["campaign"],
                    e["period"],
                    e["variant"],
                    f"{e['true_uplift'] * 100:+.1f}",
                    "n/a" if e["uplift"] is None else f"{e['uplift'] * 100:+.1f}",
                    ""
                    if e["ci_low"] is None
                    else f"[{e['ci_low'] * 100:+.1f}, {e['ci_high'] * 100:+.1f}]",
                    "yes" if e["significant"] else "",
                ]
                for e in summary["effects"]
            ),
        )
    )
    surveys = summary["surveys"]
    console.print(
        table(
            f"surveys: {surveys['sent']} sent, {surveys['answered']} answered through the web service",
            ["survey", "sent", "answers", "CSAT (share of 4-5)", "choices"],
            (
                [
                    r["survey"],
                    r["sent"],
                    r["answers"],
                    "n/a" if r["csat"] is None else f"{r['csat']:.1%} of {r['csat_answers']}",
                    ", ".join(f"{k} {v}" for k, v in r.get("choices", {}).items()),
                ]
                for r in surveys["results"]
            ),
        )
    )
