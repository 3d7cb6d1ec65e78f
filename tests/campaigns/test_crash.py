"""kill -9 at random points, and two workers at once: exactly one message per recipient.

Real processes (``tests/campaigns/sender.py``) run a campaign period and are killed with
SIGKILL at random moments (fixed seed) while planning or sending; a last run finishes the
period. The provider's own record is then counted per recipient: the outbox files, and
everything moto's SES received.
"""

from __future__ import annotations

import email
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.campaigns.conftest import ROOT_DIR, Moto, add_customers, add_segment, ledger

NEWS = """\
name: news
kind: newsletter
segments: [vip]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
"""
# Monday 13:00 in Berlin: the 10:00 wave is due and within its lateness limit.
PERIOD, NOW = "2026-W48", "2026-11-23T12:00:00+00:00"
RECIPIENTS = 60


def start(definition: Path, transport: str, moto: str | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.campaigns.sender", str(definition), PERIOD, NOW, transport]
    return subprocess.Popen(
        [*args, *([moto] if moto else [])],
        cwd=ROOT_DIR,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "ready", line


def finish(process: subprocess.Popen[str]) -> dict:
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0, out
    return json.loads(out.strip().splitlines()[-1])


def kill_at_random(definition: Path, transport: str, moto: str | None, rounds: int) -> int:
    """Start and SIGKILL senders; how many were killed before they finished."""
    chance = random.Random(20261123)
    killed = 0
    for _ in range(rounds):
        process = start(definition, transport, moto)
        wait_ready(process)
        time.sleep(chance.uniform(0.0, 0.5))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)
    return killed


@pytest.fixture
def setup(engine: Engine, outbox: Path, tmp_path: Path) -> Path:
    ids = add_customers(engine, RECIPIENTS)
    add_segment(engine, "vip", ids)
    definition = tmp_path / "news.yaml"
    definition.write_text(NEWS)
    return definition


def addresses_in_outbox(outbox: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        found[message["To"].addresses[0].addr_spec] += 1
    return found


def expected(engine: Engine) -> Counter[str]:
    return Counter(
        f"customer{r.customer_id}@example.org" for r in ledger(engine) if r.status == "sent"
    )


def test_kill_minus_nine_through_the_outbox(engine: Engine, setup: Path, outbox: Path) -> None:
    killed = kill_at_random(setup, "outbox", None, rounds=6)
    assert killed >= 3, "the kills must land while the sender works"
    final = finish(start(setup, "outbox"))
    assert final["uncertain"] == 0 and final["pending"] == 0
    rows = ledger(engine)
    assert len(rows) == RECIPIENTS and {r.status for r in rows} == {"sent"}
    received = addresses_in_outbox(outbox)
    assert received == expected(engine)
    assert set(received.values()) == {1} and len(received) == RECIPIENTS
    assert not list(outbox.glob(".*.tmp"))  # no half-written message left behind
    again = finish(start(setup, "outbox"))
    assert again["sent"] == 0 and again["already_sent"] == RECIPIENTS


def test_kill_minus_nine_against_ses(engine: Engine, setup: Path, aws: Moto) -> None:
    killed = kill_at_random(setup, "ses", aws.url, rounds=6)
    assert killed >= 3
    final = finish(start(setup, "ses", aws.url))
    assert final["uncertain"] == 0 and final["pending"] == 0
    per_recipient: Counter[str] = Counter()
    for raw in aws.raw_messages():
        message = email.message_from_string(raw["raw_data"], policy=default)
        per_recipient[message["To"].addresses[0].addr_spec] += 1
    assert per_recipient == expected(engine)
    assert len(per_recipient) == RECIPIENTS and set(per_recipient.values()) == {1}
    rows = {r.id: r for r in ledger(engine)}
    held = aws.ses_by_ledger_id()
    assert all(rows[i].provider_message_id == ids[0] for i, ids in held.items())


def test_two_workers_at_once_on_postgresql(engine: Engine, setup: Path, aws: Moto) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer; concurrent claims need PostgreSQL")
    first, second = start(setup, "ses", aws.url), start(setup, "ses", aws.url)
    results = [finish(first), finish(second)]
    assert sum(r["sent"] for r in results) == RECIPIENTS
    per_recipient: Counter[str] = Counter()
    for raw in aws.raw_messages():
        message = email.message_from_string(raw["raw_data"], policy=default)
        per_recipient[message["To"].addresses[0].addr_spec] += 1
    assert len(per_recipient) == RECIPIENTS and set(per_recipient.values()) == {1}
    assert {r.status for r in ledger(engine)} == {"sent"}
