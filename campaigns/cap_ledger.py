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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, func, not_, select

from campaigns.caps import Caps, group_kinds, violates_all
from campaigns.definitions import Campaign
from models.base import UTCDateTime, table
from models.campaigns import Message, MessageStatus, Reason
from models.dialect import transaction_lock
from models.surveys import FREQUENCY_LIMITS

M = table(Message)
# Ledger statuses that hold a slot of the frequency cap.
COUNTED = (MessageStatus.planned, MessageStatus.sending, MessageStatus.sent)
# How much further than the store's caps to look: the longest window a customer may choose.
PREFERENCE_REACH = timedelta(days=max(days for _, days in FREQUENCY_LIMITS.values()))
# When a message holds its slot: when it was sent, else when it is planned to be.
SLOT_AT = func.coalesce(M.c.sent_at, M.c.send_at, type_=UTCDateTime())


def holds_slot(campaign: Campaign) -> ColumnElement[bool]:
    """Ledger rows that count against ``campaign``'s cap: planned, sending or sent messages
    of its cap group on its channel (the one definition, for campaigns and surveys alike)."""
    return and_(
        M.c.channel == campaign.channel,
        M.c.kind.in_(group_kinds(campaign.kind)),
        M.c.status.in_(COUNTED),
    )


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
    at = SLOT_AT
    reach = caps.reach + PREFERENCE_REACH
    lo, hi = customers
    rows = conn.execute(
        select(M.c.customer_id, M.c.id, M.c.status, M.c.priority, at.label("at")).where(
            M.c.customer_id.between(lo, hi),
            holds_slot(campaign),
            at > start - reach,
            at < end + reach,
            not_(and_(M.c.campaign == campaign.name, M.c.period == period_key)),
        )
    )
    found: dict[int, list[History]] = {}
    for r in rows:
        found.setdefault(r.customer_id, []).append(History(r.id, r.status, r.priority, r.at))
    return found


def slot_times(
    conn: Connection, campaign: Campaign, ids: Sequence[int], lo: datetime, hi: datetime
) -> dict[int, list[datetime]]:
    """When each of the customers ``ids`` has a slot of ``campaign``'s cap taken in (lo, hi):
    the history of triggered surveys, which give way to nothing and preempt nothing."""
    at = SLOT_AT
    rows = conn.execute(
        select(M.c.customer_id, at.label("at")).where(
            M.c.customer_id.in_(list(ids)),
            holds_slot(campaign),
            at > lo,
            at < hi,
        )
    )
    found: dict[int, list[datetime]] = {}
    for r in rows:
        found.setdefault(r.customer_id, []).append(r.at)
    return found


def cap_verdict(
    campaign: Campaign,
    caps: Sequence[Caps | None],
    send_at: datetime,
    history: Sequence[History],
) -> tuple[Reason | None, tuple[int, ...]]:
    """(None, the ids of planned messages that must give way), or (the reason, ()).

    The weakest planned messages give way first (lowest priority, then the latest), and
    only as many as the cap needs.
    """
    if not violates_all([h.at for h in history], send_at, caps):
        return None, ()
    priority = campaign.priority
    weaker = sorted(
        (h for h in history if h.status == MessageStatus.planned and h.priority < priority),
        key=lambda h: (h.priority, -h.at.timestamp()),
    )
    firm = [h.at for h in history if h not in weaker]
    if weaker and not violates_all(firm, send_at, caps):
        keep = list(weaker)
        dropped: list[int] = []
        while keep and violates_all(firm + [h.at for h in keep], send_at, caps):
            dropped.append(keep.pop(0).id)
        return None, tuple(dropped)
    stronger = [h for h in history if h.status == MessageStatus.planned and h.priority > priority]
    without = [h.at for h in history if h not in stronger]
    if stronger and not violates_all(without, send_at, caps):
        return Reason.lower_priority, ()
    return Reason.frequency_cap, ()


def cap_lock(conn: Connection, campaign: Campaign) -> None:
    """Serialise cap decisions of one channel and cap group until the transaction ends
    (:func:`models.dialect.transaction_lock`: an advisory lock on PostgreSQL, the database's
    write lock on SQLite, taken before the history is read)."""
    key = f"homecoming-cap:{campaign.channel}:{','.join(group_kinds(campaign.kind))}"
    transaction_lock(conn, key, touch=M)


__all__ = [
    "COUNTED",
    "SLOT_AT",
    "History",
    "cap_history",
    "cap_lock",
    "cap_verdict",
    "holds_slot",
    "slot_times",
]
