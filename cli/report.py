"""``homecoming report KIND``: retention, cohorts, segments, campaign uplift and CSAT."""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import typer

from analytics.build import BY, KINDS, build, build_all
from analytics.render import to_csv, to_html, to_json, to_table
from cli.output import console, fail
from models.db import get_engine


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    html = "html"


def report(
    kind: str = typer.Argument(..., help=f"One of {', '.join(KINDS)}, or all (HTML)"),
    by: str | None = typer.Option(
        None,
        "--by",
        help="repeat: none|locale|country; csat: survey|month|segment; segments: a name prefix such as rfm:",
    ),
    start: datetime | None = typer.Option(
        None, "--from", formats=["%Y-%m-%d"], help="First day included"
    ),
    end: datetime | None = typer.Option(
        None, "--to", formats=["%Y-%m-%d"], help="Last day included"
    ),
    fmt: Format = typer.Option(Format.table, "--format", help="table, csv, json or html"),
    out: Path | None = typer.Option(
        None, "--out", help="Write to this file instead of the terminal"
    ),
    window: int = typer.Option(7, "--window", min=1, help="Attribution window in days (campaigns)"),
) -> None:
    """Reports analysts can defend; every one says how its numbers are defined."""
    if kind != "all" and kind not in KINDS:
        raise fail(f"unknown report {kind!r}; expected one of {', '.join(KINDS)} or all")
    allowed = BY.get(kind)
    if by and allowed and by not in allowed:
        raise fail(f"--by {by!r} does not apply to {kind}; expected one of {', '.join(allowed)}")
    engine = get_engine()
    s, e = (start.date() if start else None), (end.date() if end else None)
    reports = (
        build_all(engine, start=s, end=e, window=window)
        if kind == "all"
        else [build(engine, kind, by=by, start=s, end=e, window=window)]
    )
    if fmt is Format.html:
        text = to_html(reports)
    elif kind == "all":
        raise fail("report all is written as --format html")
    elif fmt is Format.csv:
        text = to_csv(reports[0])
    elif fmt is Format.json:
        text = to_json(reports[0])
    else:
        if out:
            raise fail("--out needs --format csv, json or html")
        console.print(to_table(reports[0]))
        return
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
