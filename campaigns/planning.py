"""Audience planning: who gets a campaign's message in a period, when, and who does not and why.

The audience is the members of the included segments minus the excluded ones, streamed from
the database in customer order with everything a decision needs joined in SQL (consent,
address, device, open ticket, preference, an existing ledger row). Each customer gets one
outcome, checked in this order:

1. already in the ledger for this period: the recorded outcome (``already_sent_this_period``
   once sent);
2. consent for the channel: ``no_consent``, ``unsubscribed``, ``bounced``, ``complained``;
3. an address or an enabled push device: ``no_address``, ``no_device``;
4. promotional kinds only: an open support ticket, ``open_ticket``;
5. ``campaign_ended``: the send time falls after the campaign's end date;
6. the frequency cap across every campaign of the channel and cap group, at the customer's
   own send time: ``frequency_cap``; or ``lower_priority`` when only planned messages of
   higher-priority campaigns are in the way. Planned, unsent messages of lower-priority
   campaigns give way: their rows become ``suppressed``/``lower_priority`` when this plan is
   recorded;
7. ``held_out``: the stable hash of (campaign, customer) falls in the hold-out share. It
   comes last, so the control group is exactly as eligible as the customers sent to; it
   keeps the send time it would have had, where its attribution window starts;
8. ``planned``, with a variant (another stable hash) and a send time in UTC.

The plan is what a timely run sends. The same caps, quiet hours and gap are checked again
at the moment of sending (``campaigns.send_rules``); :func:`summarize` reports what those
checks would do to the rows due at ``now`` (sent, deferred or skipped, by reason).

``plan(..., record=True)`` evaluates and writes each chunk in one transaction that holds the
cap lock of the channel, so two campaigns planned at once cannot both take the last slot.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    union,
)

from campaigns.cadence import Period
from campaigns.caps import Caps, caps_for, group_kinds, preference_caps, violates_all
from campaigns.definitions import Campaign
from campaigns.localtime import send_time, zone
from campaigns.send_rules import SendRules, campaign_window, quiet_hours_for
from models.base import UTCDateTime
from models.campaigns import Message
from models.settings import get_settings
from models.store import Consent, Customer, Device, SupportTicket
from models.surveys import ContactPreference

M = Message.__table__
C = Customer.__table__
CONSENT = Consent.__table__
DEVICE = Device.__table__
TICKET = SupportTicket.__table__
PREFERENCE = ContactPreference.__table__

REASONS = (
    "no_consent",
    "unsubscribed",
    "bounced",
    "complained",
    "no_address",
    "no_device",
    "open_ticket",
    "campaign_ended",
    "frequency_cap",
    "lower_priority",
    "already_sent_this_period",
    # Skipped at the moment of sending (campaigns.send_rules).
    "too_late",
    "quiet_hours",
    "min_gap",
)
# Ledger statuses that hold a slot of the frequency cap.
COUNTED = ("planned", "sending", "sent")
SAMPLE_SIZE = 5


def bucket(salt: str, campaign: str, customer_id: int) -> float:
    """A stable number in [0, 1) for (campaign, customer): the same on every run and machine."""
    digest = hashlib.sha256(f"{salt}:{campaign}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_held_out(campaign: Campaign, customer_id: int) -> bool:
    return campaign.holdout > 0 and bucket("holdout", campaign.name, customer_id) * 100 < (
        campaign.holdout
    )


def pick_variant(campaign: Campaign, customer_id: int) -> tuple[str | None, str]:
    """(variant, template): weights by a stable hash of its own, independent of the hold-out."""
    if not campaign.variants:
        return None, campaign.template
    point = bucket("variant", campaign.name, customer_id)
    total = 0.0
    for variant in campaign.variants:
        total += variant.share
        if point < total:
            return variant.name, variant.template or campaign.template
    last = campaign.variants[-1]
    return last.name, last.template or campaign.template


def consent_reason(status: str | None) -> str | None:
    if status is None:
        return "no_consent"
    if status == "subscribed":
        return None
    return status if status in ("unsubscribed", "bounced", "complained") else "no_consent"


@dataclass(slots=True)
class Outcome:
    customer_id: int
    status: str  # planned, held_out, suppressed; or the recorded status of an existing row
    reason: str | None = None
    variant: str | None = None
    template: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    send_at: datetime | None = None
    preempts: tuple[int, ...] = ()
    recorded: bool = False  # the ledger already held this customer's row for the period
    frequency: str | None = None  # the customer's own frequency choice
    period: str = ""

    @property
    def label(self) -> str:
        """What the plan reports: planned, held_out, or the suppression reason."""
        if self.recorded and self.status in ("sent", "sending"):
            return "already_sent_this_period"
        if self.status == "suppressed":
            return self.reason or "suppressed"
        if self.status == "failed":
            return "failed_this_period"
        return self.status


class Candidate(NamedTuple):
    """One audience customer as :meth:`Evaluator.candidates` selects it (same order)."""

    id: int
    has_address: bool
    locale: str | None
    time_zone: str | None
    consent: str | None
    has_device: bool
    open_ticket: bool
    frequency: str | None
    existing_status: str | None
    existing_reason: str | None
    existing_variant: str | None
    existing_send_at: datetime | None


@dataclass
class History:
    id: int
    status: str
    priority: int
    at: datetime


@dataclass
class PlanSummary:
    """Counts of a plan, for the CLI, the artifact and the demo; ids only, no personal data."""

    campaign: str
    period: str
    starts_at: datetime
    now: datetime
    planned: int = 0
    held_out: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    other: Counter[str] = field(default_factory=Counter)
    variants: Counter[str] = field(default_factory=Counter)
    time_zones: Counter[str] = field(default_factory=Counter)
    first_send_at: datetime | None = None
    last_send_at: datetime | None = None
    due_now: int = 0
    preempts: int = 0
    already_recorded: int = 0
    sample: dict[str, list[int]] = field(default_factory=dict)
    # What the send-time rules would do now to the rows due now.
    send_now: int = 0
    deferred: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, outcomes: Sequence[Outcome]) -> None:
        for o in outcomes:
            label = o.label
            if o.recorded:
                self.already_recorded += 1
            if label == "planned":
                self.planned += 1
                self.variants[o.variant or "-"] += 1
                self.time_zones[o.time_zone or "UTC"] += 1
                if o.send_at is not None:
                    if self.first_send_at is None or o.send_at < self.first_send_at:
                        self.first_send_at = o.send_at
                    if self.last_send_at is None or o.send_at > self.last_send_at:
                        self.last_send_at = o.send_at
                    self.due_now += o.send_at <= self.now
                self.preempts += len(o.preempts)
            elif label == "held_out":
                self.held_out += 1
            elif label in REASONS:
                self.suppressed[label] += 1
            else:
                self.other[label] += 1
            ids = self.sample.setdefault(label, [])
            if len(ids) < SAMPLE_SIZE:
                ids.append(o.customer_id)

    @property
    def audience(self) -> int:
        return (
            self.planned + self.held_out + sum(self.suppressed.values()) + sum(self.other.values())
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "period": self.period,
            "period_starts_at": self.starts_at.isoformat(),
            "now": self.now.isoformat(),
            "audience": self.audience,
            "planned": self.planned,
            "held_out": self.held_out,
            "suppressed": dict(sorted(self.suppressed.items())),
            **({"other": dict(sorted(self.other.items()))} if self.other else {}),
            "already_recorded": self.already_recorded,
            "preempts": self.preempts,
            "due_now": self.due_now,
            "if_sent_now": {
                "send": self.send_now,
                "deferred": dict(sorted(self.deferred.items())),
                "skipped": dict(sorted(self.skipped.items())),
            },
            "first_send_at": self.first_send_at.isoformat() if self.first_send_at else None,
            "last_send_at": self.last_send_at.isoformat() if self.last_send_at else None,
            "variants": dict(sorted(self.variants.items())),
            "time_zones": dict(self.time_zones.most_common()),
            "sample": self.sample,
        }


def audience_select(campaign: Campaign, *, as_of: date) -> Select:
    """``customer_id`` of the members of the included segments, minus the excluded ones."""
    from segments.membership import members_select

    include = union(*[members_select(s, as_of=as_of) for s in campaign.include])
    query = select(C.c.id.label("customer_id")).where(C.c.id.in_(include))
    if campaign.exclude:
        exclude = union(*[members_select(s, as_of=as_of) for s in campaign.exclude])
        query = query.where(C.c.id.not_in(exclude))
    return query


class Evaluator:
    """Decides outcomes for rows of :func:`candidates`; reusable for triggered campaigns."""

    def __init__(self, campaign: Campaign, *, period_key: str, now: datetime) -> None:
        settings = get_settings()
        self.campaign = campaign
        self.period_key = period_key
        self.now = now
        self.caps: Caps = caps_for(campaign, settings)
        self.kinds = group_kinds(campaign.kind)
        self.quiet = quiet_hours_for(campaign, settings)
        self.ends = campaign_window(campaign, settings)[1]
        self.default_zone = settings.default_time_zone
        self._send_at: dict[str, datetime] = {}

    def send_at_for(self, period: Period, time_zone: str | None) -> datetime:
        tz = zone(time_zone, self.default_zone)
        found = self._send_at.get(tz.key)
        if found is None:
            cadence = self.campaign.cadence
            every = cadence is not None and cadence.every in ("weekly", "biweekly", "monthly")
            hour = cadence.hour if every and cadence else period.local_start.hour
            minute = cadence.minute if every and cadence else period.local_start.minute
            found = send_time(
                period_start=period.starts_at,
                hour=hour,
                minute=minute,
                tz=tz,
                local_time=self.campaign.local_time,
                quiet=self.quiet,
            )
            self._send_at[tz.key] = found
        return found

    def candidates(self, audience: Select) -> Select:
        """One row per audience customer with what the decision needs (no contact data)."""
        c = self.campaign
        consent = CONSENT.alias("consent")
        existing = M.alias("existing")
        has_address = func.coalesce(C.c.email, "").like("%@%")
        device = (
            exists().where(DEVICE.c.customer_id == C.c.id, DEVICE.c.enabled.is_(True))
            if c.channel == "push"
            else false()
        )
        ticket = (
            exists().where(
                TICKET.c.customer_id == C.c.id,
                TICKET.c.opened_at <= self.now,
                or_(TICKET.c.resolved_at.is_(None), TICKET.c.resolved_at > self.now),
            )
            if c.promotional
            else false()
        )
        ids = audience.subquery("audience")
        return (
            select(
                C.c.id,
                has_address.label("has_address"),
                C.c.locale,
                C.c.time_zone,
                consent.c.status.label("consent"),
                device.label("has_device"),
                ticket.label("open_ticket"),
                PREFERENCE.c.frequency,
                existing.c.status.label("existing_status"),
                existing.c.reason.label("existing_reason"),
                existing.c.variant.label("existing_variant"),
                existing.c.send_at.label("existing_send_at"),
            )
            .select_from(
                C.join(ids, ids.c.customer_id == C.c.id)
                .outerjoin(
                    consent, and_(consent.c.customer_id == C.c.id, consent.c.channel == c.channel)
                )
                .outerjoin(PREFERENCE, PREFERENCE.c.customer_id == C.c.id)
                .outerjoin(
                    existing,
                    and_(
                        existing.c.campaign == c.name,
                        existing.c.period == self.period_key,
                        existing.c.channel == c.channel,
                        existing.c.customer_id == C.c.id,
                    ),
                )
            )
            .order_by(C.c.id)
        )

    def history(
        self, conn: Connection, lo: int, hi: int, start: datetime, end: datetime
    ) -> dict[int, list[History]]:
        """Messages of the cap group on the channel near the period, per customer in [lo, hi]."""
        at = func.coalesce(M.c.sent_at, M.c.send_at, type_=UTCDateTime())
        reach = self.caps.reach + timedelta(days=31)  # a preference window may be a month
        rows = conn.execute(
            select(M.c.customer_id, M.c.id, M.c.status, M.c.priority, at.label("at")).where(
                M.c.customer_id.between(lo, hi),
                M.c.channel == self.campaign.channel,
                M.c.kind.in_(self.kinds),
                M.c.status.in_(COUNTED),
                at > start - reach,
                at < end + reach,
                not_(and_(M.c.campaign == self.campaign.name, M.c.period == self.period_key)),
            )
        )
        found: dict[int, list[History]] = {}
        for r in rows:
            found.setdefault(r.customer_id, []).append(History(r.id, r.status, r.priority, r.at))
        return found

    def decide(self, row: Candidate, send_at: datetime, history: Sequence[History]) -> Outcome:
        c = self.campaign
        if row.existing_status is not None:
            return Outcome(
                row.id,
                row.existing_status,
                row.existing_reason,
                variant=row.existing_variant,
                locale=row.locale,
                time_zone=row.time_zone,
                send_at=row.existing_send_at,
                recorded=True,
                frequency=row.frequency,
                period=self.period_key,
            )
        reason = consent_reason(row.consent)
        if reason is None and c.channel == "email" and not row.has_address:
            reason = "no_address"
        if reason is None and c.channel == "push" and not row.has_device:
            reason = "no_device"
        if reason is None and row.open_ticket:
            reason = "open_ticket"
        if reason is None and self.ends is not None and send_at >= self.ends:
            reason = "campaign_ended"
        preempts: tuple[int, ...] = ()
        if reason is None and history:
            reason, preempts = self._cap(send_at, history, row.frequency)
        if reason is not None:
            return Outcome(row.id, "suppressed", reason, locale=row.locale, time_zone=row.time_zone)
        if is_held_out(c, row.id):
            # The hold-out keeps the send time it would have had: its attribution window
            # starts there, as the recipients' starts at their send.
            return Outcome(
                row.id, "held_out", locale=row.locale, time_zone=row.time_zone, send_at=send_at
            )
        variant, template = pick_variant(c, row.id)
        return Outcome(
            row.id,
            "planned",
            variant=variant,
            template=template,
            locale=row.locale,
            time_zone=row.time_zone,
            send_at=send_at,
            preempts=preempts,
            frequency=row.frequency,
            period=self.period_key,
        )

    def _cap(
        self, send_at: datetime, history: Sequence[History], frequency: str | None
    ) -> tuple[str | None, tuple[int, ...]]:
        caps = [self.caps, preference_caps(self.campaign.kind, frequency)]
        if not violates_all([h.at for h in history], send_at, caps):
            return None, ()
        priority = self.campaign.priority
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

    def evaluate(self, conn: Connection, rows: Sequence[Any], period: Period) -> list[Outcome]:
        """Outcomes for rows of :meth:`candidates` (in customer order), in the caller's
        transaction (the history of the cap is read in it)."""
        if not rows:
            return []
        # Plain tuples: a SQLAlchemy Row's attribute access costs microseconds each.
        found = [Candidate._make(r) for r in rows]
        history = self.history(conn, found[0].id, found[-1].id, period.starts_at, period.ends_at)
        return [
            self.decide(r, self.send_at_for(period, r.time_zone), history.get(r.id, ()))
            for r in found
        ]


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


def plan(
    engine: Engine,
    *,
    campaign: Campaign,
    period: Period,
    now: datetime,
    record: bool = False,
    chunk_size: int = 2000,
    audience: Select | None = None,
) -> Iterator[list[Outcome]]:
    """Outcomes for the period's audience, chunk by chunk; with ``record`` each chunk is
    written to the ledger (and preemptions applied) in the transaction that decided it.

    Memory stays flat: the audience is streamed and only one chunk is held at a time.
    """
    from campaigns.ledger import record_outcomes

    evaluator = Evaluator(campaign, period_key=period.key, now=now)
    query = evaluator.candidates(
        audience if audience is not None else audience_select(campaign, as_of=now.date())
    )
    with engine.connect() as reader:
        result = reader.execution_options(stream_results=True, yield_per=chunk_size).execute(query)
        for rows in result.partitions():
            if record:
                with engine.begin() as conn:
                    cap_lock(conn, campaign)
                    outcomes = evaluator.evaluate(conn, rows, period)
                    record_outcomes(conn, campaign=campaign, period=period.key, outcomes=outcomes)
            else:
                with engine.connect() as conn:
                    outcomes = evaluator.evaluate(conn, rows, period)
            yield outcomes


def summarize(
    engine: Engine, *, campaign: Campaign, period: Period, now: datetime, record: bool = False
) -> PlanSummary:
    """The whole plan as counts (a dry run unless ``record``), with what the send-time rules
    would do to the rows due at ``now``."""
    summary = PlanSummary(campaign.name, period.key, period.starts_at, now)
    rules = SendRules(campaign)
    for chunk in plan(engine, campaign=campaign, period=period, now=now, record=record):
        summary.add(chunk)
        with engine.connect() as conn:
            verdict = rules.forecast(conn, chunk, now)
        summary.send_now += len(verdict.send)
        summary.deferred.update(reason for _, _, reason in verdict.deferred)
        summary.skipped.update(reason for _, reason in verdict.skipped)
    return summary


__all__ = [
    "REASONS",
    "Candidate",
    "Evaluator",
    "Outcome",
    "PlanSummary",
    "audience_select",
    "bucket",
    "cap_lock",
    "is_held_out",
    "pick_variant",
    "plan",
    "summarize",
]
