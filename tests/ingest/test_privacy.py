"""No personal data in Prefect: a database error in the ingest flow leaves no address, name or
birthday in its logs, state messages, or anything under PREFECT_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, text

import ingest.bulk
from tests.ingest.helpers import write

SECRETS = ("zelda.quixote@example.org", "Quixote", "Zelda", "1987-06-05", "mallory.k@example.org")


@pytest.fixture
def refusing_database(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The database refuses one customer, and the rows go through SQLAlchemy with their
    values as parameters, as PostgreSQL's batches do: its error would carry all of them."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the trigger is written for SQLite")

    def through_sqlalchemy(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        conn.execute(table.insert(), list(rows))

    monkeypatch.setattr(ingest.bulk, "_sqlite_ignore", through_sqlalchemy)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_mallory BEFORE INSERT ON customer "
                "WHEN NEW.last_name = 'Kowalski' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_mallory"))


def _files_holding(root: Path, secrets: Sequence[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {s}" for s in secrets if s.encode() in data]
    return found


def test_a_database_error_in_the_flow_keeps_personal_data_out_of_prefect(
    database_url: str, refusing_database: Engine, prefect_harness: None, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogWorker

    from flows.ingest import ingest_flow

    path = write(
        tmp_path / "customers.csv",
        "customer_id,email,first_name,last_name,birthday",
        "c1,zelda.quixote@example.org,Zelda,Quixote,1987-06-05",
        "c2,mallory.k@example.org,Mallory,Kowalski,1990-01-01",
    )
    state = ingest_flow("customers", str(path), "generic", return_state=True)
    assert state.is_failed()
    APILogWorker.drain_all(timeout=10)
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run_id)
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    messages = [flow_run.state.message or "", *(t.state.message or "" for t in task_runs)]
    assert any("the database refused lines 2-3 (table customer" in m for m in messages), messages
    [task_run] = task_runs
    assert task_run.run_count == 1  # a refusal is not retried
    written = [log.message for log in logs]
    assert any("the database refused" in m for m in written), written
    for secret in SECRETS:
        assert not [m for m in messages + written if secret in m], secret
    assert _files_holding(Path(os.environ["PREFECT_HOME"]), SECRETS) == []
