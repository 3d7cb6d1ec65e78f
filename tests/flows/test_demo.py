"""The demo flow runs the loop on a fresh database and reports what the database holds."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from analytics.report import MIN_BASE
from models.settings import get_settings

SECRET = "s3cret-that-must-never-be-printed"


def test_demo_summary_matches_the_database(
    prefect_harness: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from prefect.client.orchestration import get_client

    from flows.demo import demo_flow

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HOMECOMING_SECRET_KEY", SECRET)

    # The demo hands its own database, outbox and journal to every step: the configured
    # ones stay untouched, and the process's settings are the same afterwards.
    unused_db, unused_outbox = tmp_path / "unused.db", tmp_path / "unused-outbox"
    monkeypatch.setenv("HOMECOMING_DATABASE_URL", f"sqlite:///{unused_db}")
    monkeypatch.setenv("HOMECOMING_OUTBOX_DIR", str(unused_outbox))
    monkeypatch.setenv("HOMECOMING_PUBLIC_URL", "http://127.0.0.1:8000")
    get_settings.cache_clear()
    summary = demo_flow(folder=str(tmp_path / "demo"), customers=400, seed=3)
    assert get_settings().database_url == f"sqlite:///{unused_db}"
    assert get_settings().public_url == "http://127.0.0.1:8000"
    assert not unused_db.exists() and not any(unused_outbox.rglob("*"))
    get_settings.cache_clear()
    db = sqlite3.connect(summary["database"])
    assert summary["customers"] == db.execute("select count(*) from customer").fetchone()[0] == 400
    # The repeat-purchase share by its definition, in pandas over the stored rows: orders
    # with a customer, a positive total and at least one item; customers with two or more.
    # The summary describes the store as generated, before its customers responded.
    orders = pd.read_sql_query(
        "select customer_id, total, items from orders where external_id not like 'R%'", db
    )
    counted = orders[orders.customer_id.notna() & (orders.total > 0) & (orders["items"] > 0)]
    per_customer = counted.groupby("customer_id").size()
    assert summary["orders"] == len(counted) > 0
    assert summary["repeat_purchase_share"] == pytest.approx(
        int((per_customer >= 2).sum()) / len(per_customer)
    )
    assert summary["quarantined"] == summary["quarantine_rows"] == 0

    # Campaigns: what the summary says was sent is in the ledger and in the outbox, once.
    runs = summary["campaigns"]
    assert {r["campaign"] for r in runs} == {
        "weekly_newsletter",
        "biweekly_winback",
        "autumn_promotion",
    }
    assert all(r["sent_again"] == 0 and r["already_sent"] == r["sent"] for r in runs)
    assert sum(r["sent"] for r in runs) > 0
    for r in runs:
        ledger = dict(
            db.execute(
                "select status, count(*) from message where campaign = ? and period = ? "
                "group by status",
                (r["campaign"], r["period"]),
            ).fetchall()
        )
        assert ledger.get("sent", 0) == r["sent"] and ledger.get("held_out", 0) == r["held_out"]
    sent_total = db.execute("select count(*) from message where status = 'sent'").fetchone()[0]
    outbox = Path(summary["database"]).parent / "outbox"
    assert len(list(outbox.rglob("*.eml"))) + len(list(outbox.rglob("*.json"))) == sent_total
    # Customers responded to the campaigns: the response orders are in the store, every
    # period the demo sent is measured, and no campaign without an effect is flagged.
    truth = json.loads((Path(summary["database"]).parent / "store" / "truth.json").read_text())
    assert (
        summary["responses"]
        == db.execute("select count(*) from orders where external_id like 'R%'").fetchone()[0]
    )
    effects = summary["effects"]
    assert len(effects) == len(truth["comparisons"]) > 0
    # A small store's last order may come before a late send's window ends: such a period
    # is shown as not observed yet, never as a rate.
    assert all(e["uplift"] is not None or "not observed yet" in e["warning"] for e in effects)
    assert any(e["uplift"] is not None for e in effects)
    assert not any(e["significant"] for e in effects if e["true_uplift"] == 0)
    # Surveys: answers arrived through the web service, and CSAT is the share of 4-5.
    surveys = summary["surveys"]
    answers = db.execute("select count(*) from survey_answer").fetchone()[0]
    assert surveys["answered"] == answers > 0
    scores = [s for (s,) in db.execute("select score from survey_answer where kind = 'csat'")]
    csat = {r["survey"]: r for r in surveys["results"]}["csat_after_ticket"]
    assert csat["csat_answers"] == len(scores) > 0
    if len(scores) >= MIN_BASE:
        assert csat["csat"] == pytest.approx(sum(s >= 4 for s in scores) / len(scores))
    else:  # too few answers for a rate: not available, never a misleading figure
        assert csat["csat"] is None
    html = Path(summary["report"]).read_text()
    assert "weekly_newsletter" in html and "csat_after_ticket" in html

    # No secret and no personal data in logs or artifacts, across the whole loop.
    with get_client(sync_client=True) as client:
        artifacts = json.dumps([a.data for a in client.read_artifacts()], default=str)
    printed = capfd.readouterr()
    said = "\n".join([caplog.text, printed.out, printed.err, artifacts])
    assert SECRET not in said
    people = db.execute("select email, first_name, last_name from customer").fetchall()
    assert len(said) > 1000 and "@example" not in said
    for email, first, last in people:
        assert not email or email.split("@")[0] not in said
        assert f"{first} {last}" not in said
