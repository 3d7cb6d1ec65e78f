"""Planning triggered surveys: once per trigger across runs, caps, quiet hours, late events."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select

from campaigns.surveys import plan_triggers
from models.surveys import SurveyCheckpoint
from tests.campaigns.surveys import CSAT, FEEDBACK, T0, M, definition, delivered, ledger, ticket
from tests.web.helpers import customer

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
