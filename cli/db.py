"""``homecoming db``: create or migrate the database."""

from __future__ import annotations

import typer

from cli.output import console, print_json

app = typer.Typer(help="Create, migrate and inspect the database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(
    revision: str = typer.Argument("head", help="Target revision"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
) -> None:
    """Create the database or migrate it to the newest schema (SQLite or PostgreSQL)."""
    # imported on use: keeps `homecoming --help` fast
    from models.db import current_revision, upgrade

    url = upgrade(revision=revision)
    rev = current_revision()
    if json_out:
        print_json({"database": url, "revision": rev})
    else:
        console.print(f"database [bold]{url}[/] is at revision [bold]{rev}[/]")


@app.command("current")
def current_cmd(
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
) -> None:
    """Show the database and its schema revision."""
    # imported on use: keeps `homecoming --help` fast
    from models.db import current_revision, safe_url
    from models.settings import get_settings

    url = safe_url(get_settings().database_url)
    rev = current_revision()
    if json_out:
        print_json({"database": url, "revision": rev})
    else:
        console.print(f"database [bold]{url}[/] is at revision [bold]{rev or 'none'}[/]")
