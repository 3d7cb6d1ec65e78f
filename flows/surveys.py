"""The ``send-surveys`` flow: plan the due triggered surveys once each, then send them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE

from campaigns.surveys import send_due_surveys
from flows.naming import timed
from flows.throttle import rate_limiter
from models.db import get_engine


@task(retries=1, retry_delay_seconds=30, cache_policy=NONE, persist_result=False)
def send_surveys_task(now: datetime | None, since: datetime | None) -> dict[str, Any]:
    """Safe to retry: triggers are keyed in the ledger and rows caught mid-send are
    reconciled before anything is sent again."""
    return send_due_surveys(get_engine(), now=now, since=since, throttle=rate_limiter())


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@flow(name="send-surveys", flow_run_name=timed("send-surveys"))
def send_surveys_flow(now: str | None = None, since: str | None = None) -> dict[str, Any]:
    """CSAT after resolved tickets, feedback and review requests after deliveries."""
    logger = get_run_logger()
    # Without ``now`` the run is on the clock: each message is checked and stamped when sent.
    result = send_surveys_task(_time(now), _time(since))
    for error in result["errors"]:
        logger.warning("survey definition skipped: %s", error)
    create_table_artifact(
        key="send-surveys",
        table=[
            {
                "survey": name,
                "kind": entry["kind"],
                "triggers": entry["triggers"],
                "planned": entry["planned"],
                "suppressed": sum(entry["suppressed"].values()),
                "sent": entry.get("sent", 0),
                "failed": entry.get("failed", 0),
                "reconciled": entry.get("reconciled", 0),
            }
            for name, entry in result["campaigns"].items()
        ],
        description=f"Triggered surveys as of {result['now']}: sent {result['sent']}.",
    )
    return result
