"""Customers of a generated store answer the campaigns they were sent (demo and tests).

Reads who each campaign period reached from the ledger (the first ``sent_at`` of each
customer's messages, as the campaign report counts it), their RFM segment at the latest
refresh before the send and their counted orders; :func:`synthetic.response.respond`
draws the response orders. They are written to ``responses.csv`` in the store folder and
loaded like any orders file; the true effect of every comparison goes to ``truth.json``.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from analytics.campaigns import DEFAULT_WINDOW
from analytics.orders import ORD, counted
from ingest.run import ingest_file
from models.base import table
from models.campaigns import Message, MessageStatus
from models.segments import SegmentMember
from models.store import Customer, Order
from segments.rfm import SEGMENTS
from synthetic.output import HEADERS
from synthetic.response import EFFECTS, RESPONSE_DAYS, Recipient, respond

M = table(Message).c
C = table(Customer).c
S = table(SegmentMember).c
RFM = [f"rfm:{name}" for name in SEGMENTS]


def recipients(engine: Engine) -> list[Recipient]:
    """Every customer each campaign period was sent to, with the segment they were in."""
    first = (
        select(
            M.campaign,
            M.period,
            M.customer_id,
            func.min(M.variant),
            func.min(M.kind),
            func.min(M.sent_at),
        )
        .where(M.status == MessageStatus.sent)
        .group_by(M.campaign, M.period, M.customer_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(first).all()
        ids = dict(conn.execute(select(C.id, C.external_id)).tuples().all())
        snapshots: dict[int, list[tuple[date, str]]] = defaultdict(list)
        for customer, as_of, segment in conn.execute(
            select(S.customer_id, S.as_of, S.segment).where(S.segment.in_(RFM)).order_by(S.as_of)
        ):
            snapshots[customer].append((as_of, segment.removeprefix("rfm:")))
    out = []
    for campaign, period, customer, variant, kind, sent_at in rows:
        known = [seg for as_of, seg in snapshots[customer] if as_of < sent_at.date()]
        out.append(
            Recipient(
                customer=ids[customer],
                campaign=campaign,
                period=period,
                variant=variant,
                kind=kind,
                segment=known[-1] if known else None,
                sent_at=sent_at.timestamp(),
            )
        )
    return out


def order_times(engine: Engine) -> dict[str, list[float]]:
    """Counted order times (epoch seconds) per external customer id."""
    query = (
        select(C.external_id, ORD.ordered_at)
        .join(table(Customer), C.id == ORD.customer_id)
        .select_from(table(Order))
        .where(counted())
    )
    out: dict[str, list[float]] = defaultdict(list)
    with engine.connect() as conn:
        for customer, at in conn.execute(query):
            out[customer].append(at.timestamp())
    return out


def answer_campaigns(
    engine: Engine, *, store: Path, seed: int, end: date, days: int = DEFAULT_WINDOW
) -> dict[str, Any]:
    """Draw, write and load the response orders; write the ground truth; say how many."""
    end_s = datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp()
    rows, truth = respond(
        recipients(engine), order_times(engine), seed=seed, end_s=end_s, window_days=days
    )
    path = store / "responses.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADERS["orders"])
        writer.writerows(rows)
    (store / "truth.json").write_text(
        json.dumps(
            {
                "effects": EFFECTS,
                "response_days": RESPONSE_DAYS,
                "attribution_days": days,
                "comparisons": truth,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    loaded = ingest_file(kind="orders", path=path, engine=engine).as_dict()
    return {"responses": len(rows), "quarantined": loaded["quarantined"], "comparisons": truth}
