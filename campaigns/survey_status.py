"""What an operator sees of the triggered surveys: each one's trigger and delay, and how far
its triggers have been planned (its checkpoint).

Kept apart from ``campaigns.surveys``, which plans and sends them: this only reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from campaigns.survey_triggers import triggered_campaigns
from models.base import table
from models.surveys import SurveyCheckpoint

CHECKPOINT = table(SurveyCheckpoint).c


def survey_status(engine: Engine) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per valid triggered survey campaign (name, kind, channel, trigger, delay,
    priority, ``checked_until``), and the errors of the definitions that are not valid."""
    campaigns, errors = triggered_campaigns()
    with engine.connect() as conn:
        rows = conn.execute(select(CHECKPOINT.campaign, CHECKPOINT.checked_until)).all()
    checked: dict[str, datetime | None] = {r.campaign: r.checked_until for r in rows}
    data = [
        {
            "name": camp.name,
            "kind": camp.kind,
            "channel": camp.channel,
            "after": camp.trigger.after if camp.trigger else None,
            "delay": camp.trigger.delay_text if camp.trigger else None,
            "priority": camp.priority,
            "checked_until": checked.get(camp.name),
        }
        for camp in campaigns
    ]
    return data, errors
