"""The ``homecoming`` command: every group registered here, each in its own module."""

from __future__ import annotations

import typer

from cli import campaigns, db, segments, surveys
from cli import templates as templates_cli
from cli.demo import demo
from cli.deploy import deploy, serve
from cli.generate import generate
from cli.ingest import ingest
from cli.report import ReportCommand, report
from cli.web import web

app = typer.Typer(
    name="homecoming",
    help="Post-purchase engagement campaigns: segments, cadences, surveys and retention.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def starting() -> None:
    # Before any command runs, and so before anything imports Prefect (the command modules
    # import it only inside their commands): Prefect's defaults for this process.
    from flows.environment import prefect_defaults

    prefect_defaults()


app.add_typer(db.app, name="db")
app.add_typer(segments.app, name="segments")
app.add_typer(surveys.app, name="surveys")
app.add_typer(campaigns.app, name="campaigns")
app.add_typer(templates_cli.app, name="templates")
app.command("deploy")(deploy)
app.command("serve")(serve)
app.command("ingest")(ingest)
app.command("generate")(generate)
app.command("demo")(demo)
app.command("report", cls=ReportCommand)(report)
app.command("web")(web)


if __name__ == "__main__":
    app()
