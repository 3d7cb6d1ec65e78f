"""Who gets what and when: a dry-run plan, one row per customer (``campaigns plan --list``).

The counts of :class:`campaigns.outcomes.PlanSummary` say how many; a marketer checking a
definition also needs to see which customer lands where, with the variant and the moment
on the customer's own clock. Rows name customers by the store's own id, as the store's
exports do; no contact data. Streamed chunk by chunk like the plan itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from campaigns.cadence import Period
from campaigns.campaign import Campaign
from campaigns.outcomes import local_moment
from campaigns.planning import plan
from models.base import table
from models.settings import Settings
from models.store import Customer

C = table(Customer).c
COLUMNS = (
    "customer_id",
    "outcome",
    "variant",
    "template",
    "locale",
    "time_zone",
    "send_at",
    "local_send_at",
)


def plan_rows(
    engine: Engine, *, campaign: Campaign, period: Period, now: datetime, settings: Settings
) -> Iterator[dict[str, Any]]:
    """One row per audience customer: outcome (planned, held_out or the reason), variant,
    template, locale, zone, and the send time in UTC and on the customer's clock."""
    for chunk in plan(engine, campaign=campaign, period=period, now=now, settings=settings):
        with engine.connect() as conn:
            ids = dict(
                conn.execute(
                    select(C.id, C.external_id).where(C.id.in_([o.customer_id for o in chunk]))
                )
                .tuples()
                .all()
            )
        for o in chunk:
            yield {
                "customer_id": ids.get(o.customer_id, str(o.customer_id)),
                "outcome": str(o.label),
                "variant": o.variant,
                "template": o.template,
                "locale": o.locale,
                "time_zone": o.time_zone,
                "send_at": o.send_at.isoformat() if o.send_at else None,
                "local_send_at": local_moment(o.send_at, o.time_zone or settings.default_time_zone)
                if o.send_at
                else None,
            }
