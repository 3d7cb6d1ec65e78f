"""The message ledger: outcomes written before any send, batches claimed, results recorded.

A row moves ``planned -> sending -> sent | failed`` (or back to ``planned`` when a batch is
released without the provider having been called). Planning writes rows with
``INSERT ... ON CONFLICT DO NOTHING`` on the unique (campaign, period, customer, channel), so
a re-run adds nobody twice; a campaign with a fallback channel first leaves out customers
who already have a row of the period on either channel (the unique key names the channel),
so nobody gets both. A batch is claimed in one ``UPDATE ... WHERE id IN (SELECT ...
FOR UPDATE SKIP LOCKED LIMIT n) RETURNING id`` (PostgreSQL; SQLite has a single writer and
ignores the locking clause), so two workers never hold the same row; the transaction that
records one batch's results also claims the next. ``claimed_by`` names the process
(host, pid, a token per claim session) so a crashed claim can be told from a live one.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence, Sized
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, literal, select

from campaigns.campaign import Campaign
from models.base import table, utcnow
from models.campaigns import Message, MessageStatus, Reason
from models.dialect import insert_for, skip_locked
from models.store import Channel, Consent, Customer, Device
from models.surveys import ContactPreference

M = table(Message)
C = table(Customer)
CONSENT = table(Consent)
DEVICE = table(Device)
PREFERENCE = table(ContactPreference)

HOST = socket.gethostname()
# Claim sessions alive in this process; a 'sending' row of this pid with another token was
# left behind by a session that ended (a Prefect task retry runs in the same process).
ACTIVE_CLAIMERS: set[str] = set()


def new_claimer() -> str:
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_abandoned(claimed_by: str | None, claimed_at: datetime | None, *, lease: timedelta) -> bool:
    """Is nobody working on a 'sending' row any more?

    On this host a claim is abandoned as soon as its process is gone (or, in this process,
    its session ended), and never while it lives, however old its lease: a live sender may
    be inside a provider call. A claim from another host once its lease has run out; a live
    sender renews it (``campaigns.last_moment``).
    """
    if claimed_by is None or claimed_at is None:
        return True
    host, _, rest = claimed_by.partition(":")
    pid_text, _, _token = rest.partition(":")
    if host != HOST or not pid_text.isdigit():
        return claimed_at < utcnow() - lease
    pid = int(pid_text)
    if pid == os.getpid():
        return claimed_by not in ACTIVE_CLAIMERS
    return not _pid_alive(pid)


def record_outcomes(
    conn: Connection, *, campaign: Campaign, period: str, outcomes: Sequence[Any]
) -> None:
    """Write new outcomes as ledger rows and apply their preemptions, in the caller's
    transaction. Outcomes that meet an existing row (a concurrent run) become ``recorded``."""
    new = [o for o in outcomes if not o.recorded]
    if new and campaign.fallback:
        taken = set(
            conn.execute(
                select(M.c.customer_id).where(
                    M.c.campaign == campaign.name,
                    M.c.period == period,
                    M.c.customer_id.in_([o.customer_id for o in new]),
                )
            ).scalars()
        )
        for o in new:
            o.recorded = o.customer_id in taken
        new = [o for o in new if not o.recorded]
    if not new:
        return
    created = utcnow()
    rows = [
        {
            "campaign": campaign.name,
            "period": period,
            "customer_id": o.customer_id,
            "channel": getattr(o, "channel", None) or campaign.channel,
            "kind": campaign.kind,
            "status": o.status,
            "reason": o.reason,
            "variant": o.variant,
            "template": o.template,
            "locale": o.locale,
            "send_at": o.send_at,
            "priority": campaign.priority,
            "attempts": 0,
            "created_at": created,
        }
        for o in new
    ]
    stmt = (
        insert_for(conn, M)
        .on_conflict_do_nothing(index_elements=["campaign", "period", "customer_id", "channel"])
        .returning(M.c.customer_id, M.c.id)
    )
    inserted: dict[int, int] = {r.customer_id: r.id for r in conn.execute(stmt, rows).all()}
    for o in new:
        if o.customer_id not in inserted:
            o.recorded = True
    losers = [o for o in new if o.preempts and o.customer_id in inserted]
    if not losers:
        return
    note = f"gave way to {campaign.name} {period}"[:500]
    wanted = sorted({i for o in losers for i in o.preempts})
    done: set[int] = set()
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        done |= set(
            conn.execute(
                M.update()
                .where(M.c.id.in_(part), M.c.status == MessageStatus.planned)
                .values(status=MessageStatus.suppressed, reason=Reason.lower_priority, error=note)
                .returning(M.c.id)
            ).scalars()
        )
    # A message claimed meanwhile cannot give way: this customer is capped after all.
    capped = [inserted[o.customer_id] for o in losers if not set(o.preempts) <= done]
    for o in losers:
        if not set(o.preempts) <= done:
            o.status, o.reason, o.send_at, o.preempts = (
                MessageStatus.suppressed,
                Reason.frequency_cap,
                None,
                (),
            )
    if capped:
        conn.execute(
            M.update()
            .where(M.c.id.in_(capped))
            .values(status=MessageStatus.suppressed, reason=Reason.frequency_cap, send_at=None)
        )


@dataclass(frozen=True)
class Recipient:
    """What sending one ledger row needs, read in the claim's transaction."""

    id: int
    customer_id: int
    campaign: str
    period: str
    kind: str
    channel: str
    variant: str | None
    template: str | None
    locale: str
    time_zone: str
    email: str | None
    first_name: str | None
    last_name: str | None
    consent: str | None
    device_id: int | None
    platform: str | None
    token: str | None
    endpoint_arn: str | None
    send_at: datetime | None  # the planned moment (the send-time rules measure lateness from it)
    frequency: str | None  # the customer's own frequency choice, for the caps


def claim(
    conn: Connection,
    *,
    campaign: str,
    period: str | None,
    now: datetime,
    limit: int,
    claimer: str,
    channel: str | None = None,
) -> list[int]:
    """Claim up to ``limit`` planned rows that are due, earliest send time first; their ids.
    ``channel`` claims only that channel's rows (each channel has its own transport)."""
    pick = (
        select(M.c.id)
        .where(M.c.campaign == campaign, M.c.status == MessageStatus.planned, M.c.send_at <= now)
        .order_by(M.c.send_at, M.c.id)
        .limit(limit)
    )
    if period is not None:
        pick = pick.where(M.c.period == period)
    if channel is not None:
        pick = pick.where(M.c.channel == channel)
    pick = skip_locked(pick, conn)
    stmt = (
        M.update()
        .where(M.c.id.in_(pick.scalar_subquery()))
        .values(
            status=MessageStatus.sending,
            claimed_by=claimer,
            claimed_at=utcnow(),
            attempts=M.c.attempts + 1,
        )
        .returning(M.c.id)
    )
    return sorted(conn.execute(stmt).scalars())


def recipients(
    conn: Connection, ids: Sequence[int], *, channel: str | None = None
) -> list[Recipient]:
    """The claimed rows with their customer's current consent, address, push device and
    frequency choice.

    ``channel`` (when every row has the same) leaves out the device lookup for email.
    """
    if not ids:
        return []
    consent = CONSENT.alias("consent")
    columns = [
        M.c.id,
        M.c.customer_id,
        M.c.campaign,
        M.c.period,
        M.c.kind,
        M.c.channel,
        M.c.variant,
        M.c.template,
        func.coalesce(M.c.locale, C.c.locale).label("locale"),
        C.c.time_zone,
        C.c.email,
        C.c.first_name,
        C.c.last_name,
        consent.c.status.label("consent"),
    ]
    joined = M.join(C, C.c.id == M.c.customer_id).outerjoin(
        consent,
        and_(consent.c.customer_id == M.c.customer_id, consent.c.channel == M.c.channel),
    )
    if channel == Channel.email:
        columns += [literal(None).label(n) for n in ("device_id", "platform", "token")]
        columns.append(literal(None).label("endpoint_arn"))
    else:
        latest_device = (
            select(DEVICE.c.id)
            .where(DEVICE.c.customer_id == M.c.customer_id, DEVICE.c.enabled.is_(True))
            .order_by(DEVICE.c.created_at.desc(), DEVICE.c.id.desc())
            .limit(1)
            .correlate(M)
            .scalar_subquery()
        )
        columns += [
            DEVICE.c.id.label("device_id"),
            DEVICE.c.platform,
            DEVICE.c.token,
            DEVICE.c.endpoint_arn,
        ]
        joined = joined.outerjoin(
            DEVICE, and_(M.c.channel == Channel.push, DEVICE.c.id == latest_device)
        )
    columns += [M.c.send_at, PREFERENCE.c.frequency]
    joined = joined.outerjoin(PREFERENCE, PREFERENCE.c.customer_id == M.c.customer_id)
    query = select(*columns).select_from(joined).where(M.c.id.in_(list(ids))).order_by(M.c.id)
    return [Recipient(*r) for r in conn.execute(query)]  # columns in the fields' order


def _update_many(conn: Connection, rows: list[dict[str, Any]], **values: Any) -> None:
    if not rows:
        return
    stmt = (
        M.update()
        .where(
            M.c.id == bindparam("mid"),
            M.c.status == MessageStatus.sending,
            M.c.claimed_by == bindparam("claimer"),
        )
        .values(**values)
    )
    conn.execute(stmt, rows)


@dataclass
class BatchResult:
    """What happened to one claimed batch; written by :func:`finish`."""

    # (ledger id, provider id, device id, the moment the provider accepted it)
    sent: list[tuple[int, str, int | None, datetime]]
    failed: list[tuple[int, str]]  # (ledger id, reason)
    suppressed: list[tuple[int, str]]  # re-checked at send time: (ledger id, reason)
    released: list[int]  # provider never called: back to planned
    uncertain: list[int]  # the provider may have it: left 'sending' for reconciliation
    disabled_devices: list[int]
    endpoints: list[tuple[int, str]]  # (device id, endpoint arn) created while sending
    # Not allowed yet by the send-time rules: back to planned at (ledger id, moment, reason).
    deferred: list[tuple[int, datetime, str]]

    @classmethod
    def empty(cls) -> BatchResult:
        return cls([], [], [], [], [], [], [], [])

    @property
    def size(self) -> int:
        """How many claimed rows this result settles."""
        parts: tuple[Sized, ...] = (
            self.sent,
            self.failed,
            self.suppressed,
            self.released,
            self.uncertain,
            self.deferred,
        )
        return sum(map(len, parts))


def finish(conn: Connection, *, claimer: str, result: BatchResult) -> None:
    """Record a batch's results; only rows this claimer still holds are touched."""
    _update_many(
        conn,
        [
            {"mid": i, "claimer": claimer, "pid": p, "dev": d, "at": at}
            for i, p, d, at in result.sent
        ],
        status=MessageStatus.sent,
        sent_at=bindparam("at"),
        provider_message_id=bindparam("pid"),
        device_id=bindparam("dev"),
        error=None,
    )
    _update_many(
        conn,
        [{"mid": i, "claimer": claimer, "err": r[:500]} for i, r in result.failed],
        status=MessageStatus.failed,
        reason=Reason.send_failed,
        error=bindparam("err"),
    )
    _update_many(
        conn,
        [{"mid": i, "claimer": claimer, "why": r} for i, r in result.suppressed],
        status=MessageStatus.suppressed,
        reason=bindparam("why"),
        send_at=None,
    )
    _update_many(
        conn,
        [{"mid": i, "claimer": claimer} for i in result.released],
        status=MessageStatus.planned,
        claimed_by=None,
        claimed_at=None,
    )
    _update_many(
        conn,
        [{"mid": i, "claimer": claimer, "at": at} for i, at, _ in result.deferred],
        status=MessageStatus.planned,
        send_at=bindparam("at"),
        claimed_by=None,
        claimed_at=None,
    )
    if result.disabled_devices:
        conn.execute(
            DEVICE.update()
            .where(DEVICE.c.id.in_(result.disabled_devices))
            .values(enabled=False, disabled_at=utcnow())
        )
    for device_id, arn in result.endpoints:
        conn.execute(DEVICE.update().where(DEVICE.c.id == device_id).values(endpoint_arn=arn))


def status_counts(conn: Connection, *, campaign: str, period: str) -> dict[str, Any]:
    """The ledger of one campaign period: rows per status and suppression reason."""
    rows = conn.execute(
        select(M.c.status, M.c.reason, func.count())
        .where(M.c.campaign == campaign, M.c.period == period)
        .group_by(M.c.status, M.c.reason)
    ).all()
    counts: dict[str, Any] = {MessageStatus.suppressed: {}}
    for status, reason, n in rows:
        if status == MessageStatus.suppressed:
            counts[MessageStatus.suppressed][reason or MessageStatus.suppressed] = n
        else:
            counts[status] = counts.get(status, 0) + n
    return counts
