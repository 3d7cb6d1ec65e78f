"""``homecoming segments``: list, show, preview, validate, refresh and predict."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer

from cli.output import console, database_errors, fail, key_values, print_json, table
from cli.predict import predict

app = typer.Typer(
    help="Customer segments: RFM, marketer rules, lifecycle stages, clusters, predictions.",
    no_args_is_help=True,
)
app.command("predict")(predict)
AS_OF = typer.Option(
    None, "--as-of", formats=["%Y-%m-%d"], help="Date to compute as of, YYYY-MM-DD (default today)"
)
JSON = typer.Option(False, "--json", help="Print JSON for scripts")


@app.command("list")
def list_cmd(json_out: bool = JSON) -> None:
    """Every segment: its size and changes at its last refresh, and its description."""
    # imported on use: keeps `homecoming --help` fast
    from models.db import get_engine
    from segments.profile import listing

    with database_errors():
        data = listing(get_engine())
    if json_out:
        print_json({"segments": data})
        return
    if not data:
        console.print("no segments yet: run `homecoming segments refresh`")
        return
    columns = ["segment", "kind", "as_of", "size", "entered", "left"]
    rows = [[d["segment"], d["kind"], d["as_of"], d["size"], d["entered"], d["left"]] for d in data]
    console.print(table("segments", columns, rows))


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Segment name, e.g. rfm:champions or lifecycle:vip"),
    json_out: bool = JSON,
) -> None:
    """Size, who entered and left since the previous refresh, and a profile of the members."""
    # imported on use: keeps `homecoming --help` fast
    from models.db import get_engine
    from models.settings import get_settings
    from segments.definitions import load_all
    from segments.profile import kind_of, last_snapshot, profile

    definitions, _ = load_all(settings=get_settings())
    definition = next((d for d in definitions if d.name == name), None)
    with database_errors(), get_engine().connect() as conn:
        snap = last_snapshot(conn, name)
        if snap is None:
            raise fail(f"no segment {name!r} has been refreshed; see `homecoming segments list`")
        data: dict[str, Any] = {"segment": name, "kind": kind_of(name), **snap}
        if definition:
            data["description"] = definition.description
            data["definition"] = definition.source
        if name.startswith("cluster:"):
            from segments.clustering import cluster_profile  # scikit-learn: only for clusters

            data["cluster"] = cluster_profile(get_engine(), name)
            if data["cluster"]:
                data.setdefault("description", data["cluster"]["words"])
        data["profile"] = profile(conn, name)
    if json_out:
        print_json(data)
        return
    head = {k: v for k, v in data.items() if k not in ("profile", "cluster")}
    console.print(key_values(f"segment {name}", head))
    if data.get("cluster"):
        centre = data["cluster"]["centre"]
        console.print(key_values("cluster centre (a typical member)", centre))
    prof = data["profile"]
    console.print(key_values("average member", prof["averages"]))
    for key in ("top_locales", "top_countries", "top_categories", "rfm_segments"):
        if prof[key]:
            console.print(key_values(key.replace("_", " "), prof[key]))


@app.command("preview")
def preview(
    file: Path = typer.Argument(..., help="A segment definition (YAML), saved or not"),
    as_of: datetime | None = typer.Option(
        None,
        "--as-of",
        formats=["%Y-%m-%d"],
        help="Date to evaluate as of (default: the date of the last refresh)",
    ),
    json_out: bool = JSON,
) -> None:
    """Size and a sample of members of a definition, before it is saved."""
    # imported on use: keeps `homecoming --help` fast
    from models.db import get_engine
    from models.settings import get_settings
    from segments.definitions import load_candidate
    from segments.preview import preview as run_preview
    from segments.rules import DefinitionError

    try:
        definition = load_candidate(file, settings=get_settings())
    except DefinitionError as exc:
        raise fail(str(exc)) from None
    with database_errors():
        result = run_preview(get_engine(), definition, as_of=as_of.date() if as_of else None)
    data = asdict(result) | {"description": definition.description}
    if json_out:
        print_json(data)
        return
    console.print(key_values(f"preview of {file}", data))


@app.command("validate")
def validate(json_out: bool = JSON) -> None:
    """Check every definition; exit 1 listing each mistake's file, line and what would be valid.

    Category, locale and country names are checked against the database when it can be
    read; otherwise only what is known without it, and the output says so.
    """
    # imported on use: keeps `homecoming --help` fast
    from sqlalchemy.exc import SQLAlchemyError

    from models.db import get_engine
    from models.settings import get_settings
    from segments.definitions import load_all
    from segments.vocabulary import database_vocabulary, static_vocabulary

    try:
        vocabulary = database_vocabulary(get_engine())
    except (SQLAlchemyError, ImportError) as exc:  # a bad URL or a missing driver
        vocabulary = static_vocabulary(f"database not usable ({exc}): names checked statically")
    definitions, errors = load_all(settings=get_settings(), vocabulary=vocabulary)
    files = len({e.source for e in errors})
    summary = f"{len(definitions)} valid, {_count(len(errors), 'error')} in {_count(files, 'file')}"
    if json_out:
        print_json(
            {
                "valid": [d.name for d in definitions],
                "errors": [
                    {"file": e.source, "line": e.line, "message": e.message, "error": str(e)}
                    for e in errors
                ],
                "error_count": len(errors),
                "files_with_errors": files,
                "checked_against": "database" if vocabulary.from_database else "static",
                "note": vocabulary.note,
                "summary": summary,
            }
        )
    else:
        for e in errors:
            console.print(f"[red]{e}[/]", highlight=False, soft_wrap=True)
        if vocabulary.note:
            console.print(f"note: {vocabulary.note}", highlight=False, soft_wrap=True)
        console.print(summary, highlight=False)
    if errors:
        raise typer.Exit(1)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@app.command("refresh")
def refresh_cmd(as_of: datetime | None = AS_OF, json_out: bool = JSON) -> None:
    """Recompute features, RFM, predictions, clusters and rule segments; snapshot membership."""
    # imported on use: keeps `homecoming --help` fast
    from models.db import get_engine
    from segments.refresh import refresh as run_refresh

    day = as_of.date() if as_of else date.today()
    with database_errors():
        result = run_refresh(get_engine(), as_of=day)
    if json_out:
        print_json(
            {
                "as_of": result.as_of,
                "customers": result.customers,
                "segments": result.sizes,
                "entered": result.entered,
                "left": result.left,
                "warnings": result.warnings,
                "seconds": result.seconds,
            }
        )
        return
    console.print(
        table(
            f"segments as of {result.as_of}",
            ["segment", "size", "entered", "left"],
            [list(r.values()) for r in result.rows()],
        )
    )
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
