"""The last moment before each provider call: consent as it is now, and a claim that is
still ours, kept alive while a slow batch is sent."""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from campaigns.channels.base import Delivery, Outgoing
from campaigns.consent import set_consent
from campaigns.run import run_period
from models.campaigns import Message
from models.db import get_engine
from models.settings import get_settings
from models.store import ConsentStatus
from tests.campaigns.conftest import FakeRenderer, add_customers, add_segment, campaign, ledger

NEWS = """\
name: news
kind: newsletter
segments: [vip]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
"""
ON_TIME = datetime(2026, 11, 23, 10, tzinfo=UTC)  # Monday, an hour after the Berlin send time


class Recorder:
    """A provider that notes each message it takes in a file (shared across processes)."""

    name = "recorder"
    channel = "email"
    authoritative = False

    def __init__(self, path: Path, *, pause: float = 0.0, engine: Engine | None = None) -> None:
        self.path = path
        self.pause = pause
        self.engine = engine

    def send(self, item: Outgoing) -> Delivery:
        time.sleep(self.pause)
        with self.path.open("a") as out:
            out.write(f"{item.ledger_id}\n")
        if self.engine is not None:  # the next customer unsubscribes while this one is sent
            with self.engine.begin() as conn:
                set_consent(
                    conn,
                    customer_id=item.customer_id + 1,
                    channel="email",
                    status=ConsentStatus.unsubscribed,
                    source="unsubscribe link",
                    at=datetime.now(UTC),
                )
        return Delivery(f"p-{item.ledger_id}")

    def lookup(self, ledger_ids: list[int]) -> dict[int, str]:
        return {}

    def close(self) -> None:
        pass


def test_an_unsubscribe_during_a_send_is_honoured_by_the_very_next_message(
    engine: Engine, tmp_path: Path
) -> None:
    ids = add_customers(engine, 6)
    add_segment(engine, "vip", ids)
    sent = tmp_path / "sent.txt"
    result = run_period(
        engine,
        campaign=campaign(NEWS),
        period="2026-W48",
        now=ON_TIME,
        renderer=FakeRenderer(),
        email_transport=Recorder(sent, engine=engine),
        journal_dir=tmp_path / "journal",
    )
    rows = {r.customer_id: r for r in ledger(engine)}
    by_id = {r.id: r.customer_id for r in rows.values()}
    got = [by_id[int(line)] for line in sent.read_text().split()]
    # The first customer is sent to and the second unsubscribes meanwhile: never sent to;
    # the third is, and the fourth unsubscribes, and so on.
    assert got == [1, 3, 5]
    assert [rows[c].reason for c in (2, 4, 6)] == ["unsubscribed"] * 3
    assert {rows[c].status for c in (2, 4, 6)} == {"suppressed"}
    assert result.send.sent == 3


def _planned(engine: Engine, count: int) -> None:
    """``count`` customers with the period planned and nothing sent yet."""
    add_segment(engine, "vip", add_customers(engine, count))
    run_period(
        engine,
        campaign=campaign(NEWS),
        period="2026-W48",
        now=ON_TIME,
        renderer=FakeRenderer(),
        send=False,
    )


def _worker(url: str, folder: str, pause: float, start_after: float) -> dict[str, Any]:
    """One worker process: reconcile, then send what is due, slowly."""
    time.sleep(start_after)
    os.environ["HOMECOMING_DATABASE_URL"] = url
    os.environ["HOMECOMING_SEND_LEASE_MINUTES"] = str(1 / 60)  # one second
    get_settings.cache_clear()
    result = run_period(
        get_engine(url),
        campaign=campaign(NEWS),
        period="2026-W48",
        now=ON_TIME,
        renderer=FakeRenderer(),
        email_transport=Recorder(Path(folder) / "sent.txt", pause=pause),
        journal_dir=Path(folder) / "journal",
        batch_size=40,
    )
    return result.reconciled.as_dict() | {"sent": result.send.sent}


def test_two_workers_with_a_lease_shorter_than_a_batch_send_each_message_once(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """A batch of 40 at 50 ms a message takes 2 s, twice the lease: the second worker, started
    while the first is at it, neither takes the live claim nor calls its rows uncertain."""
    _planned(engine, 80)
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(2) as pool:
        first = pool.apply_async(_worker, (database_url, str(tmp_path), 0.05, 0.0))
        second = pool.apply_async(_worker, (database_url, str(tmp_path), 0.05, 1.5))
        results = [first.get(timeout=120), second.get(timeout=120)]
    sent = [int(line) for line in (tmp_path / "sent.txt").read_text().split()]
    assert sorted(sent) == sorted(r.id for r in ledger(engine)), "each message exactly once"
    assert {r.status for r in ledger(engine)} == {"sent"}
    assert sum(r["sent"] for r in results) == 80
    assert all(r["uncertain"] == 0 and r["resent"] == 0 for r in results), results


@pytest.mark.parametrize("resend", [False, True])
def test_resending_uncertain_rows_is_an_explicit_command(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resend: bool
) -> None:
    from typer.testing import CliRunner

    from campaigns.ledger import claim
    from cli.main import app

    folder = tmp_path / "store"
    (folder / "campaigns").mkdir(parents=True)
    (folder / "campaigns" / "news.yaml").write_text(NEWS)
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(folder))
    get_settings.cache_clear()
    _planned(engine, 3)
    with engine.begin() as conn:  # a worker on another machine that died mid-send long ago
        claim(conn, campaign="news", period="2026-W48", now=ON_TIME, limit=3, claimer="gone:1:x")
        conn.execute(Message.__table__.update().values(claimed_at=ON_TIME))
    args = ["campaigns", "resend-uncertain", "news", "--period", "2026-W48", "--json"]
    outcome = CliRunner().invoke(app, args + (["--yes"] if resend else []))
    if not resend:
        assert outcome.exit_code == 2 and "--yes" in outcome.output
        assert {r.status for r in ledger(engine)} == {"sending"}
        return
    assert outcome.exit_code == 0, outcome.output
    assert '"released": 3' in outcome.stdout
    assert {r.status for r in ledger(engine)} == {"planned"}
