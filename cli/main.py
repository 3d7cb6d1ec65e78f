"""The ``homecoming`` command: every group registered here, each in its own module."""

from __future__ import annotations

import typer

import flows  # noqa: F401  (Prefect defaults before anything imports Prefect)
from cli import db, segments
from cli.demo import demo
from cli.generate import generate
from cli.ingest import ingest
from cli.report import report

app = typer.Typer(
    name="homecoming",
    help="Post-purchase engagement campaigns: segments, cadences, surveys and retention.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

app.add_typer(db.app, name="db")
app.add_typer(segments.app, name="segments")
app.command("ingest")(ingest)
app.command("generate")(generate)
app.command("demo")(demo)
app.command("report")(report)


if __name__ == "__main__":
    app()
