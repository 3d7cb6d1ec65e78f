"""A small store with segments, campaign ledger rows and survey answers, for report tests."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from ingest.run import ingest_file
from ingest.synthetic import write_store
from models import Customer, Message, SurveyAnswer
from segments.refresh import refresh

END = date(2026, 11, 20)


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("analytics-store")
    write_store(out=out, customers=600, seed=21, end=END)
    return out


@pytest.fixture
def loaded(engine: Engine, small_store: Path) -> Engine:
    for kind in ("customers", "orders", "interactions", "shipments", "devices"):
        ingest_file(kind=kind, path=small_store / f"{kind}.csv", engine=engine)
    refresh(engine, as_of=END - timedelta(days=120), with_models=False)
    refresh(engine, as_of=END - timedelta(days=60), with_models=False)
    rng = random.Random(4)
    with engine.begin() as conn:
        ids = list(conn.execute(select(Customer.id)).scalars())
        messages, answers = [], []
        for cid in ids:
            status = "held_out" if rng.random() < 0.2 else "sent"
            at = datetime(2026, 8, 3, 9, tzinfo=UTC) + timedelta(hours=rng.randrange(48))
            messages.append(
                {
                    "campaign": "newsletter", "period": "2026-W32", "customer_id": cid, "channel": "email",
                    "status": status, "variant": None if status == "held_out" else rng.choice(["a", "b"]),
                    "send_at": at, "sent_at": at if status == "sent" else None, "created_at": at,
                }
            )  # fmt: skip
        conn.execute(insert(Message), messages)
        sent = conn.execute(
            select(Message.id, Message.customer_id).where(Message.status == "sent")
        ).all()
        for mid, cid in sent[:150]:
            at = datetime(2026, rng.choice([6, 7, 8, 9]), rng.randrange(1, 28), tzinfo=UTC)
            answers.append(
                {
                    "message_id": mid,
                    "customer_id": cid,
                    "survey": rng.choice(["csat_after_ticket", "nps"]),
                    "kind": "csat",
                    "score": rng.randint(1, 5),
                    "answered_at": at,
                    "updated_at": at,
                }
            )
        for a in answers[100:]:
            a.update(kind="nps", survey="nps", score=rng.randint(0, 10))
        conn.execute(insert(SurveyAnswer), answers)
    return engine
