"""``homecoming segments``: list, show, preview, validate, refresh and predict."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer
from sqlalchemy import func, select

from cli.output import console, fail, key_values, print_json, table
from cli.predict import predict
from models.db import get_engine
from models.predictions import FittedModel
from models.segments import CustomerFeatures, SegmentMember, SegmentSnapshot
from segments.compile import to_sql
from segments.definitions import load_all, load_file
from segments.membership import members_select
from segments.refresh import refresh as run_refresh
from segments.rules import DefinitionError

app = typer.Typer(
    help="Customer segments: RFM, marketer rules, lifecycle, clusters, predictions.",
    no_args_is_help=True,
)
app.command("predict")(predict)
F = CustomerFeatures.__table__.c
AS_OF = typer.Option(
    None, "--as-of", formats=["%Y-%m-%d"], help="Date to compute as of (default today)"
)
JSON = typer.Option(False, "--json", help="Print JSON for scripts")


def _day(value: datetime | None) -> date:
    return value.date() if value else date.today()


@app.command("list")
def list_cmd(json_out: bool = JSON) -> None:
    """Every segment with its size and changes at the last refresh."""
    with get_engine().connect() as conn:
        last = (
            select(SegmentSnapshot.segment, func.max(SegmentSnapshot.as_of).label("as_of"))
            .group_by(SegmentSnapshot.segment)
            .subquery()
        )
        rows = conn.execute(
            select(
                SegmentSnapshot.segment,
                SegmentSnapshot.as_of,
                SegmentSnapshot.size,
                SegmentSnapshot.entered,
                SegmentSnapshot.left,
            )
            .join(
                last,
                (last.c.segment == SegmentSnapshot.segment)
                & (last.c.as_of == SegmentSnapshot.as_of),
            )
            .order_by(SegmentSnapshot.segment)
        ).all()
    data = [
        {"segment": r[0], "as_of": r[1], "size": r[2], "entered": r[3], "left": r[4]} for r in rows
    ]
    if json_out:
        print_json({"segments": data})
    elif not data:
        console.print("no segments yet: run `homecoming segments refresh`")
    else:
        console.print(
            table(
                "segments",
                ["segment", "as of", "size", "entered", "left"],
                [d.values() for d in data],
            )
        )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Segment name, e.g. rfm:champions"), json_out: bool = JSON
) -> None:
    """Size, who entered and left since the last refresh, and a profile of the members."""
    with get_engine().connect() as conn:
        snap = conn.execute(
            select(SegmentSnapshot)
            .where(SegmentSnapshot.segment == name)
            .order_by(SegmentSnapshot.as_of.desc())
            .limit(1)
        ).first()
        if snap is None:
            raise fail(f"no segment {name!r}; see `homecoming segments list`")
        members = members_select(name).subquery()
        m = F
        profile = conn.execute(
            select(
                func.avg(m.orders),
                func.avg(m.revenue),
                func.avg(m.days_since_last_order),
                func.avg(m.avg_order_value),
            ).where(m.customer_id.in_(select(members.c.customer_id)))
        ).one()
        locales = conn.execute(
            select(m.locale, func.count())
            .where(m.customer_id.in_(select(members.c.customer_id)))
            .group_by(m.locale)
            .order_by(func.count().desc())
            .limit(5)
        ).all()
        categories = conn.execute(
            select(m.top_category, func.count())
            .where(m.customer_id.in_(select(members.c.customer_id)), m.top_category.is_not(None))
            .group_by(m.top_category)
            .order_by(func.count().desc())
            .limit(5)
        ).all()
        cluster = None
        if name.startswith("cluster:"):
            params = conn.execute(
                select(FittedModel.params)
                .where(FittedModel.kind == "kmeans")
                .order_by(FittedModel.id.desc())
                .limit(1)
            ).scalar()
            cluster = (params or {}).get("profiles", {}).get(name)
    data = {
        "segment": name,
        "as_of": snap.as_of,
        "size": snap.size,
        "entered": snap.entered,
        "left": snap.left,
        "profile": {
            "avg_orders": round(profile[0] or 0, 2),
            "avg_revenue": round(profile[1] or 0, 2),
            "avg_days_since_last_order": round(profile[2] or 0, 1),
            "avg_order_value": round(profile[3] or 0, 2),
            "top_locales": dict(locales),
            "top_categories": dict(categories),
            **({"cluster": cluster} if cluster else {}),
        },
    }
    if json_out:
        print_json(data)
        return
    flat = {k: v for k, v in data.items() if k != "profile"} | {
        k: v for k, v in data["profile"].items()
    }
    console.print(key_values(f"segment {name}", flat))


@app.command("preview")
def preview(
    file: Path = typer.Argument(..., help="A segment definition (YAML) not yet saved"),
    as_of: datetime | None = AS_OF,
    json_out: bool = JSON,
) -> None:
    """Size and a sample of members of a definition, against the features of the last refresh."""
    try:
        definition = load_file(file)
    except DefinitionError as exc:
        raise fail(str(exc)) from None
    with get_engine().connect() as conn:
        day = _day(as_of) if as_of else conn.execute(select(func.max(F.as_of))).scalar()
        if day is None:
            raise fail("no features yet: run `homecoming segments refresh` first")
        where = to_sql(definition.rule, as_of=day)
        size = conn.execute(select(func.count()).where(where)).scalar_one()
        sample = list(
            conn.execute(
                select(F.customer_id).where(where).order_by(F.customer_id).limit(10)
            ).scalars()
        )
    data = {"segment": definition.name, "as_of": day, "size": size, "sample_customer_ids": sample}
    if json_out:
        print_json(data)
    else:
        console.print(key_values(f"preview of {file.name}", data))


@app.command("validate")
def validate(json_out: bool = JSON) -> None:
    """Check every definition; exit 1 with each mistake's file, line and what would be valid."""
    definitions, errors = load_all()
    if json_out:
        print_json({"valid": [d.name for d in definitions], "errors": [str(e) for e in errors]})
    else:
        for e in errors:
            console.print(f"[red]{e}[/]", highlight=False)
        console.print(f"{len(definitions)} valid, {len(errors)} with mistakes")
    if errors:
        raise typer.Exit(1)


@app.command("refresh")
def refresh_cmd(as_of: datetime | None = AS_OF, json_out: bool = JSON) -> None:
    """Recompute features, RFM, predictions, clusters and rule segments; snapshot membership."""
    result = run_refresh(get_engine(), as_of=_day(as_of))
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
    rows = [(n, s, result.entered[n], result.left[n]) for n, s in sorted(result.sizes.items())]
    console.print(
        table(f"segments as of {result.as_of}", ["segment", "size", "entered", "left"], rows)
    )
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)


__all__ = ["SegmentMember", "app"]
