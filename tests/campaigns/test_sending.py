"""Sending through the file outbox: consent at send time, waves, re-runs, bad recipients."""

from __future__ import annotations

import email
import json
from datetime import UTC, date, datetime, timedelta
from email.policy import default
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from campaigns.channels.outbox import OutboxTransport
from campaigns.links import unsubscribe_url, verify
from campaigns.localtime import wall
from campaigns.run import run_period
from models.campaigns import CampaignRun
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
segments: [vip]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
"""
BEFORE = datetime(2026, 11, 23, 8, tzinfo=UTC)  # Monday, before 10:00 in Berlin
# Monday 14:00 in Berlin: later than the 10:00 send time, within its lateness limit (6 h).
LATER = datetime(2026, 11, 23, 13, tzinfo=UTC)


def run(engine: Engine, now: datetime, outbox: Path, text: str = NEWS, **kwargs):
    return run_period(
        engine,
        campaign=campaign(text),
        period="2026-W48",
        now=now,
        renderer=FakeRenderer(),
        email_transport=OutboxTransport(outbox, channel="email"),
        push_transport=OutboxTransport(outbox, channel="push"),
        **kwargs,
    )


def files(outbox: Path, suffix: str = ".eml") -> list[Path]:
    return sorted(outbox.glob(f"*{suffix}")) if outbox.exists() else []


def recipient(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=default)
    return str(message["To"].addresses[0].addr_spec)


def test_waves_follow_local_time_and_a_rerun_sends_nothing(engine: Engine, outbox: Path) -> None:
    zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo"] * 4
    ids = add_customers(engine, 12, time_zone=zones)
    add_segment(engine, "vip", ids)
    # Monday 10:00 on each clock: Tokyo first, then Berlin, then New York. The period starts
    # before all of them, at Monday 10:00 in UTC+14.
    tokyo, berlin, new_york = (
        wall(date(2026, 11, 23), 10, 0, ZoneInfo(z))
        for z in ("Asia/Tokyo", "Europe/Berlin", "America/New_York")
    )
    started = datetime(2026, 11, 22, 20, tzinfo=UTC)
    assert started < tokyo < berlin < new_york

    # Tokyo's wave is 8.5 hours late at Berlin's: the campaign allows 12.
    text = NEWS + "max_lateness: 12\n"
    first = run(engine, started + timedelta(minutes=30), outbox, text)
    assert (first.planned, first.send.sent, first.pending) == (12, 0, 12)
    assert first.next_send_at == tokyo == datetime(2026, 11, 23, 1, tzinfo=UTC)
    assert files(outbox) == []
    # Monday 10:30 in Berlin, 18:30 in Tokyo, 04:30 in New York: Tokyo and Berlin are due.
    second = run(engine, berlin + timedelta(minutes=30), outbox, text)
    assert second.send.sent == 8 and second.pending == 4
    assert second.next_send_at == new_york == datetime(2026, 11, 23, 15, tzinfo=UTC)
    third = run(engine, new_york, outbox, text)
    assert (third.send.sent, third.already_sent, third.pending) == (4, 8, 0)
    again = run(engine, new_york, outbox, text)
    assert (again.send.sent, again.already_sent) == (0, 12)
    assert again.as_dict()["new_rows"] == 0

    sent = [recipient(p) for p in files(outbox)]
    assert sorted(sent) == sorted(f"customer{i}@example.org" for i in ids)
    with engine.connect() as conn:
        runs = conn.execute(select(CampaignRun).order_by(CampaignRun.id)).all()
    assert [r.sent for r in runs] == [0, 8, 4, 0]
    assert all(r.finished_at is not None for r in runs)


def test_no_send_without_consent_even_when_revoked_after_planning(
    engine: Engine, outbox: Path
) -> None:
    ids = add_customers(engine, 4)
    set_consent(engine, 2, "unsubscribed")
    add_segment(engine, "vip", ids)
    first = run(engine, BEFORE, outbox)
    assert first.planned == 3 and first.as_dict()["suppressed"] == {"unsubscribed": 1}
    # Customer 3 unsubscribes and customer 4's address bounces between plan and send.
    set_consent(engine, 3, "unsubscribed")
    set_consent(engine, 4, "bounced")
    second = run(engine, LATER, outbox)
    assert second.send.sent == 1
    assert dict(second.send.suppressed) == {"unsubscribed": 1, "bounced": 1}
    assert [recipient(p) for p in files(outbox)] == ["customer1@example.org"]
    rows = {r.customer_id: r for r in ledger(engine)}
    assert (rows[3].status, rows[3].reason) == ("suppressed", "unsubscribed")
    assert (rows[4].status, rows[4].reason) == ("suppressed", "bounced")


def test_the_eml_is_real_mime_with_the_unsubscribe_headers(engine: Engine, outbox: Path) -> None:
    ids = add_customers(engine, 1)
    add_segment(engine, "vip", ids)
    run(engine, LATER, outbox)
    [path] = files(outbox)
    row = ledger(engine)[0]
    assert path.name == f"{row.id}.eml" and row.provider_message_id == f"outbox:{row.id}"
    message = email.message_from_bytes(path.read_bytes(), policy=default)
    assert message.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    link = message["List-Unsubscribe"]
    expected = unsubscribe_url(message_id=row.id, customer_id=1)
    assert link.startswith("<" + expected.rsplit("/", 1)[0] + "/") and link.endswith(">")
    claims = verify(link[1:-1].rsplit("/", 1)[1])
    assert (claims.message_id, claims.customer_id, claims.action) == (row.id, 1, "unsubscribe")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    raw = path.read_bytes()
    assert b"\r\nList-Unsubscribe: <http" in raw  # one plain line, not an encoded word


def test_a_recipient_who_cannot_be_rendered_fails_alone(engine: Engine, outbox: Path) -> None:
    good = add_customers(engine, 3)
    bad = add_customers(engine, 1, start=4, first_name="Broken")
    add_segment(engine, "vip", good + bad)
    result = run(engine, LATER, outbox, batch_size=2)
    assert (result.send.sent, result.send.failed) == (3, 1)
    row = next(r for r in ledger(engine) if r.customer_id == 4)
    assert row.status == "failed" and row.error == "render: missing translation"
    assert len(files(outbox)) == 3


def test_push_goes_to_the_outbox_as_json(engine: Engine, outbox: Path) -> None:
    ids = add_customers(engine, 2, channel="push")
    add_devices(engine, [1])
    add_segment(engine, "vip", ids)
    text = NEWS.replace("channel: email", "channel: push") + "context: {deep_link: 'app://shop'}\n"
    result = run(engine, LATER, outbox, text=text)
    assert result.send.sent == 1 and result.as_dict()["suppressed"] == {"no_device": 1}
    [path] = files(outbox, ".json")
    document = json.loads(path.read_text())
    assert document["customer_id"] == 1 and document["deep_link"] == "app://shop"
    apns = json.loads(document["payload"]["APNS"])
    assert apns["aps"]["alert"]["title"] == "newsletter"
    fcm = json.loads(document["payload"]["GCM"])["fcmV1Message"]["message"]
    assert fcm["data"]["deep_link"] == "app://shop"


def test_the_real_templates_fill_every_kind_from_the_ledger(engine: Engine, outbox: Path) -> None:
    from sqlalchemy import insert

    from campaigns.render import default_renderer
    from models.store import Order, OrderLine, Product

    ids = add_customers(engine, 2)
    add_devices(engine, ids)
    with engine.begin() as conn:
        conn.execute(
            insert(Product), [{"sku": "C1", "name": "Ethiopia beans", "category": "coffee"}]
        )
        conn.execute(
            insert(Order),
            [
                {
                    "external_id": f"o{i}",
                    "customer_id": i,
                    "ordered_at": datetime(2026, 10, 1, tzinfo=UTC),
                    "total": 24.5,
                    "currency": "EUR",
                    "items": 1,
                }
                for i in ids
            ],
        )
        conn.execute(
            insert(OrderLine),
            [
                {"order_id": i, "line_no": 1, "sku": "C1", "quantity": 1, "unit_price": 24.5}
                for i in ids
            ],
        )
    add_segment(engine, "vip", ids)
    renderer = default_renderer()
    kinds = ["newsletter", "winback", "replenishment", "cross_sell", "review_request", "promotion"]
    for kind in kinds:
        text = (
            f"name: t_{kind}\nkind: {kind}\nsegments: [vip]\n"
            "cadence: {every: weekly, day: monday, hour: 10, time_zone: UTC}\n"
            "caps: {count: 10, days: 1, min_gap_hours: 0}\n"
            "context: {discount: {code: X10, percent: 10, expires: 2026-12-31}}\n"
        )
        result = run_period(
            engine,
            campaign=campaign(text),
            period="2026-W48",
            # Monday 11:00 in Berlin, an hour after the recipients' 10:00.
            now=datetime(2026, 11, 23, 10, tzinfo=UTC),
            renderer=renderer,
            email_transport=OutboxTransport(outbox, channel="email"),
        )
        assert (result.send.sent, result.send.failed) == (2, 0), (kind, result.send.failures)
    messages = [email.message_from_bytes(p.read_bytes(), policy=default) for p in files(outbox)]
    assert len(messages) == 12
    for message in messages:
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        link = message["List-Unsubscribe"][1:-1]
        assert link in html and link in text  # the footer links the same signed URL
    winback = [m for m in messages if "Ethiopia beans" in m.get_body(("html",)).get_content()]
    assert winback, "the last order's products are shown"
