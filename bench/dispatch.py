"""Dispatch speed and memory: plan, render and record a newsletter to 100,000 and 1,000,000
recipients with the null transport; then the same campaign against moto's SES next to a
plain boto3 loop sending the same messages, in the same run.

    .venv/bin/python -m bench.dispatch [--sizes 100000 1000000] [--ses 3000] [--no-ses]
        [--pg postgresql://postgres@127.0.0.1:5432/test]

Each size gets a fresh SQLite file under ``bench/.data/`` (or a PostgreSQL schema with
``--pg``): customers in eight time zones, 2 % unsubscribed, all in one segment. The run
(``campaigns.run``: reconcile, plan and record every outcome in the ledger, then claim,
re-check consent, render with the real templates, hand to the transport and record, in
batches of 500) happens in a process of its own, so its peak memory (``ru_maxrss``) is its
own. Messages per second count the messages sent over the whole run, planning included.

Against SES, each side sends to a fresh moto server process on a free loopback port; both
the plain loop (one ``send_email`` per message, raw MIME rendered beforehand, nothing else) and
homecoming (the whole pipeline, with its journal) send from one thread.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.memory import peak_mb

# The product is imported inside the functions that use it: each child process points
# HOMECOMING_DATABASE_URL at its own store before settings are first read, and the parent's
# memory figure stays free of what the children load.

DATA = Path(__file__).resolve().parent / ".data"
ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "Europe/Istanbul",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Sao_Paulo",
]
CAMPAIGN = """\
name: bench_newsletter
kind: newsletter
channel: email
segments: [bench]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
holdout: 10
variants: [{name: a, weight: 50}, {name: b, weight: 50}]
# One run late in the week sends every zone: the send-time rules are checked, none refuses.
max_lateness: 7d
quiet_hours: {start: 0, end: 0}
"""
PERIOD = "2026-W48"
NOW = datetime(2026, 11, 26, tzinfo=UTC)  # every zone's Monday 10:00 has passed


def database_url(size: int, pg: str | None) -> str:
    if pg:
        from sqlalchemy import text

        from models.db import get_engine, normalize_url

        schema = f"dispatch_{size}"
        with get_engine(pg).begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in pg else "?"
        return f"{normalize_url(pg)}{sep}options=-csearch_path%3D{schema}"
    DATA.mkdir(exist_ok=True)
    path = DATA / f"dispatch-{size}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def load_store(url: str, size: int) -> float:
    """Customers, consent and one segment snapshot; seconds taken."""
    from sqlalchemy import insert

    from models.db import get_engine, upgrade
    from models.segments import SegmentMember, SegmentSnapshot
    from models.store import Channel, Consent, ConsentStatus, Customer

    started = time.perf_counter()
    upgrade(url)
    engine = get_engine(url)
    created = datetime(2025, 1, 1, tzinfo=UTC)
    step = 50_000
    with engine.begin() as conn:
        conn.execute(
            insert(SegmentSnapshot), [{"segment": "bench", "as_of": NOW.date(), "size": size}]
        )
        for start in range(1, size + 1, step):
            ids = range(start, min(start + step, size + 1))
            conn.execute(
                insert(Customer),
                [
                    {
                        "id": i,
                        "external_id": f"c{i}",
                        "email": f"customer{i}@example.org",
                        "first_name": "Ada",
                        "last_name": f"N{i}",
                        "locale": "en",
                        "time_zone": ZONES[i % len(ZONES)],
                        "created_at": created,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(Consent),
                [
                    {
                        "customer_id": i,
                        "channel": Channel.email,
                        "status": (
                            ConsentStatus.unsubscribed if i % 50 == 0 else ConsentStatus.subscribed
                        ),
                        "source": "bench",
                        "updated_at": created,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(SegmentMember),
                [{"segment": "bench", "as_of": NOW.date(), "customer_id": i} for i in ids],
            )
    return time.perf_counter() - started


def _campaign() -> Any:
    from campaigns.definitions import parse_campaign

    campaign, errors = parse_campaign(CAMPAIGN, "bench")
    assert campaign is not None, errors
    return campaign


def run_null(url: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """In a child process: the whole run through the null transport, steps timed."""
    os.environ["HOMECOMING_DATABASE_URL"] = url
    from campaigns.channels.null import NullTransport
    from campaigns.render import default_renderer
    from campaigns.run import LocalSteps, run_period
    from models.db import get_engine
    from models.settings import get_settings
    from models.store import Channel

    class TimedSteps(LocalSteps):
        """The local steps, noting when the plan is recorded (planning vs sending time)."""

        planned_at = 0.0

        def prepare(self, *args: Any) -> Any:
            prepared = super().prepare(*args)
            self.planned_at = time.perf_counter()
            return prepared

    engine = get_engine(url)
    steps = TimedSteps(
        engine,
        NullTransport(channel=Channel.email),
        renderer=default_renderer(),
        settings=get_settings(),
    )
    baseline = peak_mb()
    started = time.perf_counter()
    result = run_period(engine, campaign=_campaign(), period=PERIOD, now=NOW, steps=steps)
    finished = time.perf_counter()
    queue.put(
        {
            "audience": result.plan.audience,
            "planned": result.planned,
            "sent": result.send.sent,
            "failed": result.send.failed,
            "plan_seconds": steps.planned_at - started,
            "send_seconds": finished - steps.planned_at,
            "seconds": finished - started,
            "baseline_mb": baseline,
            "peak_mb": peak_mb(),
        }
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """A fresh moto server process on a free loopback port, with a verified sender."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto did not start")
        os.environ["AWS_ENDPOINT_URL"] = url
        import boto3

        boto3.client("sesv2").create_email_identity(EmailIdentity="store@example.com")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def compare_ses(count: int, pg: str | None) -> dict[str, Any]:
    """homecoming against a plain boto3 loop, each sending to a fresh moto server."""
    os.environ.update(
        AWS_REGION="eu-west-1",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        HOMECOMING_PUBLIC_URL="https://shop.example.com",
    )
    os.environ.pop("AWS_PROFILE", None)
    from campaigns.channels.ses import SesTransport, aws_client
    from campaigns.render import default_renderer
    from campaigns.run import run_period
    from models.db import get_engine
    from models.settings import get_settings

    get_settings.cache_clear()
    # The plain loop: the same rendered message, prepared beforehand.
    renderer = default_renderer()
    context = {
        "customer": {"first_name": "Ada", "last_name": "N", "locale": "en"},
        "links": {
            "unsubscribe": "https://shop.example.com/unsubscribe/x",
            "preferences": "https://shop.example.com/preferences/x",
            "shop": "https://shop.example.com",
        },
        "products": [],
    }
    raw = renderer.email("newsletter", locale="en", context=context).wire(
        sender="Homecoming Store <store@example.com>", to="a@example.org"
    )
    with moto_server():
        plain = aws_client("sesv2")
        started = time.perf_counter()
        for i in range(count):
            plain.send_email(
                FromEmailAddress="store@example.com",
                Destination={"ToAddresses": [f"customer{i}@example.org"]},
                Content={"Raw": {"Data": raw}},
            )
        plain_seconds = time.perf_counter() - started

    db = database_url(count, pg)
    load_store(db, count)
    os.environ["HOMECOMING_DATABASE_URL"] = db
    os.environ["HOMECOMING_SEND_JOURNAL_DIR"] = str(DATA / "journal")
    get_settings.cache_clear()
    with moto_server():
        started = time.perf_counter()
        result = run_period(
            get_engine(db),
            campaign=_campaign(),
            period=PERIOD,
            now=NOW,
            renderer=renderer,
            email_transport=SesTransport.from_settings(get_settings()),
        )
        ours_seconds = time.perf_counter() - started
    sent = result.send.sent
    return {
        "messages_plain": count,
        "plain_per_second": count / plain_seconds,
        "messages_homecoming": sent,
        "homecoming_per_second": sent / ours_seconds,
        "ratio": (sent / ours_seconds) / (count / plain_seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--ses", type=int, default=3000, help="messages for the SES comparison")
    parser.add_argument("--no-ses", action="store_true")
    parser.add_argument("--pg", help="a PostgreSQL URL instead of SQLite files")
    args = parser.parse_args()

    os.environ.setdefault("HOMECOMING_OUTBOX_DIR", str(DATA / "outbox"))
    backend = "postgresql" if args.pg else "sqlite"
    rows = []
    for size in args.sizes:
        url = database_url(size, args.pg)
        load_seconds = load_store(url, size)
        spawn = multiprocessing.get_context("spawn")
        queue = spawn.Queue()
        child = spawn.Process(target=run_null, args=(url, queue))
        child.start()
        found = queue.get()
        child.join()
        found |= {"size": size, "load_seconds": load_seconds}
        rows.append(found)
        print(
            f"{backend} {size:>9,} recipients: {found['sent']:,} sent, {found['failed']} failed, "
            f"plan+record {found['plan_seconds']:.1f} s, render+send+record "
            f"{found['send_seconds']:.1f} s, {found['sent'] / found['seconds']:,.0f} messages/s, "
            f"peak memory {found['peak_mb']:,.0f} MB (after imports {found['baseline_mb']:,.0f} MB)",
            flush=True,
        )
    result: dict[str, Any] = {"backend": backend, "null_transport": rows}
    if not args.no_ses:
        ses = compare_ses(args.ses, args.pg)
        result["ses"] = ses
        print(
            f"moto SES, {args.ses:,} messages: plain boto3 loop {ses['plain_per_second']:,.0f}/s, "
            f"homecoming {ses['homecoming_per_second']:,.0f}/s "
            f"({ses['ratio']:.0%} of the plain loop)",
            flush=True,
        )
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
