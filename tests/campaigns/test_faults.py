"""Exactly once under ambiguous provider answers and kill -9, with SES as production has it.

A fault-injecting proxy (``tests/campaigns/faults.py``) stands between the senders and a
real moto SES server: throttling, 5xx before and after the request reached SES, connections
dropped before and after, slow calls. Real sender processes run the campaign period
(``campaigns.run.run_period``: the composition the campaign flow runs with its tasks) and
are killed with SIGKILL at random moments, many of them inside a provider call. The
transport is configured as in production: reconciliation has only the send journal and
provider events, never moto's own record.

Without SES events, every row must end sent (and SES has it exactly once), failed with a
reason, or uncertain and reported, with no message sent twice. Then SES Send events flow
through SQS as the configuration set would publish them, and every uncertain row settles:
sent where SES has it, sent again where it does not, still exactly once.
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
from datetime import UTC, datetime, timedelta
from email.policy import default
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import Engine

from campaigns.channels.ses import SesTransport
from campaigns.events import sync_queue
from campaigns.run import RunResult, run_period
from models.settings import get_settings
from tests.campaigns.conftest import (
    ROOT_DIR,
    FakeRenderer,
    Moto,
    add_customers,
    add_segment,
    campaign,
    ledger,
)
from tests.campaigns.faults import FaultProxy

NEWS = """\
name: news
kind: newsletter
segments: [vip]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
"""
PERIOD, NOW = "2026-W48", "2026-11-23T12:00:00+00:00"
RECIPIENTS = 240
KILLS = 52
LEASE_MINUTES = 0.01  # 0.6 s: short, so the test can wait out lease and publishing delay


@pytest.fixture
def faulty(engine: Engine, aws: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Recipients, the campaign file, SES behind the proxy, a configuration set and queue."""
    ids = add_customers(engine, RECIPIENTS)
    add_segment(engine, "vip", ids)
    definition = tmp_path / "news.yaml"
    definition.write_text(NEWS)
    direct = {"endpoint_url": aws.url}
    boto3.client("sesv2", **direct).create_configuration_set(ConfigurationSetName="homecoming")
    queue = boto3.client("sqs", **direct).create_queue(QueueName="ses-events")["QueueUrl"]
    with FaultProxy(aws.url, seed=20261205) as proxy:
        for name, value in {
            "AWS_ENDPOINT_URL": proxy.url,
            "HOMECOMING_SES_CONFIGURATION_SET": "homecoming",
            "HOMECOMING_SQS_QUEUE_URL": queue,
            "HOMECOMING_SEND_LEASE_MINUTES": str(LEASE_MINUTES),
            "HOMECOMING_SES_EVENT_DELAY_MINUTES": "0.01",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("HOMECOMING_SES_SEND_EVENTS", raising=False)
        get_settings.cache_clear()
        yield definition, proxy, queue
    get_settings.cache_clear()


def fork_server(definition: Path) -> subprocess.Popen[str]:
    """A process with everything imported that forks a sender on each line it reads."""
    args = [sys.executable, "-m", "tests.campaigns.sender", str(definition), PERIOD, NOW]
    process = subprocess.Popen(
        [*args, "ses-production"],
        cwd=ROOT_DIR,
        env={**os.environ, "SENDER_FORK_SERVER": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_at_random(definition: Path, proxy: FaultProxy) -> tuple[int, int]:
    """SIGKILL senders at random moments until KILLS landed; (kills, kills inside a call)."""
    chance = random.Random(5)
    killed = inside = 0
    server = fork_server(definition)
    assert server.stdin is not None and server.stdout is not None
    try:
        for round in range(KILLS * 3):
            server.stdin.write("go\n")
            server.stdin.flush()
            calls = proxy.calls
            pid = int(server.stdout.readline())
            if round % 2:  # at a random moment: planning, reconciling, between calls...
                time.sleep(chance.uniform(0.05, 0.6))
            else:  # just after a provider call begins
                deadline = time.monotonic() + 3
                while proxy.calls == calls and time.monotonic() < deadline:
                    time.sleep(0.002)
                time.sleep(chance.uniform(0, 0.03))
            if alive(pid):
                inside += proxy.in_flight > 0
                os.kill(pid, signal.SIGKILL)
                killed += 1
            while alive(pid):
                time.sleep(0.01)
            if killed >= KILLS:
                break
    finally:
        server.kill()
        server.wait(timeout=60)
    return killed, inside


def run(engine: Engine) -> RunResult:
    """One run in this process, SES as in production (no record of moto's to look at)."""
    return run_period(
        engine,
        campaign=campaign(NEWS),
        period=PERIOD,
        now=datetime.fromisoformat(NOW),
        renderer=FakeRenderer(),
        email_transport=SesTransport.from_settings(get_settings(), base_delay=0.01),
        batch_size=7,
    )


def run_until_settled(engine: Engine) -> RunResult:
    """Run again until nothing is left to send (each ambiguous answer stops a run)."""
    for _ in range(200):
        result = run(engine)
        if result.pending == 0 and not result.send.stopped:
            return result
    raise AssertionError("the period never finished")


def received(aws: Moto) -> Counter[int]:
    """How many times SES took each ledger row's message."""
    return Counter({i: len(ids) for i, ids in aws.ses_by_ledger_id().items()})


def publish_send_events(aws: Moto, queue: str) -> int:
    """What the configuration set does: a Send event per accepted message, through SQS."""
    sqs = boto3.client("sqs", endpoint_url=aws.url)
    published = 0
    for ledger_id, message_ids in aws.ses_by_ledger_id().items():
        for message_id in message_ids:
            event = {
                "eventType": "Send",
                "mail": {
                    "timestamp": datetime.now(UTC).isoformat(),
                    "messageId": message_id,
                    "destination": [f"row{ledger_id}@example.org"],
                    "tags": {"ledger_id": [str(ledger_id)], "campaign": ["news"]},
                },
                "send": {},
            }
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event))
            published += 1
    return published


def wait_out_the_lease_and_delay(engine: Engine) -> None:
    """Until every dead claim is older than its lease plus SES's publishing delay."""
    settings = get_settings()
    margin = timedelta(minutes=settings.send_lease_minutes + settings.ses_event_delay_minutes)
    claims = [r.claimed_at for r in ledger(engine) if r.status == "sending" and r.claimed_at]
    if claims:
        wait = (max(claims) + margin - datetime.now(UTC)).total_seconds()
        time.sleep(max(wait, 0) + 0.2)


def test_ambiguous_answers_and_kills_never_duplicate_and_events_settle_every_row(
    engine: Engine, aws: Moto, faulty: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition, proxy, queue = faulty
    killed, inside = kill_at_random(definition, proxy)
    assert killed >= KILLS
    assert inside >= 10, f"only {inside} kills landed inside a provider call"
    assert min(proxy.met[f] for f in proxy.odds) > 0  # every fault was met

    # Without SES events: nothing twice, nothing lost in silence.
    result = run_until_settled(engine)
    rows = ledger(engine)
    taken = received(aws)
    assert max(taken.values()) == 1, "a message reached SES twice"
    by_status = Counter(r.status for r in rows)
    assert set(by_status) <= {"sent", "failed", "sending"}
    assert all(taken[r.id] == 1 for r in rows if r.status == "sent")
    assert all(r.error for r in rows if r.status == "failed")
    assert all(taken[r.id] == 0 for r in rows if r.status == "failed")
    assert result.uncertain == by_status["sending"] > 0  # held and reported, not resent
    uncertain = {r.id for r in rows if r.status == "sending"}
    assert uncertain & set(taken) and uncertain - set(taken)  # both kinds are held

    # SES events flow through SQS: every uncertain row settles, each message once.
    monkeypatch.setenv("HOMECOMING_SES_SEND_EVENTS", "true")
    get_settings.cache_clear()
    proxy.set_odds({"pass": 1.0})
    assert publish_send_events(aws, queue) == sum(taken.values())
    wait_out_the_lease_and_delay(engine)
    synced = sync_queue(engine, wait_seconds=0)
    assert synced["received"] == sum(taken.values())
    final = run_until_settled(engine)
    evidence = final.reconciled.evidence
    assert evidence["provider_event"] == len(uncertain & set(taken))
    assert evidence["no_send_event"] == len(uncertain - set(taken))
    rows = ledger(engine)
    assert final.uncertain == 0 and {r.status for r in rows} <= {"sent", "failed"}
    taken = received(aws)
    assert set(taken.values()) == {1}
    assert {r.id for r in rows if r.status == "sent"} == set(taken)
    per_recipient = Counter(
        email.message_from_string(raw["raw_data"], policy=default)["To"].addresses[0].addr_spec
        for raw in aws.raw_messages()
    )
    assert len(per_recipient) == by_status["sent"] + len(uncertain) and set(
        per_recipient.values()
    ) == {1}
