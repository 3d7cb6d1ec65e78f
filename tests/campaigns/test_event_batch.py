"""Provider events applied in batches: duplicates, unknown and malformed events in one batch,
re-applying, and the same results as applying the events one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update

from campaigns import event_batch
from campaigns.events import apply_one_by_one, parse_ses_event, process_events
from models.base import table
from models.settings import get_settings
from models.store import Consent, Interaction
from models.surveys import ProviderEvent
from tests.web.helpers import customer, message, rows
from tests.web.ses_events import T0, event, provider_id


def snapshot(engine: Engine) -> tuple[list, list, list]:
    def of(model: Any) -> list:
        return sorted(
            (tuple((k, str(v)) for k, v in r.items() if k != "id") for r in rows(engine, model)),
        )

    return of(table(ProviderEvent)), of(table(Interaction)), of(table(Consent))


def state(engine: Engine, cid: int) -> tuple[str, str]:
    t = table(Consent)
    (row,) = rows(engine, t, t.c.customer_id == cid, t.c.channel == "email")
    return row["status"], row["source"]


def test_a_mixed_batch_applies_the_valid_events_once(engine: Engine) -> None:
    ada = customer(engine)
    bob = customer(engine, external_id="bob", email="bob@example.com")
    mid = message(engine, ada, kind="newsletter", campaign="weekly")
    bob_mid = message(engine, bob, kind="newsletter", campaign="weekly")
    pid = provider_id()
    delivery = event("Delivery", ledger_id=mid, provider=pid)
    batch = [
        delivery,
        event("Open", ledger_id=mid, provider=pid, at=T0 + timedelta(hours=1)),
        delivery,  # SQS delivered it twice
        event("Open", ledger_id=999_999),  # no such ledger row or provider id
        {"eventType": "Bounce"},  # malformed
        event("Complaint", ledger_id=bob_mid, to="bob@example.com"),
        event("Bounce", ledger_id=bob_mid, to="bob@example.com", at=T0 + timedelta(hours=2)),
        event("Click", ledger_id=mid, provider=pid, at=T0 + timedelta(hours=3)),
    ]
    outcomes = process_events(engine, batch)
    assert outcomes == [
        "recorded",
        "recorded",
        "duplicate",
        "unmatched",
        "malformed",
        "suppressed",
        "suppressed",
        "recorded",
    ]
    t = table(Interaction)
    assert sorted(r["kind"] for r in rows(engine, t, t.c.customer_id == ada)) == [
        "clicked",
        "delivered",
        "opened",
    ]
    assert sorted(r["kind"] for r in rows(engine, t, t.c.customer_id == bob)) == [
        "bounced",
        "complained",
    ]
    assert state(engine, ada) == ("subscribed", "import")
    assert state(engine, bob) == ("bounced", "ses:bounce")
    assert len(rows(engine, table(ProviderEvent))) == 6  # the unmatched one is recorded

    before = snapshot(engine)
    again = process_events(engine, batch)
    assert again == ["duplicate"] * 4 + ["malformed"] + ["duplicate"] * 3
    assert snapshot(engine) == before

    # Recorded and new events in one batch: only the new ones change anything.
    late = event("Open", ledger_id=mid, provider=pid, at=T0 + timedelta(hours=4))
    assert process_events(engine, [batch[5], late, batch[0]]) == [
        "duplicate",
        "recorded",
        "duplicate",
    ]
    assert len(rows(engine, t, t.c.customer_id == ada)) == 4
    assert state(engine, bob) == ("bounced", "ses:bounce")


def test_a_customers_newer_choice_on_the_web_wins_within_a_batch(engine: Engine) -> None:
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly")
    with engine.begin() as conn:
        t = table(Consent)
        conn.execute(
            update(t)
            .where(t.c.customer_id == cid)
            .values(status="unsubscribed", source="web:unsubscribe", updated_at=T0 + timedelta(hours=1))
        )  # fmt: skip
    # The complaint happened before the customer unsubscribed; the bounce after it.
    outcomes = process_events(
        engine,
        [
            event("Complaint", ledger_id=mid, at=T0 + timedelta(minutes=30)),
            event("Bounce", ledger_id=mid, at=T0 + timedelta(hours=2)),
        ],
    )
    assert outcomes == ["recorded", "suppressed"]
    assert state(engine, cid) == ("bounced", "ses:bounce")


def scenario(engine: Engine, group: str) -> tuple[list[int], list[dict[str, Any]]]:
    """Customers in several consent states and a stream of events about them."""
    cids = [
        customer(engine, external_id=f"{group}{n}", email=f"{group}{n}@example.com", consent=c)
        for n, c in enumerate(["subscribed", "unsubscribed", "subscribed", None, "complained"])
    ]
    mids = {
        c: [message(engine, c, kind="newsletter", campaign="w") for _ in range(4)] for c in cids
    }
    with engine.begin() as conn:
        t = table(Consent)
        conn.execute(
            update(t)
            .where(t.c.customer_id == cids[2])
            .values(source="web:preferences", updated_at=T0 + timedelta(days=3))
        )
    records: list[dict[str, Any]] = []
    for n, c in enumerate(cids):
        to = f"{group}{n}@example.com"
        for day, mid in enumerate(mids[c]):
            at = T0 + timedelta(days=day * 2)
            records.append(event("Delivery", ledger_id=mid, at=at))
            records.append(event("Bounce", ledger_id=mid, bounce_type="Transient", to=to, at=at))
        records.append(event("Complaint", ledger_id=mids[c][0], to=to, at=T0 + timedelta(days=1)))
        records.append(event("Bounce", ledger_id=None, to=to, at=T0 + timedelta(days=9)))
    records.append(event("Open", ledger_id=None))
    return cids, records


def test_batched_and_one_by_one_give_the_same_results(engine: Engine) -> None:
    settings = get_settings()
    batched, records = scenario(engine, "a")
    outcomes = process_events(engine, records, now=datetime(2026, 4, 1, tzinfo=UTC))
    single, records = scenario(engine, "b")
    with engine.begin() as conn:
        parsed = [parse_ses_event(r, tag=settings.ledger_tag) for r in records]
        slow = apply_one_by_one(conn, parsed, settings=settings, now=None)
    assert outcomes == slow
    assert [state(engine, c) for c in batched] == [state(engine, c) for c in single]
    t = table(Interaction)
    for a, b in zip(batched, single, strict=True):
        kinds = [sorted(r["kind"] for r in rows(engine, t, t.c.customer_id == c)) for c in (a, b)]
        assert kinds[0] == kinds[1]


def test_a_batch_that_cannot_be_written_falls_back_to_one_by_one(
    engine: Engine, monkeypatch: Any
) -> None:
    cid = customer(engine)
    mids = [message(engine, cid, kind="newsletter", campaign="weekly") for _ in range(3)]

    real = event_batch._write

    def conflict(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)  # written, then found in conflict: all of it is rolled back
        raise event_batch.BatchConflict("another writer")

    monkeypatch.setattr(event_batch, "_write", conflict)
    outcomes = process_events(engine, [event("Delivery", ledger_id=m) for m in mids])
    assert outcomes == ["recorded"] * 3
    assert len(rows(engine, table(Interaction))) == 3
