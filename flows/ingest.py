"""The ``ingest`` flow: a store export into the database, with a summary artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from ingest.run import ingest_file


@task(retries=2, retry_delay_seconds=5)
def ingest_task(kind: str, path: str, fmt: str) -> dict[str, Any]:
    """Idempotent: a retry after a crash loads only what the first attempt did not."""
    return ingest_file(kind=kind, path=Path(path), fmt=fmt).as_dict()


def publish_summaries(summaries: list[dict[str, Any]]) -> None:
    columns = (
        "kind",
        "format",
        "source",
        "read",
        "loaded",
        "guest_lines",
        "cancellations",
        "quarantined",
        "duplicates",
    )
    create_table_artifact(
        key="ingest-summary",
        table=[{c: s[c] for c in columns} for s in summaries],
        description="Rows read, loaded, quarantined and already present, per file (counts only).",
    )


@flow(name="ingest", log_prints=False)
def ingest_flow(kind: str, path: str, fmt: str = "generic") -> dict[str, Any]:
    summary = ingest_task(kind, path, fmt)
    publish_summaries([summary])
    return summary
