"""The ``ingest`` flow: a store export into the database, with a summary artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from ingest.errors import IngestError, StoreError
from ingest.run import ingest_file

COLUMNS = (
    "kind",
    "format",
    "read",
    "loaded",
    "guest_lines",
    "cancellations",
    "quarantined",
    "duplicates",
)


def _worth_retrying(_task: Task[..., Any], _run: TaskRun, state: State[Any]) -> bool:
    """A database hiccup (a lock, a lost connection) may pass; a file that cannot be read, or
    rows the database refuses, will not do better in 5 s."""
    error = state.result(raise_on_failure=False)
    if isinstance(error, StoreError):
        return error.transient
    return not isinstance(error, IngestError)


# Nothing of a run is persisted: a result or a stored exception could hold a row's values,
# readable by anyone who can read PREFECT_HOME. The summary holds counts only.
@task(
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=_worth_retrying,
    cache_policy=NONE,
    persist_result=False,
)
def ingest_task(kind: str, path: str, fmt: str) -> dict[str, Any]:
    """Idempotent: a retry after a crash loads only what the first attempt did not."""
    return ingest_file(kind=kind, path=Path(path), fmt=fmt).as_dict()


def publish_summaries(summaries: list[dict[str, Any]]) -> None:
    """One table artifact row per file: counts only, never file contents or customer data."""
    create_table_artifact(
        key="ingest-summary",
        table=[{c: s[c] for c in COLUMNS} for s in summaries],
        description="Rows read, loaded, quarantined and already present, per file (counts only).",
    )


@flow(name="ingest", log_prints=False, persist_result=False)
def ingest_flow(kind: str, path: str, fmt: str = "generic") -> dict[str, Any]:
    """Ingest one file (see ``homecoming ingest --help``) and publish its counts."""
    summary = ingest_task(kind, path, fmt)
    publish_summaries([summary])
    get_run_logger().info(
        "ingested %s (%s): %s",
        kind,
        fmt,
        ", ".join(f"{c} {summary[c]}" for c in COLUMNS[2:]),
    )
    return summary
