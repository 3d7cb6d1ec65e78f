"""Random stores written straight into the test database with SQLAlchemy Core.

Everything the reports read, with the awkward cases on purpose: guest orders, orders of
value or quantity 0, orders a second either side of a month boundary and exactly at the
end of an attribution window, customers with an email and a push row in one campaign
period, duplicate provider events, survey answers outside their scale.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, insert, select

from models import (
    Customer,
    Interaction,
    Message,
    Order,
    SegmentMember,
    SegmentSnapshot,
    SurveyAnswer,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 6, 30, tzinfo=UTC)
LOCALES = ("en", "de", "tr")
COUNTRIES = ("United Kingdom", "Germany", "Türkiye", None)
SEGMENTS = ("rfm:champions", "rfm:at_risk", "lifecycle:new", "vip")
SNAPSHOTS = (date(2025, 9, 30), date(2026, 1, 31), date(2026, 5, 31))
SENDS = {"2025-W40": datetime(2025, 10, 2, 9, 0, tzinfo=UTC),
         "2026-W10": datetime(2026, 3, 5, 9, 30, tzinfo=UTC)}  # fmt: skip


@dataclass
class Sizes:
    customers: int = 300
    orders_per_customer: float = 3.0
    answers: int = 2000  # about 37 per survey and month: most months reach the minimum base


def _at(seconds: float) -> datetime:
    return START + timedelta(seconds=float(seconds))


def write_store(engine: Engine, *, seed: int = 0, sizes: Sizes | None = None) -> None:
    sizes = sizes or Sizes()
    rng = np.random.default_rng(seed)
    n = sizes.customers
    created = START - timedelta(days=30)
    customers = [
        {
            "id": i,
            "external_id": f"C{i}",
            "locale": LOCALES[rng.integers(len(LOCALES))],
            "country": COUNTRIES[rng.integers(len(COUNTRIES))],
            "time_zone": "UTC",
            "created_at": created,
        }
        for i in range(1, n + 1)
    ]
    span = (END - START).total_seconds()
    orders: list[dict] = []

    def order(customer: int | None, at: datetime, total: float = 20.0, items: int = 1) -> None:
        orders.append(
            {
                "external_id": f"O{len(orders) + 1}",
                "customer_id": customer,
                "ordered_at": at,
                "total": round(total, 2),
                "items": items,
                "currency": "GBP",
            }
        )

    for cid in range(1, n + 1):
        for _ in range(int(rng.poisson(sizes.orders_per_customer))):
            order(cid, _at(rng.uniform(0, span)), rng.lognormal(3, 0.5), int(rng.integers(1, 4)))
    for k in range(12):  # month boundaries: the last second of a month and its first
        boundary = datetime(2025 + (k + 1) // 12, (k + 1) % 12 + 1, 1, tzinfo=UTC)
        order(int(rng.integers(1, n + 1)), boundary - timedelta(seconds=1))
        order(int(rng.integers(1, n + 1)), boundary)
        order(int(rng.integers(1, n + 1)), boundary - timedelta(minutes=30))  # BST: next month
    for _ in range(n // 5):  # never counted: guests, nothing paid, nothing bought
        order(None, _at(rng.uniform(0, span)))
        order(int(rng.integers(1, n + 1)), _at(rng.uniform(0, span)), total=0.0)
        order(int(rng.integers(1, n + 1)), _at(rng.uniform(0, span)), items=0)

    members = []
    for as_of in SNAPSHOTS:
        for cid in range(1, n + 1):
            for segment in SEGMENTS:
                if rng.random() < 0.3:
                    members.append({"segment": segment, "as_of": as_of, "customer_id": cid})

    messages = []
    for period, send in SENDS.items():
        for cid in range(1, n + 1):
            roll = rng.random()
            status = (
                "held_out" if roll < 0.2 else "suppressed" if roll < 0.25
                else "failed" if roll < 0.28 else "planned" if roll < 0.3 else "sent"
            )  # fmt: skip
            at = send + timedelta(minutes=int(rng.integers(0, 600)))
            variant = None if status == "held_out" else ("a", "b")[int(rng.integers(2))]
            for channel in ("email", "push") if rng.random() < 0.15 else ("email",):
                sent_at = at + timedelta(minutes=3 if channel == "push" else 0)
                messages.append(
                    {
                        "campaign": "newsletter", "period": period, "customer_id": cid,
                        "channel": channel, "kind": "newsletter", "status": status,
                        "variant": variant, "send_at": at,
                        "sent_at": sent_at if status == "sent" else None, "created_at": at,
                    }
                )  # fmt: skip
            if status in ("sent", "held_out"):
                p = 0.25 if status == "sent" else 0.12  # a real effect
                if rng.random() < p:
                    order(cid, at + timedelta(days=float(rng.uniform(0.01, 6.9))), 30.0)
                if rng.random() < 0.05:  # exactly at the send (not after it): no conversion
                    order(cid, at)
                if rng.random() < 0.05:  # exactly at the end of a 7-day window: converts
                    order(cid, at + timedelta(days=7))
    with engine.begin() as conn:
        conn.execute(insert(Customer), customers)
        conn.execute(insert(Order), orders)
        if members:
            conn.execute(insert(SegmentMember), members)
        # One snapshot row per segment and date, as a refresh writes them: the reports by
        # segment read each segment's latest snapshot from these.
        counts = Counter((m["segment"], m["as_of"]) for m in members)
        snapshots = [
            {"segment": segment, "as_of": as_of, "size": counts[(segment, as_of)]}
            for as_of in SNAPSHOTS
            for segment in SEGMENTS
        ]
        conn.execute(insert(SegmentSnapshot), snapshots)
        conn.execute(insert(Message), messages)
        sent = conn.execute(
            select(Message.id, Message.customer_id, Message.sent_at).where(Message.status == "sent")
        ).all()
        events = []
        for mid, cid, sent_at in sent:
            for kind, p in (("delivered", 0.95), ("bounced", 0.03), ("opened", 0.4),
                            ("clicked", 0.1), ("unsubscribed", 0.01), ("complained", 0.005)):  # fmt: skip
                for repeat in range(2 if kind == "opened" else 1):
                    if rng.random() < p:
                        events.append(
                            {
                                "customer_id": cid, "kind": kind, "channel": "email",
                                "occurred_at": sent_at + timedelta(hours=1 + repeat),
                                "message_id": mid,
                            }
                        )  # fmt: skip
        if events:
            conn.execute(insert(Interaction), events)
        write_answers(conn, rng, n, sizes.answers)


def write_answers(conn, rng: np.random.Generator, customers: int, count: int) -> None:  # type: ignore[no-untyped-def]
    """Survey answers, each to a survey message of its own (a ledger row without hold-out)."""
    surveys = [
        ("csat_after_delivery", "csat"),
        ("csat_after_ticket", "csat"),
        ("nps_quarterly", "nps"),
    ]
    asked, rows = [], []
    for i in range(count):
        survey, kind = surveys[int(rng.integers(len(surveys)))]
        at = _at(rng.uniform(0, (END - START).total_seconds()))
        if kind == "csat":
            score: int | None = int(rng.choice([1, 2, 3, 4, 5, 5, 4, 4]))
        else:
            score = int(rng.integers(0, 11))
        if i % 40 == 0:
            score = 7 if kind == "csat" else 12  # outside the scale: not an answer
        if i % 55 == 0:
            kind, score = "feedback", None
        cid = int(rng.integers(1, customers + 1))
        sent = at - timedelta(hours=2)
        asked.append(
            {
                "campaign": survey, "period": f"t{i}", "customer_id": cid, "channel": "email",
                "kind": f"{kind}_survey", "status": "sent", "send_at": sent, "sent_at": sent,
                "created_at": sent,
            }
        )  # fmt: skip
        rows.append(
            {
                "period": f"t{i}", "customer_id": cid, "survey": survey, "kind": kind,
                "score": score, "answered_at": at, "updated_at": at,
            }
        )  # fmt: skip
    conn.execute(insert(Message), asked)
    ids = dict(
        conn.execute(select(Message.period, Message.id).where(Message.kind.like("%_survey"))).all()
    )
    conn.execute(
        insert(SurveyAnswer),
        [
            {**{k: v for k, v in r.items() if k != "period"}, "message_id": ids[r["period"]]}
            for r in rows
        ],
    )
