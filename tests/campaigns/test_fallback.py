"""Channel fallback: a customer who cannot be reached on the campaign's channel gets the
message on the fallback channel instead, once, within the caps and the hold-out."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, insert

from campaigns.campaign import Campaign
from campaigns.channels.outbox import OutboxTransport
from campaigns.definitions import load_all
from campaigns.eligibility import is_held_out
from campaigns.run import run_period
from models.store import Consent
from tests.campaigns.conftest import (
    FakeRenderer,
    add_customers,
    add_devices,
    add_segment,
    campaign,
    ledger,
    set_consent,
)

NEWS = """\
name: news
kind: newsletter
channel: email
fallback: push
segments: [vip]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
"""
PUSH_NEWS = """\
name: push_news
kind: newsletter
channel: push
segments: [vip]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
caps: {count: 1, days: 7}
"""
LATER = datetime(2026, 11, 23, 13, tzinfo=UTC)  # Monday 14:00 in Berlin: due, not too late


def consent(engine: Engine, ids: Iterable[int], channel: str, status: str = "subscribed") -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Consent),
            [
                {
                    "customer_id": i,
                    "channel": channel,
                    "status": status,
                    "source": "test",
                    "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
                }
                for i in ids
            ],
        )


def run(engine: Engine, definition: Campaign, outbox: Path, **kwargs):
    return run_period(
        engine,
        campaign=definition,
        period="2026-W48",
        now=LATER,
        renderer=FakeRenderer(),
        email_transport=OutboxTransport(outbox / "email", channel="email"),
        push_transport=OutboxTransport(outbox / "push", channel="push"),
        **kwargs,
    )


def store(engine: Engine) -> None:
    """1-4 consent to email; 5-8 to push only, with a device; 9 unsubscribed from email
    and consents to push, with a device; 10 consents to push but has no device; 11
    complained about email and consents to push."""
    add_customers(engine, 4)
    add_customers(engine, 4, start=5, consent="subscribed", channel="push")
    add_customers(engine, 3, start=9, consent="unsubscribed")
    consent(engine, [9, 10, 11], "push")
    add_devices(engine, [5, 6, 7, 8, 9, 11])
    add_segment(engine, "vip", range(1, 12))
    set_consent(engine, 11, "complained")


def test_each_customer_gets_one_message_on_the_channel_they_can_be_reached_on(
    engine: Engine, outbox: Path
) -> None:
    store(engine)
    result = run(engine, campaign(NEWS), outbox)
    rows = {r.customer_id: r for r in ledger(engine)}
    assert len(rows) == 11  # one row per customer: never both channels
    assert {c for c, r in rows.items() if r.status == "sent" and r.channel == "email"} == {
        1,
        2,
        3,
        4,
    }
    pushed = {c for c, r in rows.items() if r.status == "sent" and r.channel == "push"}
    assert pushed == {5, 6, 7, 8, 9}
    assert {rows[c].reason for c in pushed} == {"fallback_push"}
    # No device on the fallback channel, or a complaint: the campaign's own reason stays.
    assert (rows[10].status, rows[10].channel, rows[10].reason) == (
        "suppressed",
        "email",
        "unsubscribed",
    )
    assert (rows[11].status, rows[11].reason) == ("suppressed", "complained")
    # Email rows went through the email transport, push rows through the push one.
    emailed = sorted(int(p.stem) for p in (outbox / "email").glob("*.eml"))
    assert emailed == sorted(rows[c].id for c in (1, 2, 3, 4))
    assert not list((outbox / "email").glob("*.json"))
    sent_push = sorted(int(p.stem) for p in (outbox / "push").glob("*.json"))
    assert sent_push == sorted(rows[c].id for c in pushed)
    assert not list((outbox / "push").glob("*.eml"))
    assert result.plan.channels == {"email": 4, "push": 5}
    assert result.send.sent == 9

    again = run(engine, campaign(NEWS), outbox)
    assert again.send.sent == 0
    assert len(list((outbox / "email").iterdir())) == 4
    assert len(list((outbox / "push").iterdir())) == 5
    assert len(ledger(engine)) == 11


def test_the_hold_out_is_per_customer_whatever_the_channel(engine: Engine, outbox: Path) -> None:
    store(engine)
    definition = campaign(NEWS + "holdout: 40\n")
    held = {c for c in range(1, 10) if is_held_out(definition, c)}
    assert held and held != set(range(1, 10))
    run(engine, definition, outbox)
    rows = {r.customer_id: r for r in ledger(engine)}
    assert {c for c, r in rows.items() if r.status == "held_out"} == held
    sent = {c for c, r in rows.items() if r.status == "sent"}
    assert sent == set(range(1, 10)) - held
    files = list((outbox / "email").glob("*")) + list((outbox / "push").glob("*"))
    assert len(files) == len(sent)


def test_a_fallback_message_takes_a_slot_of_the_channel_it_goes_on(
    engine: Engine, outbox: Path
) -> None:
    store(engine)
    # Customer 5 already has this week's push message (cap: one a week).
    add_segment(engine, "early", [5])
    early = campaign(PUSH_NEWS.replace("push_news", "early_push").replace("[vip]", "[early]"))
    run(engine, early, outbox)
    capped = campaign(NEWS + "caps: {count: 1, days: 7}\n")
    run(engine, capped, outbox)
    rows = {r.customer_id: r for r in ledger(engine, "news")}
    assert (rows[5].status, rows[5].channel, rows[5].reason) == (
        "suppressed",
        "push",
        "frequency_cap",
    )
    assert rows[6].status == "sent" and rows[6].channel == "push"
    assert rows[1].status == "sent" and rows[1].channel == "email"
    # The fallback messages hold the push slots: a push campaign after it is capped for
    # them, while customers who got it by email still have a push slot.
    run(engine, campaign(PUSH_NEWS), outbox)
    later = {r.customer_id: r for r in ledger(engine, "push_news")}
    assert {later[c].reason for c in (6, 7, 8, 9)} == {"frequency_cap"}


def test_fallback_push_needs_a_template_with_a_push_part(tmp_path: Path) -> None:
    class EmailOnly(FakeRenderer):
        def channels(self, name: str) -> list[str]:
            return ["email"]

    path = tmp_path / "news.yaml"
    path.write_text(textwrap.dedent(NEWS), encoding="utf-8")
    campaigns, errors = load_all([path], known_segments=lambda _: True, templates=EmailOnly())
    assert campaigns == []
    [error] = errors
    assert error.source == str(path) and error.line == 4
    assert "no push version" in error.message and "fallback: push" in error.message
    # With a push part it loads.
    campaigns, errors = load_all([path], known_segments=lambda _: True, templates=FakeRenderer())
    assert errors == [] and campaigns[0].fallback == "push" and campaigns[0].topic == "news"


def test_a_fallback_must_be_another_known_channel(tmp_path: Path) -> None:
    for bad, words in (("fallback: email", "own channel"), ("fallback: sms", "not a channel")):
        path = tmp_path / "bad.yaml"
        path.write_text(textwrap.dedent(NEWS).replace("fallback: push", bad), encoding="utf-8")
        _, errors = load_all([path], known_segments=lambda _: True, templates=FakeRenderer())
        assert [(e.line, words in e.message) for e in errors] == [(4, True)], errors
