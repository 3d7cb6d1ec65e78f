"""The ``sync-provider-events`` flow: SES events from SQS into suppression and interactions."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE

from campaigns.events import sync_queue
from flows.naming import timed
from models.db import get_engine
from models.settings import get_settings


@task(retries=2, retry_delay_seconds=15, cache_policy=NONE, persist_result=False)
def drain_queue_task(queue_url: str, max_messages: int, batch_size: int) -> dict[str, int]:
    """Safe to retry: messages are deleted only after their events are committed, and an
    event seen twice is recognised and changes nothing."""
    return sync_queue(
        get_engine(), queue_url=queue_url, max_messages=max_messages, batch_size=batch_size
    )


@flow(name="sync-provider-events", flow_run_name=timed("sync-provider-events"))
def sync_provider_events_flow(
    max_messages: int = 10_000, batch_size: int = 100, queue_url: str | None = None
) -> dict[str, int]:
    """Bounces, complaints, deliveries, opens and clicks from the SES event queue."""
    logger = get_run_logger()
    queue_url = queue_url or get_settings().sqs_queue_url
    if not queue_url:
        logger.warning("HOMECOMING_SQS_QUEUE_URL is not set: no provider events to read")
        return {"received": 0}
    counts = drain_queue_task(queue_url, max_messages, batch_size)
    if counts.get("malformed") or counts.get("failed"):
        logger.warning(
            "%s malformed and %s failed queue messages were left in the queue",
            counts.get("malformed", 0),
            counts.get("failed", 0),
        )
    create_table_artifact(
        key="provider-events",
        table=[{"count": key, "value": value} for key, value in sorted(counts.items())],
        description="Provider events read from the queue, by outcome and event type.",
    )
    return counts
