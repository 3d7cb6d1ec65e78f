"""Triggered surveys: once per trigger across runs, restarts and overlapping runs; the
survey cap; quiet hours; late events; results checked against plain Python."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from campaigns.definitions import parse_campaign
from campaigns.surveys import plan_triggers, send_due_surveys
from models.campaigns import Message
from models.store import Order, ShipmentEvent, SupportTicket
from models.surveys import SurveyCheckpoint
from tests.web.helpers import customer

M = Message.__table__
T0 = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)  # a Monday morning, daytime in Europe


def definition(text: str, name: str = "test.yaml"):
    campaign, errors = parse_campaign(text, name)
    assert not errors, errors
    return campaign


CSAT = definition(
    """
name: csat_after_ticket
kind: csat_survey
channel: email
template: csat_survey
trigger: {after: ticket_resolved, delay: 10m}
priority: 80
survey: {lookback: 2d}
"""
)
FEEDBACK = definition(
    """
name: feedback_after_delivery
kind: feedback_survey
channel: email
template: feedback_survey
trigger: {after: delivered, delay: 3d}
priority: 60
survey: {lookback: 2d, choices: [great, late]}
"""
)
REVIEW = definition(
    """
name: review_after_delivery
kind: review_request
channel: email
template: review_request
trigger: {after: delivered, delay: 7d}
priority: 40
"""
)


def ticket(engine: Engine, customer_id: int, resolved_at: datetime | None, n: int = 0) -> int:
    with engine.begin() as conn:
        return conn.execute(
            insert(SupportTicket.__table__)
            .values(
                external_id=f"t{customer_id}-{n}-{resolved_at}",
                customer_id=customer_id,
                channel="email",
                topic="delivery",
                opened_at=(resolved_at or T0) - timedelta(hours=5),
                resolved_at=resolved_at,
            )
            .returning(SupportTicket.__table__.c.id)
        ).scalar_one()


def delivered(engine: Engine, customer_id: int, at: datetime, *, twice: bool = False) -> int:
    with engine.begin() as conn:
        order_id = conn.execute(
            insert(Order.__table__)
            .values(
                external_id=f"o{customer_id}-{at.timestamp()}",
                customer_id=customer_id,
                ordered_at=at - timedelta(days=3),
                total=42.0,
                items=1,
            )
            .returning(Order.__table__.c.id)
        ).scalar_one()
        for offset in [timedelta(0)] + ([timedelta(hours=2)] if twice else []):
            conn.execute(
                insert(ShipmentEvent.__table__).values(
                    order_id=order_id, status="delivered", occurred_at=at + offset
                )
            )
    return order_id


def ledger(engine: Engine, campaign: str | None = None) -> list[dict[str, Any]]:
    query = select(M).order_by(M.c.id)
    if campaign:
        query = query.where(M.c.campaign == campaign)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def test_a_resolved_ticket_is_surveyed_once_after_its_delay(engine: Engine) -> None:
    cid = customer(engine)
    tid = ticket(engine, cid, T0)
    assert plan_triggers(engine, CSAT, now=T0 + timedelta(minutes=5)).planned == 0
    counts = plan_triggers(engine, CSAT, now=T0 + timedelta(minutes=15))
    assert counts.planned == 1
    (row,) = ledger(engine)
    assert (row["campaign"], row["period"], row["customer_id"]) == (CSAT.name, f"ticket:{tid}", cid)
    assert (row["status"], row["kind"], row["send_at"]) == (
        "planned",
        "csat_survey",
        T0 + timedelta(minutes=10),
    )
    for minutes in (20, 600, 60 * 24 * 3):  # later runs, also past the look-back
        again = plan_triggers(engine, CSAT, now=T0 + timedelta(minutes=minutes))
        assert again.planned == 0
    assert len(ledger(engine)) == 1


def test_an_order_delivered_twice_is_one_trigger(engine: Engine) -> None:
    cid = customer(engine)
    oid = delivered(engine, cid, T0, twice=True)
    plan_triggers(engine, FEEDBACK, now=T0 + timedelta(days=3, hours=3))
    (row,) = ledger(engine)
    assert row["period"] == f"delivered:{oid}"
    assert row["send_at"] == T0 + timedelta(days=3)


def test_the_survey_cap_holds_across_triggers_and_surveys(engine: Engine) -> None:
    cid = customer(engine)
    ticket(engine, cid, T0, n=1)
    ticket(engine, cid, T0 + timedelta(days=2), n=2)  # within 14 days of the first
    delivered(engine, cid, T0 + timedelta(days=1))  # feedback due on day 4
    ticket(engine, cid, T0 + timedelta(days=15), n=3)  # 15 days later: allowed again
    for day in range(0, 20):
        now = T0 + timedelta(days=day, hours=1)
        plan_triggers(engine, CSAT, now=now)
        plan_triggers(engine, FEEDBACK, now=now)
    rows = ledger(engine)
    outcome = {(r["campaign"], r["period"]): (r["status"], r["reason"]) for r in rows}
    statuses = sorted(outcome.values(), key=str)
    assert statuses.count(("planned", None)) == 2
    assert statuses.count(("suppressed", "survey_cap")) == 2
    planned = sorted(r["send_at"] for r in rows if r["status"] == "planned")
    assert planned[1] - planned[0] >= timedelta(days=14)


def test_surveys_do_not_count_against_the_marketing_cap(engine: Engine) -> None:
    cid = customer(engine)
    with engine.begin() as conn:
        for i in range(2):  # the marketing cap (2 in 7 days) is full
            conn.execute(
                insert(M).values(
                    campaign="weekly_newsletter",
                    period=f"2026-W1{i}",
                    customer_id=cid,
                    channel="email",
                    kind="newsletter",
                    status="sent",
                    sent_at=T0 - timedelta(days=i + 1),
                    created_at=T0,
                )
            )
    ticket(engine, cid, T0)
    delivered(engine, cid, T0 - timedelta(days=7))
    plan_triggers(engine, CSAT, now=T0 + timedelta(hours=1))
    plan_triggers(engine, REVIEW, now=T0 + timedelta(hours=1))
    by_campaign = {r["campaign"]: r for r in ledger(engine) if r["kind"] != "newsletter"}
    assert by_campaign[CSAT.name]["status"] == "planned"
    # A review request is marketing: the full marketing cap stops it.
    assert (by_campaign[REVIEW.name]["status"], by_campaign[REVIEW.name]["reason"]) == (
        "suppressed",
        "frequency_cap",
    )


def test_quiet_hours_in_the_customers_zone(engine: Engine) -> None:
    cid = customer(engine)  # Europe/Istanbul, UTC+3
    late = datetime(2026, 4, 6, 19, 30, tzinfo=UTC)  # 22:30 in Istanbul
    ticket(engine, cid, late)
    plan_triggers(engine, CSAT, now=late + timedelta(hours=1))
    (row,) = ledger(engine)
    assert row["send_at"] == datetime(2026, 4, 7, 5, 0, tzinfo=UTC)  # 08:00 in Istanbul


def test_consent_and_address_are_respected(engine: Engine) -> None:
    gone = customer(engine, external_id="gone", consent="unsubscribed")
    never = customer(engine, external_id="never", consent=None)
    silent = customer(engine, external_id="silent", email=None)
    for cid in (gone, never, silent):
        ticket(engine, cid, T0)
    plan_triggers(engine, CSAT, now=T0 + timedelta(hours=1))
    reasons = {r["customer_id"]: r["reason"] for r in ledger(engine)}
    assert reasons == {gone: "unsubscribed", never: "no_consent", silent: "no_address"}


def test_late_events_inside_the_look_back_are_not_missed(engine: Engine) -> None:
    cid = customer(engine)
    plan_triggers(engine, CSAT, now=T0)  # checkpoint at T0
    # Recorded after that run, but resolved before it: one inside the look-back, one far out.
    inside = ticket(engine, cid, T0 - timedelta(days=1), n=1)
    other = customer(engine, external_id="c2", email="bob@example.com")
    ticket(engine, other, T0 - timedelta(days=5), n=2)
    plan_triggers(engine, CSAT, now=T0 + timedelta(minutes=5))
    assert [r["period"] for r in ledger(engine)] == [f"ticket:{inside}"]


def test_the_first_run_starts_at_since_and_old_triggers_are_too_late(engine: Engine) -> None:
    cid = customer(engine)
    other = customer(engine, external_id="c2", email="bob@example.com")
    ticket(engine, cid, T0 - timedelta(days=20), n=1)
    recent = ticket(engine, other, T0 - timedelta(days=3), n=2)
    counts = plan_triggers(engine, CSAT, now=T0, since=T0 - timedelta(days=30))
    assert counts.suppressed == {"too_late": 1} and counts.planned == 1
    planned = [r for r in ledger(engine) if r["status"] == "planned"]
    assert [r["period"] for r in planned] == [f"ticket:{recent}"]


def test_the_checkpoint_only_moves_forward(engine: Engine) -> None:
    customer(engine)
    plan_triggers(engine, CSAT, now=T0 + timedelta(days=1))
    plan_triggers(engine, CSAT, now=T0)  # an older run finishing late
    with engine.connect() as conn:
        until = conn.execute(
            select(SurveyCheckpoint.__table__.c.checked_until).where(
                SurveyCheckpoint.__table__.c.campaign == CSAT.name
            )
        ).scalar_one()
    assert until == T0 + timedelta(days=1)


def test_overlapping_planning_writes_each_trigger_once(engine: Engine) -> None:
    ids = [customer(engine, external_id=f"c{i}", email=f"c{i}@example.com") for i in range(40)]
    for i, cid in enumerate(ids):
        ticket(engine, cid, T0 + timedelta(minutes=i))
        ticket(engine, cid, T0 + timedelta(hours=3, minutes=i), n=2)  # capped
    errors: list[BaseException] = []

    def run(offset: int) -> None:
        try:
            for step in range(4):
                plan_triggers(engine, CSAT, now=T0 + timedelta(hours=step * 2, minutes=offset))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = ledger(engine)
    assert len(rows) == len({(r["period"], r["customer_id"]) for r in rows}) == 80
    planned = Counter(r["customer_id"] for r in rows if r["status"] == "planned")
    assert set(planned.values()) == {1} and len(planned) == 40


# --- sending through the campaigns sender, the real renderer and the file outbox -----------


def outbox(tmp_path: Path):
    from campaigns.channels.outbox import OutboxTransport

    return OutboxTransport(tmp_path / "outbox", channel="email")


def emails(tmp_path: Path) -> dict[int, Any]:
    from email import policy
    from email.parser import BytesParser

    return {
        int(p.stem): BytesParser(policy=policy.default).parsebytes(p.read_bytes())
        for p in sorted((tmp_path / "outbox").glob("*.eml"))
    }


def html_links(message: Any) -> list[str]:
    import html
    import re

    body = message.get_body(preferencelist=("html",)).get_content()
    return [html.unescape(u) for u in re.findall(r'href="([^"]+)"', body)]


def test_a_survey_email_carries_signed_star_links(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaigns.links import Action, verify
    from models.settings import get_settings

    monkeypatch.setenv("HOMECOMING_PUBLIC_URL", "https://shop.example")
    get_settings.cache_clear()
    cid = customer(engine)
    tid = ticket(engine, cid, T0)
    result = send_due_surveys(
        engine, now=T0 + timedelta(minutes=15), campaigns=[CSAT], email_transport=outbox(tmp_path)
    )
    assert result["sent"] == 1 and result["failed"] == 0
    (row,) = ledger(engine)
    assert (row["status"], row["period"]) == ("sent", f"ticket:{tid}")
    (message,) = emails(tmp_path).values()
    stars = {}
    for url in html_links(message):
        if url.startswith("https://shop.example/answer/"):
            claims = verify(url.rsplit("/", 1)[1])
            assert (claims.action, claims.message_id, claims.customer_id) == (
                Action.survey,
                row["id"],
                cid,
            )
            stars[claims.score] = url
    assert sorted(stars) == [1, 2, 3, 4, 5]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Later runs send nothing more.
    again = send_due_surveys(
        engine, now=T0 + timedelta(hours=2), campaigns=[CSAT], email_transport=outbox(tmp_path)
    )
    assert again["sent"] == 0 and len(emails(tmp_path)) == 1


def test_a_feedback_email_after_delivery_names_the_order_and_its_choices(
    engine: Engine, tmp_path: Path
) -> None:
    from campaigns.links import verify

    cid = customer(engine)
    oid = delivered(engine, cid, T0)
    result = send_due_surveys(
        engine,
        now=T0 + timedelta(days=3, hours=1),
        campaigns=[FEEDBACK],
        email_transport=outbox(tmp_path),
    )
    assert result["sent"] == 1
    (message,) = emails(tmp_path).values()
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert f"o{cid}-" in text  # the delivered order's number
    chosen = sorted(
        verify(u.rsplit("/", 1)[1]).choice for u in html_links(message) if "/choice/" in u
    )
    assert chosen == ["great", "late"]
    assert oid


def test_overlapping_runs_send_each_trigger_once(engine: Engine, tmp_path: Path) -> None:
    ids = [customer(engine, external_id=f"c{i}", email=f"c{i}@example.com") for i in range(30)]
    for i, cid in enumerate(ids):
        ticket(engine, cid, T0 + timedelta(minutes=i))
        delivered(engine, cid, T0 - timedelta(days=3) + timedelta(minutes=i))
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run(offset: int) -> None:
        try:
            for step in range(3):
                now = T0 + timedelta(minutes=20 * step + offset + 5)
                results.append(
                    send_due_surveys(
                        engine,
                        now=now,
                        campaigns=[CSAT, FEEDBACK],
                        email_transport=outbox(tmp_path),
                        batch_size=7,
                    )
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    sent = emails(tmp_path)
    rows = {r["id"]: r for r in ledger(engine)}
    assert sum(r["sent"] for r in results) == len(sent)
    assert all(rows[i]["status"] == "sent" for i in sent)
    per_customer = Counter(rows[i]["customer_id"] for i in sent)
    assert set(per_customer.values()) == {1} and len(per_customer) == 30  # the survey cap
    per_trigger = Counter((rows[i]["campaign"], rows[i]["period"]) for i in sent)
    assert set(per_trigger.values()) == {1}


def test_the_cli(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("HOMECOMING_OUTBOX_DIR", str(tmp_path / "outbox"))
    from models.settings import get_settings

    get_settings.cache_clear()
    cid = customer(engine)
    ticket(engine, cid, T0)
    runner = CliRunner()
    now = (T0 + timedelta(minutes=30)).isoformat()
    sent = runner.invoke(app, ["surveys", "send", "--now", now, "--json"])
    assert sent.exit_code == 0, sent.output
    data = json.loads(sent.stdout)
    assert data["sent"] == 1 and data["campaigns"]["csat_after_ticket"]["sent"] == 1
    assert (
        json.loads(runner.invoke(app, ["surveys", "send", "--now", now, "--json"]).stdout)["sent"]
        == 0
    )
    listed = json.loads(runner.invoke(app, ["surveys", "list", "--json"]).stdout)
    names = {s["name"]: s for s in listed["surveys"]}
    assert names["csat_after_ticket"]["after"] == "ticket_resolved"
    assert names["csat_after_ticket"]["checked_until"] is not None
    results = json.loads(runner.invoke(app, ["surveys", "results", "--json"]).stdout)
    assert results["surveys"][0]["sent"] == 1 and results["surveys"][0]["answers"] == 0
    bad = runner.invoke(app, ["surveys", "send", "--now", "yesterday"])
    assert bad.exit_code == 2 and "--now 'yesterday' is not a timestamp" in bad.output
    assert "Traceback" not in bad.output


def test_the_send_surveys_flow(
    prefect_harness: None, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.surveys import send_surveys_flow
    from models.settings import get_settings

    monkeypatch.setenv("HOMECOMING_OUTBOX_DIR", str(tmp_path / "outbox"))
    get_settings.cache_clear()
    cid = customer(engine)
    ticket(engine, cid, T0)
    result = send_surveys_flow(now=(T0 + timedelta(minutes=30)).isoformat())
    assert result["sent"] == 1
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    assert send_surveys_flow(now=(T0 + timedelta(hours=1)).isoformat())["sent"] == 0


def test_a_survey_due_before_the_night_waits_for_the_morning(
    engine: Engine, tmp_path: Path
) -> None:
    """Planned at 20:10 in Istanbul; the send run comes at 21:30: it waits until 08:00."""
    cid = customer(engine)  # Europe/Istanbul, UTC+3
    evening = datetime(2026, 4, 6, 17, 0, tzinfo=UTC)
    ticket(engine, cid, evening)
    plan_triggers(engine, CSAT, now=evening + timedelta(minutes=15))
    throttled: list[int] = []
    late = send_due_surveys(
        engine,
        now=evening + timedelta(minutes=90),
        campaigns=[CSAT],
        email_transport=outbox(tmp_path),
        throttle=throttled.append,
    )
    assert late["sent"] == 0
    assert late["campaigns"][CSAT.name]["deferred"] == {"quiet_hours": 1}
    (row,) = ledger(engine)
    morning = datetime(2026, 4, 7, 5, 0, tzinfo=UTC)  # 08:00 in Istanbul
    assert (row["status"], row["send_at"]) == ("planned", morning)
    sent = send_due_surveys(
        engine,
        now=morning,
        campaigns=[CSAT],
        email_transport=outbox(tmp_path),
        throttle=throttled.append,
    )
    assert sent["sent"] == 1 and len(emails(tmp_path)) == 1
    assert throttled  # the shared rate limit reaches the sender


def test_the_survey_cap_is_checked_again_when_sending(engine: Engine, tmp_path: Path) -> None:
    cid = customer(engine)
    ticket(engine, cid, T0)
    plan_triggers(engine, CSAT, now=T0 + timedelta(minutes=15))
    with engine.begin() as conn:  # another survey reached the customer meanwhile
        conn.execute(
            insert(M).values(
                campaign="nps_quarterly",
                period="2026-Q2",
                customer_id=cid,
                channel="email",
                kind="nps_survey",
                status="sent",
                send_at=T0 + timedelta(minutes=20),
                sent_at=T0 + timedelta(minutes=20),
                created_at=T0,
            )
        )
    result = send_due_surveys(
        engine, now=T0 + timedelta(minutes=30), campaigns=[CSAT], email_transport=outbox(tmp_path)
    )
    assert result["sent"] == 0 and emails(tmp_path) == {}
    assert result["campaigns"][CSAT.name]["suppressed_at_send"] == {"survey_cap": 1}
    row = next(r for r in ledger(engine) if r["campaign"] == CSAT.name)
    assert (row["status"], row["reason"]) == ("suppressed", "survey_cap")
