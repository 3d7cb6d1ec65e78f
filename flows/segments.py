"""The ``refresh-segments`` flow: recompute every segment and publish sizes and changes."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from models.db import get_engine
from segments.refresh import RefreshResult, refresh


def sizes_table(result: RefreshResult) -> list[dict[str, Any]]:
    return [
        {"segment": name, "size": size, "entered": result.entered[name], "left": result.left[name]}
        for name, size in sorted(result.sizes.items())
    ]


@task(retries=1, retry_delay_seconds=10)
def refresh_task(as_of: date) -> RefreshResult:
    """Idempotent: a refresh of the same date replaces that date's snapshot."""
    return refresh(get_engine(), as_of=as_of)


@flow(name="refresh-segments")
def refresh_segments_flow(as_of: str | None = None) -> dict[str, Any]:
    result = refresh_task(date.fromisoformat(as_of) if as_of else date.today())
    create_table_artifact(
        key="segment-sizes",
        table=sizes_table(result),
        description=f"Segment sizes as of {result.as_of}, with who entered and left since the previous refresh.",
    )
    return asdict(result)
