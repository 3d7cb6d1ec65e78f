"""``homecoming deploy`` and ``homecoming serve``: the one way deployments are registered and run.

``deploy`` registers every deployment (the static ones and one per campaign) on a Prefect
server, for a work pool's workers; ``serve`` runs the same deployments in this one process,
and on the embedded default first starts a real local Prefect server (scheduler and UI).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from cli.output import JSON, console, err_console, fail, print_json, table

if TYPE_CHECKING:
    from campaigns.definitions import Campaign
    from models.settings import Settings


def _campaigns(*, checked: bool) -> list[Campaign]:
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from campaigns.definitions import load_all, load_checked
    from models.db import get_engine

    if checked:
        from campaigns.render import default_renderer

        campaigns, errors = load_checked(engine=get_engine(), renderer=default_renderer())
    else:
        campaigns, errors = load_all()
    if errors:
        for error in errors:
            err_console.print(f"[red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise fail("fix the definitions above first; nothing was changed")
    return campaigns


def deploy(
    work_pool: str | None = typer.Option(
        None,
        "--work-pool",
        help="The process work pool whose workers run the flows (default: none, for `serve`)",
    ),
    json_out: bool = JSON,
) -> None:
    """Create or update every deployment on the Prefect server of PREFECT_API_URL.

    The static deployments (refresh-segments, retention-report, send-surveys,
    sync-provider-events) and one campaign-period deployment per scheduled campaign; a
    campaign past its end date is applied paused, one whose definition is gone is paused.
    Run it again after changing campaign definitions.
    """
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from flows.deployments import register, upcoming
    from models.settings import get_settings

    campaigns = _campaigns(checked=True)
    if work_pool and not os.environ.get("PREFECT_API_URL"):
        raise fail("--work-pool needs PREFECT_API_URL: the server the workers poll")
    result = register(campaigns, get_settings(), work_pool=work_pool)
    nexts = {k: v.isoformat() for k, v in upcoming(campaigns).items()}
    if json_out:
        print_json({**result.as_dict(), "work_pool": work_pool, "next_runs": nexts})
        return
    rows = [
        [n, nexts.get(n, ""), "paused (ended)" if n in result.ended else "active"]
        for n in result.applied
    ]
    rows += [[n, "", "paused (definition removed)"] for n in result.paused]
    console.print(table("deployments", ["deployment", "next run", "state"], rows))


def serve(
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="At most this many flow runs at once (default: no limit)"
    ),
) -> None:
    """Run every deployment on its schedule in this process, until Ctrl-C.

    Without PREFECT_API_URL a local Prefect server with its scheduler and UI is started (or
    reused) under HOMECOMING_HOME/.homecoming/prefect and stopped on exit. Deployments that
    belong to a work pool are left to its workers, never rewritten.
    """
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from models.settings import get_settings

    settings = get_settings()
    campaigns = _campaigns(checked=False)
    if os.environ.get("PREFECT_API_URL"):
        console.print(f"Prefect API: {os.environ['PREFECT_API_URL']}", highlight=False)
        _serve(campaigns, settings, limit)
        return
    from flows.local_server import ServerError, local_server

    try:
        with local_server(settings) as server:
            os.environ["PREFECT_API_URL"] = server.api_url
            from prefect.settings import PREFECT_API_URL, temporary_settings

            with temporary_settings({PREFECT_API_URL: server.api_url}):
                console.print(f"Prefect UI: {server.url}", highlight=False, soft_wrap=True)
                _serve(campaigns, settings, limit)
    except ServerError as exc:
        raise fail(str(exc)) from None


def _serve(campaigns: list[Campaign], settings: Settings, limit: int | None) -> None:
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from flows.deployments import all_deployments, serve_deployments, split_by_owner

    free, owned = split_by_owner(all_deployments(campaigns, settings))
    for name in owned:
        console.print(f"left to its workers: {name}", highlight=False)
    if not free:
        console.print("nothing to serve: every deployment belongs to a work pool")
        return
    names = ", ".join(f"{d.flow_name}/{d.name}" for d in free)
    console.print(f"serving {len(free)} deployments: {names}", highlight=False, soft_wrap=True)
    serve_deployments(free, campaigns, limit=limit)
