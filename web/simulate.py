"""Customers answering their surveys, for the demo: links opened on the running web service.

Each answer goes through HTTP exactly as a person would: open the signed link from the email
(a GET, which only shows the page), then press Send (a POST of the score or choice, sometimes
with a comment), so the demo exercises the real service. Scores lean on
what happened: a delivery that was delayed, or a ticket that took many touches, gets lower
scores. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import Engine, Row, exists, select

from campaigns import links
from campaigns.links import Action
from campaigns.surveys import choices as choices_of
from campaigns.surveys import triggered_campaigns
from models.base import table
from models.campaigns import ANSWER_KINDS, SURVEY_KINDS, CampaignKind, Message, MessageStatus
from models.store import ShipmentEvent, SupportTicket
from models.surveys import SurveyAnswer

M = table(Message)
HAPPY = {"csat": [1, 1, 2, 6, 10], "nps": [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 9]}
UNHAPPY = {"csat": [6, 6, 4, 2, 1], "nps": [3, 3, 4, 4, 4, 3, 2, 2, 1, 1, 1]}
COMMENTS = {
    True: ["Thank you, all good.", "Quick and friendly.", "Great service!"],
    False: ["The parcel was late.", "It took too long to get an answer.", "Box was damaged."],
}


def _troubled(engine: Engine, rows: Sequence[Row[Any]]) -> set[int]:
    """Ledger ids whose trigger went badly: a delayed delivery, a ticket of many touches."""
    orders = {
        int(r.period.split(":", 1)[1]): r.id for r in rows if r.period.startswith("delivered:")
    }
    tickets = {int(r.period.split(":", 1)[1]): r.id for r in rows if r.period.startswith("ticket:")}
    s, t = table(ShipmentEvent).c, table(SupportTicket).c
    found: set[int] = set()
    with engine.connect() as conn:
        ids = list(orders)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            delayed = conn.execute(
                select(s.order_id)
                .where(s.order_id.in_(part), s.status == "delayed")
                .group_by(s.order_id)
            ).scalars()
            found |= {orders[o] for o in delayed}
        ids = list(tickets)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            slow = conn.execute(select(t.id).where(t.id.in_(part), t.touches >= 3)).scalars()
            found |= {tickets[i] for i in slow}
    return found


def simulate_answers(
    engine: Engine,
    *,
    base_url: str,
    share: float = 0.6,
    comment_share: float = 0.25,
    seed: int = 0,
    choices: dict[str, list[str]] | None = None,
    limit: int | None = None,
) -> dict[str, int]:
    """Answer about ``share`` of the sent, unanswered surveys through the service at
    ``base_url``; counts of what was requested and what the service said. ``choices``
    (survey -> one-click choices) defaults to the triggered campaign definitions."""
    rng = random.Random(seed)
    if choices is None:
        choices = {c.name: choices_of(c) for c in triggered_campaigns()[0]}
    a = table(SurveyAnswer).c
    query = (
        select(M.c.id, M.c.customer_id, M.c.campaign, M.c.kind, M.c.period)
        .where(
            M.c.status == MessageStatus.sent,
            M.c.kind.in_(SURVEY_KINDS),
            ~exists().where(a.message_id == M.c.id),
        )
        .order_by(M.c.id)
    )
    if limit:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    troubled = _troubled(engine, rows)
    counts: Counter[str] = Counter()
    base = base_url.rstrip("/")
    with httpx.Client(timeout=10) as client:
        for r in rows:
            if rng.random() >= share:
                continue
            happy = r.id not in troubled
            if r.kind == CampaignKind.feedback_survey:
                options = (choices or {}).get(r.campaign) or ["great"]
                choice = options[0] if happy else rng.choice(options[1:] or options)
                token = links.sign(
                    Action.feedback, message_id=r.id, customer_id=r.customer_id, choice=choice
                )
                url = f"{base}/{links.PATHS[Action.feedback]}/{token}"
                form = {"choice": choice}
            else:
                kind = ANSWER_KINDS[r.kind]  # csat or nps: feedback is answered above
                weights = (HAPPY if happy else UNHAPPY)[kind]
                scores = range(1, 6) if kind == "csat" else range(11)
                score = rng.choices(list(scores), weights=weights)[0]
                token = links.sign(
                    Action.survey, message_id=r.id, customer_id=r.customer_id, score=score
                )
                url = f"{base}/{links.PATHS[Action.survey]}/{token}"
                form = {"score": str(score)}
            commented = rng.random() < comment_share
            if commented:
                form["comment"] = rng.choice(COMMENTS[happy])
            counts["requested"] += 1
            try:
                opened = client.get(url)
                sent = client.post(url, data=form) if opened.status_code == 200 else opened
                if sent.status_code != 200:
                    counts[f"status_{sent.status_code}"] += 1
                    continue
                counts["answered"] += 1
                counts["comments"] += commented
            except httpx.HTTPError:
                counts["errors"] += 1
    return dict(counts)
