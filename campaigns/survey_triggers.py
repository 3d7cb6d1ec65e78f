"""Triggered campaigns and their triggers: which campaigns are triggered, and which events
(an order delivered, a ticket resolved) happened in a window of time.

Each trigger has a key, ``delivered:<order id>`` or ``ticket:<ticket id>``, the ``period``
of its ledger row (:data:`TRIGGER_KEY` reads it back). Only reads; planning the surveys is
``campaigns.survey_planning``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from campaigns.definitions import Campaign, load_all
from models.base import UTCDateTime, table
from models.store import Order, ShipmentEvent, SupportTicket

SHIPMENT = table(ShipmentEvent)
ORDER = table(Order)
TICKET = table(SupportTicket)
TRIGGER_KEY = re.compile(r"^(delivered|ticket):(\d+)$")


def max_age(campaign: Campaign) -> timedelta:
    """How long after it fell due a trigger may still be surveyed (``survey.max_age``)."""
    return campaign.survey_options.max_age


def choices(campaign: Campaign) -> list[str]:
    """The one-click choices of a feedback survey (``survey.choices``)."""
    return list(campaign.survey_options.choices)


def triggered_campaigns(
    paths: list[Path] | None = None,
) -> tuple[list[Campaign], list[str]]:
    """Every valid triggered campaign, highest priority first, and the errors of the others
    (their ``survey:`` options among them, checked when the definitions load)."""
    campaigns, errors = load_all(paths)
    found = [c for c in campaigns if c.trigger is not None]
    return sorted(found, key=lambda c: (-c.priority, c.name)), [str(e) for e in errors]


@dataclass(frozen=True)
class TriggerEvent:
    """One trigger: its key, the order or ticket id, the customer and when it happened."""

    key: str
    source_id: int
    customer_id: int
    at: datetime


def trigger_rows(
    conn: Connection, campaign: Campaign, lo: datetime, hi: datetime
) -> list[TriggerEvent]:
    """Triggers whose event happened in [lo, hi): (key, source id, customer id, at)."""
    assert campaign.trigger is not None
    if campaign.trigger.after == "delivered":
        at = func.min(SHIPMENT.c.occurred_at).label("at")
        query = (
            select(SHIPMENT.c.order_id.label("source_id"), ORDER.c.customer_id, at)
            .select_from(SHIPMENT.join(ORDER, ORDER.c.id == SHIPMENT.c.order_id))
            .where(
                SHIPMENT.c.status == "delivered",
                SHIPMENT.c.occurred_at >= lo,
                SHIPMENT.c.occurred_at < hi,
                ORDER.c.customer_id.is_not(None),
            )
            .group_by(SHIPMENT.c.order_id, ORDER.c.customer_id)
        )
        prefix = "delivered"
    else:
        query = select(
            TICKET.c.id.label("source_id"),
            TICKET.c.customer_id,
            TICKET.c.resolved_at.label("at"),
        ).where(TICKET.c.resolved_at >= lo, TICKET.c.resolved_at < hi)
        prefix = "ticket"
    rows = conn.execute(query).all()
    return sorted(
        (
            TriggerEvent(f"{prefix}:{r.source_id}", r.source_id, r.customer_id, _aware(r.at))
            for r in rows
        ),
        key=lambda t: (t.at, t.source_id),
    )


def _aware(value: Any) -> datetime:
    """Aggregates lose the column type on SQLite; bring the value back to aware UTC."""
    found = UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]
    assert found is not None  # a trigger's time is never null (the queries filter on it)
    return found
