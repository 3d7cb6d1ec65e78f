"""Provider events through moto's SQS (real boto3, SES -> SNS -> SQS): suppression,
engagement, duplicates, out-of-order delivery, and bodies that are not events."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from sqlalchemy import Engine

from campaigns import events
from campaigns.events import parse_ses_event, process_events, sync_queue
from models.settings import get_settings
from models.store import Consent, Interaction
from models.surveys import ProviderEvent
from tests.web.helpers import customer, message, rows
from tests.web.ses_events import T0, event, provider_id, sns_envelope

REGION = "eu-west-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name=REGION)
    sns = boto3.client("sns", endpoint_url=moto_url, region_name=REGION)
    queue = sqs.create_queue(QueueName="ses-events")["QueueUrl"]
    topic = sns.create_topic(Name="ses-events")["TopicArn"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return {"sqs": sqs, "sns": sns, "queue": queue, "topic": topic}


def publish(aws: dict[str, Any], *records: dict[str, Any]) -> None:
    """SES -> SNS -> SQS, as in production: moto wraps each in an SNS envelope."""
    for record in records:
        aws["sns"].publish(TopicArn=aws["topic"], Message=json.dumps(record))


def drain(engine: Engine, aws: dict[str, Any], **kwargs: Any) -> dict[str, int]:
    return sync_queue(engine, queue_url=aws["queue"], client=aws["sqs"], wait_seconds=0, **kwargs)


def left_in_queue(aws: dict[str, Any]) -> int:
    attrs = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["queue"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def consent(engine: Engine, customer_id: int) -> dict:
    t = Consent.__table__
    (row,) = rows(engine, t, t.c.customer_id == customer_id, t.c.channel == "email")
    return row


def kinds(engine: Engine, customer_id: int) -> list[tuple[str, int | None]]:
    t = Interaction.__table__
    found = rows(engine, t, t.c.customer_id == customer_id)
    return sorted((r["kind"], r["message_id"]) for r in found)


def test_permanent_bounce_suppresses_the_address(engine: Engine, aws: dict[str, Any]) -> None:
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly", template="newsletter")
    publish(aws, event("Bounce", ledger_id=mid))
    counts = drain(engine, aws)
    assert counts["suppressed"] == 1 and counts["deleted"] == 1
    state = consent(engine, cid)
    assert (state["status"], state["source"]) == ("bounced", "ses:bounce")
    assert kinds(engine, cid) == [("bounced", mid)]
    assert left_in_queue(aws) == 0


def test_complaint_unsubscribes_from_marketing(engine: Engine, aws: dict[str, Any]) -> None:
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly", template="newsletter")
    publish(aws, event("Complaint", ledger_id=mid))
    drain(engine, aws)
    assert consent(engine, cid)["status"] == "complained"
    assert kinds(engine, cid) == [("complained", mid)]


def test_engagement_becomes_interactions(engine: Engine, aws: dict[str, Any]) -> None:
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly", template="newsletter")
    pid = provider_id()
    publish(
        aws,
        event("Send", ledger_id=mid, provider=pid),
        event("Delivery", ledger_id=mid, provider=pid),
        event("Open", ledger_id=mid, provider=pid, at=T0 + timedelta(hours=2)),
        event("Click", ledger_id=mid, provider=pid, at=T0 + timedelta(hours=2, minutes=1)),
    )
    counts = drain(engine, aws)
    assert counts["recorded"] == 4
    assert kinds(engine, cid) == [("clicked", mid), ("delivered", mid), ("opened", mid)]
    assert consent(engine, cid)["status"] == "subscribed"
    sent = rows(engine, ProviderEvent.__table__, ProviderEvent.__table__.c.event_type == "send")
    assert [(r["message_id"], r["provider_message_id"]) for r in sent] == [(mid, pid)]


def test_duplicates_change_nothing(engine: Engine, aws: dict[str, Any]) -> None:
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly", template="newsletter")
    delivery = event("Delivery", ledger_id=mid)
    bounce = event("Bounce", ledger_id=mid, bounce_type="Transient")
    # The same SNS notification twice (SQS at-least-once), and SES publishing twice.
    body = sns_envelope(delivery, topic=aws["topic"])
    for _ in range(2):
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=body)
    publish(aws, delivery, bounce, bounce)
    counts = drain(engine, aws)
    assert counts["duplicate"] == 3 and counts["deleted"] == 5
    assert kinds(engine, cid) == [("delivered", mid), ("soft_bounced", mid)]
    assert len(rows(engine, ProviderEvent.__table__)) == 2
    assert drain(engine, aws)["received"] == 0


def test_late_events_never_resubscribe(engine: Engine, aws: dict[str, Any]) -> None:
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly", template="newsletter")
    pid = provider_id()
    publish(aws, event("Bounce", ledger_id=mid, provider=pid, at=T0 + timedelta(minutes=5)))
    drain(engine, aws)
    # The delivery and a complaint arrive after the bounce was processed.
    publish(
        aws,
        event("Delivery", ledger_id=mid, provider=pid, at=T0 + timedelta(minutes=1)),
        event("Open", ledger_id=mid, provider=pid, at=T0 + timedelta(minutes=9)),
        event("Complaint", ledger_id=mid, provider=pid, at=T0 + timedelta(minutes=20)),
    )
    drain(engine, aws)
    assert consent(engine, cid)["status"] == "bounced"


def test_suppression_only_moves_towards_stopping(engine: Engine) -> None:
    cid = customer(engine, consent="unsubscribed")
    mid = message(engine, cid, kind="newsletter", campaign="weekly", template="newsletter")
    process_events(engine, [event("Delivery", ledger_id=mid)])
    assert consent(engine, cid)["status"] == "unsubscribed"
    process_events(engine, [event("Complaint", ledger_id=mid)])
    assert consent(engine, cid)["status"] == "complained"
    process_events(engine, [event("Bounce", ledger_id=mid)])
    assert consent(engine, cid)["status"] == "bounced"
    process_events(engine, [event("Complaint", ledger_id=mid)])
    assert consent(engine, cid)["status"] == "bounced"


def test_transient_bounces_suppress_only_when_repeated(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = customer(engine)
    soft = [message(engine, cid, kind="newsletter", campaign="weekly") for _ in range(5)]

    def bounce(mid: int, days: int) -> dict[str, Any]:
        return event("Bounce", ledger_id=mid, bounce_type="Transient", at=T0 + timedelta(days=days))

    # Three soft bounces, but spread over more than 30 days: still sending.
    process_events(engine, [bounce(soft[0], 0), bounce(soft[1], 20), bounce(soft[2], 45)])
    assert consent(engine, cid)["status"] == "subscribed"
    # The third within 30 days of two others suppresses.
    process_events(engine, [bounce(soft[3], 50)])
    state = consent(engine, cid)
    assert (state["status"], state["source"]) == ("bounced", "ses:soft_bounces")

    other = customer(engine, external_id="c2", email="bob@example.com")
    monkeypatch.setenv("HOMECOMING_SOFT_BOUNCE_LIMIT", "2")
    get_settings.cache_clear()
    mids = [message(engine, other, kind="newsletter", campaign="weekly") for _ in range(2)]
    process_events(engine, [bounce(mids[0], 0)])
    assert consent(engine, other)["status"] == "subscribed"
    process_events(engine, [bounce(mids[1], 1)])
    assert consent(engine, other)["status"] == "bounced"


def test_ledger_row_found_by_tag_then_provider_id_then_address(engine: Engine) -> None:
    ada = customer(engine)
    pid = provider_id()
    by_provider = message(
        engine, ada, kind="newsletter", campaign="weekly", provider_message_id=pid
    )
    process_events(engine, [event("Open", ledger_id=None, provider=pid)])
    assert kinds(engine, ada) == [("opened", by_provider)]

    bob = customer(engine, external_id="bob", email="Bob@Example.com")
    (outcome,) = process_events(engine, [event("Bounce", ledger_id=None, to="bob@example.com")])
    assert outcome == "suppressed"
    assert consent(engine, bob)["status"] == "bounced"

    (outcome,) = process_events(engine, [event("Open", ledger_id=999_999)])
    assert outcome == "unmatched"
    (outcome,) = process_events(engine, [event("Bounce", ledger_id=None, to="nobody@example.com")])
    assert outcome == "unmatched"
    assert consent(engine, ada)["status"] == "subscribed"


def test_raw_delivery_and_bad_bodies(engine: Engine, aws: dict[str, Any]) -> None:
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly")
    sqs, queue = aws["sqs"], aws["queue"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event("Complaint", ledger_id=mid)))
    for bad in ["not json", json.dumps({"eventType": "Bounce"}), json.dumps([1, 2])]:
        sqs.send_message(QueueUrl=queue, MessageBody=bad)
    sqs.send_message(
        QueueUrl=queue,
        MessageBody=json.dumps({"Type": "Notification", "MessageId": "x", "Message": "{oops"}),
    )
    counts = drain(engine, aws)
    assert counts["malformed"] == 4 and counts["suppressed"] == 1 and counts["deleted"] == 1
    assert consent(engine, cid)["status"] == "complained"
    assert left_in_queue(aws) == 4  # for the dead-letter queue, not lost


def test_an_event_that_fails_stays_in_the_queue(
    engine: Engine, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = customer(engine)
    good = message(engine, cid, kind="newsletter", campaign="weekly")
    bad = message(engine, cid, kind="newsletter", campaign="weekly")
    real = events.apply_event

    def flaky(conn: Any, ev: events.SesEvent, **kwargs: Any) -> str:
        if ev.ledger_id == bad:
            raise RuntimeError("database hiccup")
        return real(conn, ev, **kwargs)

    def batch_fails(conn: Any, batch: list[events.SesEvent], **kwargs: Any) -> list[str]:
        raise RuntimeError("database hiccup")  # the batch falls back to one event at a time

    monkeypatch.setattr(events, "apply_batch", batch_fails)
    monkeypatch.setattr(events, "apply_event", flaky)
    publish(aws, event("Delivery", ledger_id=good), event("Delivery", ledger_id=bad))
    counts = drain(engine, aws)
    assert counts["failed"] == 1 and counts["recorded"] == 1 and counts["deleted"] == 1
    assert kinds(engine, cid) == [("delivered", good)]
    assert left_in_queue(aws) == 1


def test_batches_and_limits(engine: Engine, aws: dict[str, Any]) -> None:
    cid = customer(engine)
    mids = [message(engine, cid, kind="newsletter", campaign="weekly") for _ in range(25)]
    for mid in mids:
        aws["sqs"].send_message(
            QueueUrl=aws["queue"],
            MessageBody=sns_envelope(event("Delivery", ledger_id=mid), topic=aws["topic"]),
        )
    first = drain(engine, aws, max_messages=12, batch_size=5)
    assert first["received"] == 12 and first["deleted"] == 12
    rest = drain(engine, aws, batch_size=7)
    assert rest["received"] == 13
    assert len(kinds(engine, cid)) == 25


def test_parse_requires_an_ses_event() -> None:
    for bad in [None, [], {}, {"eventType": "Bounce"}, {"eventType": "Nope", "mail": {}}]:
        with pytest.raises(events.MalformedEvent):
            parse_ses_event(bad, tag=get_settings().ledger_tag)
    with pytest.raises(events.MalformedEvent):
        parse_ses_event(
            {"eventType": "Open", "mail": {"messageId": "x"}, "open": {}},
            tag=get_settings().ledger_tag,
        )
    legacy = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "timestamp": "2026-01-01T00:00:00Z"},
        "mail": {"messageId": "m-1", "timestamp": "2026-01-01T00:00:00Z"},
    }
    parsed = parse_ses_event(legacy, tag=get_settings().ledger_tag)
    assert (parsed.event_type, parsed.detail, parsed.ledger_id) == ("bounce", "Permanent/", None)


WEEKLY = """
name: weekly_newsletter_events_test
kind: newsletter
channel: email
segments: {include: [everyone]}
cadence: {every: weekly, day: monday, hour: 10, time_zone: UTC}
"""


def test_bounce_and_complaint_from_the_queue_stop_all_further_marketing(
    engine: Engine, aws: dict[str, Any]
) -> None:
    """End to end: SES events through SNS and SQS, then the campaigns code plans and re-checks."""
    from sqlalchemy import select

    from campaigns.cadence import period_at
    from campaigns.definitions import parse_campaign
    from campaigns.ledger import recipients
    from campaigns.planning import plan
    from campaigns.send import recheck
    from models.store import Customer

    bounced = customer(engine, external_id="bounced", email="gone@example.com")
    complained = customer(engine, external_id="complained", email="angry@example.com")
    fine = customer(engine, external_id="fine", email="fine@example.com")
    campaign, errors = parse_campaign(WEEKLY, "weekly.yaml")
    assert campaign is not None and not errors
    earlier = {
        cid: message(engine, cid, kind="newsletter", campaign="weekly", template="newsletter")
        for cid in (bounced, complained, fine)
    }
    # A message already planned for next week, before the events arrive.
    pending = message(engine, bounced, kind="newsletter", campaign="promo", template="promotion")

    publish(
        aws,
        event("Delivery", ledger_id=earlier[fine]),
        event("Bounce", ledger_id=earlier[bounced], to="gone@example.com"),
        event("Complaint", ledger_id=earlier[complained], to="angry@example.com"),
    )
    counts = drain(engine, aws)
    assert counts["suppressed"] == 2 and left_in_queue(aws) == 0

    now = T0 + timedelta(days=7)
    period = period_at(campaign, now)
    audience = select(Customer.__table__.c.id.label("customer_id"))
    outcomes = {
        o.customer_id: o
        for chunk in plan(
            engine,
            campaign=campaign,
            period=period,
            now=now,
            settings=get_settings(),
            audience=audience,
        )
        for o in chunk
    }
    assert (outcomes[bounced].status, outcomes[bounced].reason) == ("suppressed", "bounced")
    assert (outcomes[complained].status, outcomes[complained].reason) == (
        "suppressed",
        "complained",
    )
    assert outcomes[fine].status == "planned"
    # The message planned earlier is stopped at send time as well.
    with engine.connect() as conn:
        ok, refused = recheck(recipients(conn, [pending, earlier[fine]]))
    assert refused == [(pending, "bounced")]
    assert [r.id for r in ok] == [earlier[fine]]


def test_the_sync_provider_events_flow(
    prefect_harness: None,
    engine: Engine,
    aws: dict[str, Any],
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.events import sync_provider_events_flow

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("HOMECOMING_SQS_QUEUE_URL", aws["queue"])
    get_settings.cache_clear()
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly")
    publish(aws, event("Complaint", ledger_id=mid))
    counts = sync_provider_events_flow()
    assert counts["suppressed"] == 1 and counts["deleted"] == 1
    assert consent(engine, cid)["status"] == "complained"
