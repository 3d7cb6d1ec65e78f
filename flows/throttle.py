"""The send rate limit every sender shares: a Prefect global concurrency limit with slot decay.

The CLI, the campaign flow and the survey flow all take their throttle from here, so one
provider quota (``HOMECOMING_SEND_RATE_PER_SECOND``) holds however many of them send at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prefect import get_run_logger

from models.settings import Settings, get_settings

log = logging.getLogger(__name__)


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except Exception:  # outside a flow run (the CLI): the module's logger
        return log


def rate_limiter(settings: Settings | None = None) -> Callable[[int], None] | None:
    """A throttle over the global concurrency limit named in the settings, or None.

    The limit must have slot decay (``prefect gcl create NAME --limit N
    --slot-decay-per-second N``); with ``HOMECOMING_SEND_RATE_PER_SECOND`` set it is created
    or updated here. Without a limit sending is not throttled (said in the log).
    """
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import rate_limit
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    settings = settings or get_settings()
    if not settings.send_rate_per_second and not PREFECT_API_URL.value():
        return None  # no server to hold a shared limit, and no rate asked for
    name = settings.send_rate_limit_name
    logger = _logger()
    with get_client(sync_client=True) as client:
        if settings.send_rate_per_second:
            rate = settings.send_rate_per_second
            client.upsert_global_concurrency_limit_by_name(
                name, limit=rate, slot_decay_per_second=float(rate)
            )
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            logger.info(
                "no global concurrency limit %r: sending is not rate limited (create one "
                "with slot decay, or set HOMECOMING_SEND_RATE_PER_SECOND)",
                name,
            )
            return None
    if not limit.slot_decay_per_second or not limit.active:
        logger.warning("limit %r has no slot decay or is inactive: not rate limiting", name)
        return None
    size = max(1, int(limit.limit))

    def throttle(count: int) -> None:
        while count > 0:
            take = min(count, size)
            rate_limit(name, occupy=take)
            count -= take

    return throttle
