"""The frequency cap at planning time, against the ledger: what counts, who gives way, the lock.

``campaigns.caps`` says what a cap is (windows, gaps, a customer's own limit); this module
applies it across campaigns when a plan is decided. Every planned, sending or sent message
of the cap group on the channel holds a slot. When the cap is full, planned but unsent
messages of lower-priority campaigns give way (they are preempted when the plan is
recorded); a campaign blocked only by planned messages of higher-priority ones is
``lower_priority``, otherwise ``frequency_cap``. Two campaigns of one cap group must not
both take a customer's last slot, so these decisions run under :func:`cap_lock`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, not_, select

from campaigns.caps import Caps, group_kinds, violates_all
from campaigns.definitions import Campaign
from models.base import UTCDateTime, table
from models.campaigns import Message

M = table(Message)
# Ledger statuses that hold a slot of the frequency cap.
COUNTED = ("planned", "sending", "sent")
# How much further than the store's caps to look: a customer's own window may be a month.
PREFERENCE_REACH = timedelta(days=31)


@dataclass
class History:
    """A message of the cap group that holds a slot near the period."""

    id: int
    status: str
    priority: int
    at: datetime


def cap_history(
    conn: Connection,
    campaign: Campaign,
    *,
    period_key: str,
    caps: Caps,
    customers: tuple[int, int],
    start: datetime,
    end: datetime,
) -> dict[int, list[History]]:
    """Messages of the cap group on the channel near [start, end], per customer with an id
    in the range ``customers``; the campaign's own period is what is being decided, so left out.
    """
    at = func.coalesce(M.c.sent_at, M.c.send_at, type_=UTCDateTime())
    reach = caps.reach + PREFERENCE_REACH
    lo, hi = customers
    rows = conn.execute(
        select(M.c.customer_id, M.c.id, M.c.status, M.c.priority, at.label("at")).where(
            M.c.customer_id.between(lo, hi),
            M.c.channel == campaign.channel,
            M.c.kind.in_(group_kinds(campaign.kind)),
            M.c.status.in_(COUNTED),
            at > start - reach,
            at < end + reach,
            not_(and_(M.c.campaign == campaign.name, M.c.period == period_key)),
        )
    )
    found: dict[int, list[History]] = {}
    for r in rows:
        found.setdefault(r.customer_id, []).append(History(r.id, r.status, r.priority, r.at))
    return found


def cap_verdict(
    campaign: Campaign,
    caps: Sequence[Caps | None],
    send_at: datetime,
    history: Sequence[History],
) -> tuple[str | None, tuple[int, ...]]:
    """(None, the ids of planned messages that must give way), or (the reason, ()).

    The weakest planned messages give way first (lowest priority, then the latest), and
    only as many as the cap needs.
    """
    if not violates_all([h.at for h in history], send_at, caps):
        return None, ()
    priority = campaign.priority
    weaker = sorted(
        (h for h in history if h.status == "planned" and h.priority < priority),
        key=lambda h: (h.priority, -h.at.timestamp()),
    )
    firm = [h.at for h in history if h not in weaker]
    if weaker and not violates_all(firm, send_at, caps):
        keep = list(weaker)
        dropped: list[int] = []
        while keep and violates_all(firm + [h.at for h in keep], send_at, caps):
            dropped.append(keep.pop(0).id)
        return None, tuple(dropped)
    stronger = [h for h in history if h.status == "planned" and h.priority > priority]
    without = [h.at for h in history if h not in stronger]
    if stronger and not violates_all(without, send_at, caps):
        return "lower_priority", ()
    return "frequency_cap", ()


def cap_lock(conn: Connection, campaign: Campaign) -> None:
    """Serialise cap decisions of one channel and cap group until the transaction ends.

    PostgreSQL: a transaction advisory lock. SQLite: a write that touches nothing, so the
    transaction holds the database's single write lock before it reads the history.
    """
    if conn.dialect.name == "postgresql":
        key = f"homecoming-cap:{campaign.channel}:{','.join(group_kinds(campaign.kind))}"
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        conn.execute(select(func.pg_advisory_xact_lock(number)))
    else:
        conn.execute(M.update().where(M.c.id == -1).values(attempts=M.c.attempts))


__all__ = ["COUNTED", "History", "cap_history", "cap_lock", "cap_verdict"]
