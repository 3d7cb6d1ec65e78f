"""``homecoming generate --respond``: response orders to what the ledger says was sent."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, insert, select
from typer.testing import CliRunner

from cli.main import app
from ingest.run import ingest_file
from models import Message, Order
from models.store import Customer
from synthetic import write_store

END = date(2026, 11, 20)


def test_respond_writes_loads_and_states_the_truth(engine: Engine, tmp_path: Path) -> None:
    write_store(out=tmp_path / "store", customers=300, seed=4, end=END)
    for kind in ("customers", "orders"):
        ingest_file(kind=kind, path=tmp_path / "store" / f"{kind}.csv", engine=engine)
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    with engine.begin() as conn:
        ids = conn.execute(select(Customer.id).order_by(Customer.id)).scalars().all()
        before = conn.scalar(select(func.count()).select_from(Order))
        conn.execute(
            insert(Message),
            [{"campaign": "winback", "period": "p1", "customer_id": c, "channel": "email",
              "kind": "winback", "status": "held_out" if i % 10 == 0 else "sent",
              "send_at": t0, "sent_at": None if i % 10 == 0 else t0 + timedelta(minutes=i),
              "created_at": t0} for i, c in enumerate(ids)],
        )  # fmt: skip
    out = tmp_path / "responses"
    result = CliRunner().invoke(
        app, ["generate", "--respond", "--out", str(out), "--end", "2026-11-20", "--json"]
    )
    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)
    with (out / "responses.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert said["responses"] == len(rows) > 0 and said["quarantined"] == 0
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Order)) == before + len(rows)
    truth = json.loads((out / "truth.json").read_text())
    [whole] = truth["comparisons"]
    assert (whole["campaign"], whole["period"], whole["variant"]) == ("winback", "p1", "all")
    assert whole["recipients"] == sum(1 for i in range(len(ids)) if i % 10)
    assert 0 < whole["true_uplift"] <= max(truth["effects"]["winback"].values())
    # Responders are recipients, never the hold-out.
    held = {i for i in range(len(ids)) if i % 10 == 0}
    with engine.connect() as conn:
        external = dict(conn.execute(select(Customer.id, Customer.external_id)).tuples().all())
    held_out = {external[ids[i]] for i in held}
    assert not held_out & {r["customer_id"] for r in rows}
