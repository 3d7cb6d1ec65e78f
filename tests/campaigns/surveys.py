"""Shared by the survey tests: two survey campaigns, their triggers and the ledger as dicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from campaigns.definitions import parse_campaign
from models.campaigns import Message
from models.store import Order, ShipmentEvent, SupportTicket

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
