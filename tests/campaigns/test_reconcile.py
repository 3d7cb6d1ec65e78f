"""Rows caught mid-send are settled from evidence before anything is resent."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from campaigns import journal as journals
from campaigns.channels.base import Delivery, Outgoing
from campaigns.channels.outbox import OutboxTransport
from campaigns.ledger import ACTIVE_CLAIMERS, HOST, claim, is_abandoned, new_claimer
from campaigns.reconcile import reconcile
from campaigns.run import run_period
from models.campaigns import Message
from models.settings import get_settings
from models.surveys import ProviderEvent
from tests.campaigns.conftest import FakeRenderer, add_customers, add_segment, campaign, ledger

NEWS = """\
name: news
kind: newsletter
segments: [vip]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
"""
# Monday 13:00 in Berlin: the 10:00 wave is due and within its lateness limit.
LATER = datetime(2026, 11, 23, 12, tzinfo=UTC)


class Provider:
    """A provider that keeps what it was given and cannot be asked about it afterwards."""

    name = "provider"
    channel = "email"
    authoritative = False

    def __init__(self) -> None:
        self.received: list[int] = []

    def send(self, item: Outgoing) -> Delivery:
        self.received.append(item.ledger_id)
        return Delivery(f"p-{item.ledger_id}")

    def lookup(self, ledger_ids: list[int]) -> dict[int, str]:
        return {}

    def close(self) -> None:
        pass


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def planned(engine: Engine, count: int) -> list[int]:
    ids = add_customers(engine, count)
    add_segment(engine, "vip", ids)
    run_period(
        engine,
        campaign=campaign(NEWS),
        period="2026-W48",
        now=LATER,
        renderer=FakeRenderer(),
        send=False,
    )
    return [r.id for r in ledger(engine)]


def crash_claim(engine: Engine, count: int, claimer: str) -> list[int]:
    with engine.begin() as conn:
        return claim(
            conn, campaign="news", period="2026-W48", now=LATER, limit=count, claimer=claimer
        )


def test_a_claim_is_abandoned_when_its_process_is_gone() -> None:
    lease = timedelta(minutes=30)
    fresh = datetime.now(UTC)
    assert is_abandoned(f"{HOST}:{dead_pid()}:abc", fresh, lease=lease)
    mine = new_claimer()
    assert is_abandoned(mine, fresh, lease=lease)  # this process, but no session holds it
    ACTIVE_CLAIMERS.add(mine)
    try:
        assert not is_abandoned(mine, fresh, lease=lease)
    finally:
        ACTIVE_CLAIMERS.discard(mine)
    assert not is_abandoned("elsewhere:1:abc", fresh, lease=lease)  # another host: the lease
    assert is_abandoned("elsewhere:1:abc", fresh - timedelta(hours=1), lease=lease)


def test_the_outbox_itself_proves_what_was_sent(engine: Engine, tmp_path: Path) -> None:
    ids = planned(engine, 6)
    claimer = f"{HOST}:{dead_pid()}:crashed"
    claimed = crash_claim(engine, 4, claimer)
    assert claimed == ids[:4]
    outbox = OutboxTransport(tmp_path / "outbox", channel="email")
    # The crashed process had written two messages before it died.
    renderer = FakeRenderer()
    for ledger_id in claimed[:2]:
        context = {"customer": {"first_name": "Ada"}, "links": {"unsubscribe": "https://u"}}
        outbox.send(
            Outgoing(
                ledger_id=ledger_id,
                customer_id=1,
                campaign="news",
                kind="newsletter",
                channel="email",
                sender="s@example.com",
                to="a@example.org",
                email=renderer.email("newsletter", locale="en", context=context),
            )
        )
    # ... and was killed while writing the third: a temporary file, never linked.
    leftover = outbox.directory / f".{claimed[2]}.0123abcd.tmp"
    leftover.write_bytes(b"Subject: half a message")
    report = reconcile(
        engine,
        campaign="news",
        period="2026-W48",
        transport=outbox,
        settings=get_settings(),
        now=LATER,
    )
    assert (report.confirmed_sent, report.resent, report.uncertain) == (2, 2, 0)
    assert not leftover.exists()
    result = run_period(
        engine,
        campaign=campaign(NEWS),
        period="2026-W48",
        now=LATER,
        renderer=renderer,
        email_transport=outbox,
    )
    assert result.send.sent == 4 and result.ledger.get("sent") == 6
    assert sorted(int(p.stem) for p in (tmp_path / "outbox").glob("*.eml")) == ids


def test_the_journal_settles_each_row_and_the_rest_waits(engine: Engine, tmp_path: Path) -> None:
    ids = planned(engine, 7)
    directory = tmp_path / "journal"
    claimer = f"{HOST}:{dead_pid()}:crashed"
    crash_claim(engine, 7, claimer)
    note = journals.Journal(directory, claimer)
    note.attempt(ids[0])
    note.accepted(ids[0], "ses-1")  # sent
    note.attempt(ids[1])
    note.refused(ids[1], "MessageRejected: bad address")  # refused for good
    note.attempt(ids[2])
    note.not_sent(ids[2])  # throttled: definitely not taken
    note.attempt(ids[3])  # no answer: uncertain
    note.attempt(ids[4])  # no answer, but a provider event arrived for it
    note.attempt(ids[5])  # no answer, and long ago
    note.close()  # ids[6]: never attempted
    with engine.begin() as conn:
        conn.execute(
            insert(ProviderEvent),
            [
                {
                    "event_key": "ses:test-1",
                    "event_type": "delivery",
                    "message_id": ids[4],
                    "provider_message_id": "ses-5",
                    "outcome": "recorded",
                    "occurred_at": LATER,
                }
            ],
        )
        conn.execute(
            Message.__table__.update()
            .where(Message.id == ids[5])
            .values(claimed_at=datetime.now(UTC) - timedelta(hours=3))
        )
    provider = Provider()
    report = reconcile(
        engine,
        campaign="news",
        period="2026-W48",
        transport=provider,
        journal_dir=directory,
        settings=get_settings(),
    )
    assert report.as_dict() | {"evidence": None} == {
        "checked": 7,
        "in_progress": 0,
        "confirmed_sent": 2,
        "failed": 1,
        "resent": 2,
        "resent_after_grace": 0,
        "uncertain": 2,
        "evidence": None,
    }
    rows = {r.id: r for r in ledger(engine)}
    assert (rows[ids[0]].status, rows[ids[0]].provider_message_id) == ("sent", "ses-1")
    assert (rows[ids[1]].status, rows[ids[1]].error) == ("failed", "MessageRejected")
    assert rows[ids[2]].status == rows[ids[6]].status == "planned"
    # No evidence either way, even past the grace period: reported, never guessed.
    assert rows[ids[3]].status == rows[ids[5]].status == "sending"
    assert (rows[ids[4]].status, rows[ids[4]].provider_message_id) == ("sent", "ses-5")
    # A second reconciliation changes nothing more.
    again = reconcile(
        engine,
        campaign="news",
        period="2026-W48",
        transport=provider,
        journal_dir=directory,
        settings=get_settings(),
    )
    assert (again.settled, again.uncertain) == (0, 2)


def test_claims_from_another_host_wait_for_their_lease(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned(engine, 2)
    crash_claim(engine, 2, "another-host:4242:abc")
    report = reconcile(
        engine,
        campaign="news",
        period="2026-W48",
        transport=Provider(),
        journal_dir=tmp_path,
        settings=get_settings(),
    )
    assert (report.in_progress, report.settled) == (2, 0)
    with engine.begin() as conn:
        conn.execute(
            Message.__table__.update().values(claimed_at=datetime.now(UTC) - timedelta(hours=2))
        )
    report = reconcile(
        engine,
        campaign="news",
        period="2026-W48",
        transport=Provider(),
        journal_dir=tmp_path,
        settings=get_settings(),
    )
    assert (report.uncertain, report.settled) == (2, 0)  # lease and grace ran out, no evidence
    # Resending without evidence is the operator's explicit choice: a setting, or a command.
    monkeypatch.setenv("HOMECOMING_RESEND_UNCERTAIN_AFTER_GRACE", "true")
    get_settings.cache_clear()
    report = reconcile(
        engine,
        campaign="news",
        period="2026-W48",
        transport=Provider(),
        journal_dir=tmp_path,
        settings=get_settings(),
    )
    assert report.resent_after_grace == 2
    assert {r.status for r in ledger(engine)} == {"planned"}


@pytest.mark.parametrize("claimer_alive", [True, False])
def test_a_live_claim_in_this_process_is_left_alone(
    engine: Engine, tmp_path: Path, claimer_alive: bool
) -> None:
    planned(engine, 2)
    claimer = new_claimer()
    if claimer_alive:
        ACTIVE_CLAIMERS.add(claimer)
    try:
        crash_claim(engine, 2, claimer)
        report = reconcile(
            engine,
            campaign="news",
            period="2026-W48",
            transport=Provider(),
            journal_dir=tmp_path,
            settings=get_settings(),
        )
    finally:
        ACTIVE_CLAIMERS.discard(claimer)
    if claimer_alive:
        assert report.in_progress == 2 and report.settled == 0
    else:  # a Prefect task retry in the same process: no journal file, so unknown
        assert report.uncertain == 2
