"""Provider events and survey answers: how fast they flow back into the database.

    .venv/bin/python -m bench.events [--events 20000] [--queue 2000] [--answers 1000]
        [--pg postgresql://postgres@127.0.0.1:5432/test]

1. ``process_events`` on SES records already in memory (deliveries, opens, clicks and a
   share of bounces and complaints against real ledger rows), per backend: events per second.
   On PostgreSQL, in the same run and on the same events, two baselines: the per-event path
   (``apply_one_by_one``: a savepoint and several lookups per event, what every batch did
   before), and the loop a user would write by hand with psycopg (one lookup and one
   INSERT/UPDATE per event statement by statement); the ratio of each to the batched apply.
2. The same through moto's SQS on a loopback port (SNS envelopes, real boto3 client,
   receive, commit, delete): events per second end to end, next to a plain boto3 loop that
   only receives and deletes the same number of messages.
3. Star clicks through the web service on a loopback port (uvicorn in a thread, httpx):
   answers per second.

Prints what it measured; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

from campaigns import links
from campaigns.events import apply_one_by_one, parse_ses_event, process_events, sync_queue
from models.base import table
from models.campaigns import CampaignKind, Message, MessageStatus
from models.db import get_engine, upgrade
from models.settings import get_settings
from models.store import Channel, Consent, ConsentStatus, Customer

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _record(kind: str, ledger_id: int, n: int) -> dict[str, Any]:
    at = (T0 + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    mail = {
        "timestamp": at,
        "messageId": f"bench-{ledger_id}",
        "tags": {"ledger_id": [str(ledger_id)]},
    }
    record: dict[str, Any] = {"eventType": kind, "mail": mail}
    detail: dict[str, Any] = {"timestamp": at}
    if kind == "Bounce":
        detail |= {"bounceType": "Permanent", "bounceSubType": "General", "feedbackId": f"f{n}"}
    if kind == "Complaint":
        detail |= {"feedbackId": f"c{n}", "complaintFeedbackType": "abuse"}
    if kind == "Click":
        detail |= {"link": "https://shop.example/products/1"}
    record[kind.lower()] = detail
    return record


def _store(engine: Engine, customers: int) -> list[tuple[int, int]]:
    """Customers with consent and one sent message each: (message id, customer id)."""
    with engine.begin() as conn:
        conn.execute(
            insert(table(Customer)),
            [
                {
                    "external_id": f"b{i}",
                    "email": f"b{i}@example.com",
                    "locale": "en",
                    "time_zone": "UTC",
                    "created_at": T0,
                }
                for i in range(customers)
            ],
        )
        ids = [r[0] for r in conn.execute(text("SELECT id FROM customer ORDER BY id"))]
        conn.execute(
            insert(table(Consent)),
            [
                {
                    "customer_id": c,
                    "channel": Channel.email,
                    "status": ConsentStatus.subscribed,
                    "updated_at": T0,
                }
                for c in ids
            ],
        )
        conn.execute(
            insert(table(Message)),
            [
                {
                    "campaign": "bench",
                    "period": "p",
                    "customer_id": c,
                    "channel": Channel.email,
                    "kind": CampaignKind.csat_survey,
                    "status": MessageStatus.sent,
                    "sent_at": T0,
                    "created_at": T0,
                    "attempts": 1,
                    "priority": 0,
                }
                for c in ids
            ],
        )
        rows = conn.execute(text("SELECT id, customer_id FROM message ORDER BY id")).all()
    return [(r[0], r[1]) for r in rows]


def _events(messages: list[tuple[int, int]], count: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    kinds = ["Delivery"] * 60 + ["Open"] * 25 + ["Click"] * 10 + ["Bounce"] * 3 + ["Complaint"] * 2
    return [_record(rng.choice(kinds), rng.choice(messages)[0], n) for n in range(count)]


def _fresh(url: str | None) -> Engine:
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='hc-bench-')}/events.db"
    else:
        engine = get_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS eventbench CASCADE"))
            conn.execute(text("CREATE SCHEMA eventbench"))
        url = f"{url}?options=-csearch_path%3Deventbench"
    upgrade(url)
    return get_engine(url)


def _batched(engine: Engine, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 100):  # the batch size of the queue reader
        process_events(engine, events[start : start + 100])


def _one_by_one(engine: Engine, events: list[dict[str, Any]]) -> None:
    settings = get_settings()
    for start in range(0, len(events), 100):
        parsed = [parse_ses_event(e, tag=settings.ledger_tag) for e in events[start : start + 100]]
        with engine.begin() as conn:
            apply_one_by_one(conn, parsed, settings=settings, now=None)


def _by_hand(engine: Engine, events: list[dict[str, Any]]) -> None:
    """A bare psycopg loop: find the row, record the event once, then its one effect."""
    kinds = {"delivery": "delivered", "open": "opened", "click": "clicked"}
    kinds |= {"bounce": "bounced", "complaint": "complained"}
    tag = get_settings().ledger_tag
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for start in range(0, len(events), 100):
            for record in events[start : start + 100]:
                ev = parse_ses_event(record, tag=tag)
                cur.execute("SELECT customer_id FROM message WHERE id = %s", (ev.ledger_id,))
                found = cur.fetchone()
                cid = found[0] if found else None
                cur.execute(
                    "INSERT INTO provider_event (event_key, provider, event_type, detail,"
                    " message_id, customer_id, provider_message_id, outcome, occurred_at,"
                    " received_at) VALUES (%s, 'ses', %s, %s, %s, %s, %s, 'recorded', %s, now())"
                    " ON CONFLICT (event_key) DO NOTHING RETURNING id",
                    (ev.key, ev.event_type, ev.detail, ev.ledger_id, cid,
                     ev.provider_message_id, ev.occurred_at),
                )  # fmt: skip
                if cur.fetchone() is None:
                    continue
                cur.execute(
                    "INSERT INTO interaction (customer_id, kind, channel, occurred_at,"
                    " message_id, detail, source_ref) VALUES (%s, %s, 'email', %s, %s, %s, %s)"
                    " ON CONFLICT (source_ref) DO NOTHING",
                    (cid, kinds[ev.event_type], ev.occurred_at, ev.ledger_id, ev.detail, ev.key),
                )
                if ev.event_type in ("bounce", "complaint"):
                    cur.execute(
                        "UPDATE consent SET status = %s, source = %s, updated_at = %s"
                        " WHERE customer_id = %s AND channel = 'email' AND status <> 'bounced'",
                        (kinds[ev.event_type], "ses", ev.occurred_at, cid),
                    )
            raw.commit()
    finally:
        raw.close()


def _timed(url: str | None, count: int, apply: Any) -> tuple[str, float]:
    engine = _fresh(url)
    events = _events(_store(engine, 5000), count)
    started = time.perf_counter()
    apply(engine, events)
    took = time.perf_counter() - started
    engine.dispose()
    return engine.dialect.name, count / took


def bench_direct(url: str | None, count: int) -> None:
    name, rate = _timed(url, count, _batched)
    print(f"process_events {name}: {count} events, {rate:,.0f}/s")
    if url is None:
        return
    for label, apply in [("per-event path", _one_by_one), ("bare psycopg loop", _by_hand)]:
        _, base = _timed(url, count, apply)
        print(f"  {label} {name}: {base:,.0f}/s; batched is {rate / base:.1f}x")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_queue(count: int) -> None:
    import os

    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        sqs = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{port}", region_name="eu-west-1")
        engine = _fresh(None)
        messages = _store(engine, 2000)
        bodies = [
            json.dumps({"Type": "Notification", "MessageId": f"m{n}", "Message": json.dumps(e)})
            for n, e in enumerate(_events(messages, count))
        ]

        def fill(name: str) -> str:
            queue = sqs.create_queue(QueueName=name)["QueueUrl"]
            for start in range(0, len(bodies), 10):
                sqs.send_message_batch(
                    QueueUrl=queue,
                    Entries=[
                        {"Id": str(i), "MessageBody": b}
                        for i, b in enumerate(bodies[start : start + 10])
                    ],
                )
            return queue

        plain = fill("plain")
        started = time.perf_counter()
        seen = 0
        while True:
            got = sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                break
            seen += len(got)
            sqs.delete_message_batch(
                QueueUrl=plain,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                ],
            )
        loop = time.perf_counter() - started
        queue = fill("events")
        started = time.perf_counter()
        counts = sync_queue(engine, queue_url=queue, client=sqs, wait_seconds=0)
        took = time.perf_counter() - started
        print(
            f"moto SQS -> database (sqlite): {counts['received']} events in {took:.2f} s = "
            f"{counts['received'] / took:,.0f}/s; plain receive+delete loop: {seen} in "
            f"{loop:.2f} s = {seen / loop:,.0f}/s ({took / loop:.1f}x the bare queue time)"
        )
    finally:
        server.stop()


def bench_answers(count: int) -> None:
    # Imported here: the other benchmarks of this file need neither an HTTP client nor the app.
    import httpx

    from web.server import running

    engine = _fresh(None)
    messages = _store(engine, count)
    with running(engine) as base:
        get_settings.cache_clear()
        answers = [
            (
                f"{base}/answer/{links.sign('survey', message_id=m, customer_id=c, score=1 + m % 5)}",
                1 + m % 5,
            )
            for m, c in messages
        ]
        with httpx.Client() as client:
            started = time.perf_counter()
            for url, score in answers:  # the page, then the answer it sends
                client.get(url).raise_for_status()
                client.post(url, data={"score": str(score)}).raise_for_status()
            took = time.perf_counter() - started
    print(
        f"star clicks and answers through the web service (sqlite): {count} in {took:.2f} s = {count / took:,.0f}/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--queue", type=int, default=2_000)
    parser.add_argument("--answers", type=int, default=1_000)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL to measure it too")
    args = parser.parse_args()
    bench_direct(None, args.events)
    if args.pg:
        bench_direct(args.pg, args.events)
    if args.queue:
        bench_queue(args.queue)
    if args.answers:
        bench_answers(args.answers)


if __name__ == "__main__":
    main()
