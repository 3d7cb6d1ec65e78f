"""``homecoming report [KIND]``: repeat purchase, cohorts, segments, campaign uplift and CSAT."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperCommand, TyperOption

from cli.output import console, fail

if TYPE_CHECKING:
    from typer._click import Context, Parameter

DEFAULT_HTML = Path("homecoming-report.html")


@cache
def _help_texts() -> dict[str, str]:
    """The help of the options that name what ``analytics`` defines: its report kinds, their
    groupings and the CSV layout."""
    from analytics.build import BY, KINDS
    from analytics.render import CSV_LAYOUT

    by_help = "; ".join(f"{kind}: {'|'.join(values)}" for kind, values in BY.items())
    return {
        "kind": f"One of {', '.join(KINDS)}, or all (the default) for the whole report",
        "by": f"Grouping. {by_help}",
        "fmt": "table, csv, json or html. Every format holds every table. " + CSV_LAYOUT,
    }


class ReportCommand(TyperCommand):
    """``homecoming report``, whose help texts are filled in from ``analytics`` when its
    parameters are first wanted (its help, completion or a run), not when ``cli.report`` is
    imported: ``analytics`` brings SciPy and the models, which `homecoming --help` does not
    need."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        texts = _help_texts()
        for param in self.params:
            if isinstance(param, TyperArgument | TyperOption) and param.name in texts:
                param.help = texts[param.name]
        return super().get_params(ctx)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    html = "html"


def report(
    # The help of kind, by and fmt names what analytics defines: ReportCommand fills it in.
    kind: str = typer.Argument("all", help="One of the report kinds, or all (the default)"),
    by: str | None = typer.Option(None, "--by", help="Grouping"),
    start: datetime | None = typer.Option(
        None, "--from", formats=["%Y-%m-%d"], help="First day included (store time zone)"
    ),
    end: datetime | None = typer.Option(
        None, "--to", formats=["%Y-%m-%d"], help="Last day included (store time zone)"
    ),
    fmt: Format = typer.Option(Format.table, "--format", help="table, csv, json or html"),
    out: Path | None = typer.Option(
        None, "--out", help=f"Write to this file (html default: ./{DEFAULT_HTML})"
    ),
    window: int | None = typer.Option(
        None, "--window", min=1, max=365, help="Campaign attribution window in days (default 7)"
    ),
    zone: str | None = typer.Option(
        None,
        "--time-zone",
        help="Zone for calendar months and days (default: the store's HOMECOMING_DEFAULT_TIME_ZONE)",
    ),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json"),
) -> None:
    """Reports analysts can defend: each one states how its numbers are defined.

    Rates over too small a base, or over a period the data does not cover to its end, show
    n/a (CSV: empty, JSON: null) with the reason in the note column. The terminal and HTML
    round once, half-up, at display (rates in %, differences in pt); CSV and JSON keep full
    precision.
    """
    # imported on use: keeps `homecoming --help` fast (SciPy, the models)
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from analytics.build import build, build_all, check
    from analytics.render import to_csv, to_html, to_json, to_terminal
    from models.db import get_engine, safe_url
    from models.settings import get_settings

    fmt = Format.json if json_out else fmt
    try:
        if kind != "all":
            check(kind, by)
        elif by:
            raise ValueError("--by applies to one report kind, not to all")
        engine = get_engine()
        s, e = (start.date() if start else None), (end.date() if end else None)
        reports = (
            build_all(engine, start=s, end=e, window=window, zone=zone)
            if kind == "all"
            else [build(engine, kind, by=by, start=s, end=e, window=window, zone=zone)]
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        url = safe_url(get_settings().database_url)
        raise fail(f"{url}: {reason} (run `homecoming db upgrade` on a new database)") from None
    if fmt is Format.table:
        if out:
            raise fail("--out needs --format csv, json or html")
        # Piped into a file or pager, wide tables keep their rows instead of wrapping.
        screen = console if console.is_terminal else Console(width=max(console.width, 220))
        for r in reports:
            screen.print(to_terminal(r))
        return
    if fmt is Format.html:
        text = to_html(reports)
        out = out or DEFAULT_HTML
    elif fmt is Format.csv:
        text = to_csv(reports)
    elif kind == "all":
        text = json.dumps({r.kind: json.loads(to_json(r)) for r in reports}, indent=2) + "\n"
    else:
        text = to_json(reports[0])
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out.resolve()}", highlight=False, soft_wrap=True)
    else:
        sys.stdout.write(text)
