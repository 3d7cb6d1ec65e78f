"""The ``refresh-segments`` flow: recompute every segment and publish sizes and changes."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE

from flows.naming import timed
from models.db import get_engine
from segments.refresh import RefreshResult, refresh


@task(retries=1, retry_delay_seconds=10, cache_policy=NONE, persist_result=False)
def refresh_task(as_of: date) -> RefreshResult:
    """Idempotent: a refresh of the same date replaces that date's snapshot."""
    return refresh(get_engine(), as_of=as_of)


@flow(name="refresh-segments", flow_run_name=timed("refresh-segments"))
def refresh_segments_flow(as_of: str | None = None) -> dict[str, Any]:
    """Features, RFM, predictions, clusters, rules and the membership snapshot, as of a day."""
    result = refresh_task(date.fromisoformat(as_of) if as_of else date.today())
    logger = get_run_logger()
    for warning in result.warnings:
        logger.warning(warning)
    create_table_artifact(
        key="segment-sizes",
        table=result.rows(),
        description=(
            f"Segment sizes as of {result.as_of} ({result.customers} customers), with who "
            f"entered and left since each segment's previous refresh. "
            f"Warnings: {len(result.warnings)}."
        ),
    )
    return result.as_dict()
