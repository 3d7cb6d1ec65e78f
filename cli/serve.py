"""``homecoming serve``: every deployment in one process (the embedded default)."""

from __future__ import annotations

import typer

from cli.output import console, fail


def serve(
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="At most this many flow runs at once (default: no limit)"
    ),
) -> None:
    """Serve the campaign deployments (one per campaign, scheduled by its cadence) and the
    static ones of prefect.yaml (refresh-segments, retention-report, send-surveys,
    sync-provider-events). Stop with Ctrl-C; for several machines see docs/operations.md."""
    from flows.campaigns import serve_all

    console.print("serving homecoming deployments; open the Prefect UI to watch runs")
    try:
        serve_all(limit=limit)
    except ValueError as exc:
        raise fail(str(exc)) from None
