"""The demo flow runs the loop on a fresh database and reports what the database holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from models.settings import get_settings


def test_demo_summary_matches_the_database(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.demo import demo_flow

    # The demo points the process at its own database and outbox; restore both afterwards.
    monkeypatch.setenv("HOMECOMING_DATABASE_URL", "sqlite:///unused.db")
    monkeypatch.setenv("HOMECOMING_OUTBOX_DIR", str(tmp_path / "unused-outbox"))
    summary = demo_flow(folder=str(tmp_path / "demo"), customers=400, seed=3)
    get_settings.cache_clear()
    db = sqlite3.connect(summary["database"])
    assert summary["customers"] == db.execute("select count(*) from customer").fetchone()[0] == 400
    counts = db.execute(
        "select count(*), sum(n >= 2) from (select customer_id, count(*) n from orders "
        "where customer_id is not null and total > 0 group by customer_id)"
    ).fetchone()
    assert summary["repeat_purchase_share"] == round(counts[1] / counts[0], 4)
    assert summary["quarantined"] == summary["quarantine_rows"] == 0
