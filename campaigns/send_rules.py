"""Sending rules, checked again at the moment of sending, not only when planning.

A plan gives each recipient a send time that keeps the frequency cap, the minimum gap and
quiet hours *at that time*. A run can start late (a manual run on Saturday for Monday's
period, a worker outage, a catch-up of several campaigns with one ``now``) and sending a
batch takes minutes, so immediately before each small sub-batch the rules are checked at
the moment of sending (the clock, or the run's ``now`` in back-fills and tests), with the
planner's own functions:

* the campaign is inside its dates: ``campaign_ended`` after the end date;
* the message is at most the lateness limit after its planned send time: ``too_late``
  (``max_lateness`` of the definition; default 6 hours, a survey's ``survey.max_age``);
* the recipient's local time is outside quiet hours: ``quiet_hours``;
* the minimum gap since their last message of the cap group on the channel holds,
  ``min_gap``, and so does the frequency cap across campaigns: ``frequency_cap``
  (``survey_cap`` for surveys).

Other messages count as the planner counts them, and priority decides between those not
sent yet: a sent message counts at its ``sent_at``; a planned or in-flight one that ranks
ahead (higher priority, then earlier send time) at its send time or now, whichever is
later, for as long as this campaign's own lateness limit would still let it go out; one
that ranks behind gives way. A catch-up of several campaigns thus sends what a timely run
would have sent first, and the others wait.

A row that fails waits for the recipient's next allowed moment (it stays ``planned`` and
its ``send_at`` moves there, where the flow's next wave picks it up) or, when no such moment
is left before its lateness limit, the end of its period or the campaign's end, is skipped:
``suppressed`` with the reason of the rule that stopped it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from campaigns.cadence import PeriodError, period_from_key
from campaigns.cap_ledger import PREFERENCE_REACH, SLOT_AT, holds_slot
from campaigns.caps import (
    Caps,
    cap_group,
    caps_for,
    preference_caps,
    too_close_any,
    violates_all,
)
from campaigns.definitions import Campaign
from campaigns.localtime import (
    FIRST_ZONE,
    LAST_ZONE,
    after_quiet_hours,
    in_quiet_hours,
    wall,
    zone,
)
from models.base import table
from models.campaigns import Message, MessageStatus, Reason
from models.settings import Settings

M = table(Message)

DEFAULT_MAX_LATENESS = timedelta(hours=6)


def quiet_hours_for(campaign: Campaign, settings: Settings) -> tuple[int, int]:
    """The campaign's own quiet hours, or the store's."""
    return campaign.quiet_hours or (settings.quiet_hours_start, settings.quiet_hours_end)


def campaign_window(
    campaign: Campaign, settings: Settings
) -> tuple[datetime | None, datetime | None]:
    """The campaign's dates as instants: its start date's midnight and the midnight after its
    end date, in the schedule's zone (the store's default zone for triggered campaigns).
    A local-time campaign's dates are each recipient's own: the window runs from the start
    date's first midnight on Earth (UTC+14) to the end date's last (UTC-12); each recipient's
    own end is :func:`ends_for`."""
    local = campaign.cadence is not None and campaign.cadence.local
    tz = zone(campaign.cadence.time_zone if campaign.cadence else None, settings.default_time_zone)
    starts = (
        wall(campaign.start, 0, 0, zone(FIRST_ZONE) if local else tz) if campaign.start else None
    )
    ends = (
        wall(campaign.end + timedelta(days=1), 0, 0, zone(LAST_ZONE) if local else tz)
        if campaign.end
        else None
    )
    return starts, ends


def ends_for(campaign: Campaign, settings: Settings, time_zone: str | None) -> datetime | None:
    """When the campaign ends for one recipient: the midnight after its end date on their own
    clock for a local-time campaign, else the schedule's (:func:`campaign_window`)."""
    if campaign.end is None:
        return None
    if campaign.cadence is not None and campaign.cadence.local:
        tz = zone(time_zone, settings.default_time_zone)
        return wall(campaign.end + timedelta(days=1), 0, 0, tz)
    return campaign_window(campaign, settings)[1]


def lateness_limit(campaign: Campaign) -> timedelta:
    """How long after its planned send time a message may still go out."""
    if campaign.max_lateness is not None:
        return campaign.max_lateness
    if campaign.trigger is not None:  # a survey: as late as it may be surveyed at all
        return campaign.survey_options.max_age
    return DEFAULT_MAX_LATENESS


class Due(Protocol):
    """A row about to be sent (a ledger :class:`~campaigns.ledger.Recipient`, or a planned
    outcome of a dry run with ``id`` None)."""

    @property
    def id(self) -> int | None: ...
    @property
    def customer_id(self) -> int: ...
    @property
    def period(self) -> str: ...
    @property
    def send_at(self) -> datetime | None: ...
    @property
    def time_zone(self) -> str | None: ...
    @property
    def frequency(self) -> str | None: ...


class Planned(NamedTuple):
    """A planned outcome of a dry run, as :class:`Due` (not in the ledger: no id)."""

    id: int | None
    customer_id: int
    period: str
    send_at: datetime | None
    time_zone: str | None
    frequency: str | None


class Held(NamedTuple):
    """A message of the cap group on the channel, near the moment of sending."""

    id: int
    customer_id: int
    campaign: str
    period: str
    status: str
    priority: int
    send_at: datetime | None
    sent_at: datetime | None


@dataclass
class Verdict:
    """The rows that may go now, those that wait (row, new send time, reason), those skipped
    (row, reason)."""

    send: list[Any] = field(default_factory=list)
    deferred: list[tuple[Any, datetime, str]] = field(default_factory=list)
    skipped: list[tuple[Any, str]] = field(default_factory=list)


def ahead(h: Held, rank: tuple[int, datetime, float]) -> bool:
    """Does an unsent message rank ahead: higher priority, then earlier send time?"""
    assert h.send_at is not None
    return (-h.priority, h.send_at, h.id) < rank


class SendRules:
    """The rules of one campaign; one instance per send session (it remembers what it sent,
    so messages still marked ``sending`` in its own batch count too)."""

    def __init__(self, campaign: Campaign, settings: Settings) -> None:
        self.campaign = campaign
        self.caps: Caps = caps_for(campaign, settings)
        self.cap_reason = (
            Reason.survey_cap if cap_group(campaign.kind) == "survey" else Reason.frequency_cap
        )
        self.quiet = quiet_hours_for(campaign, settings)
        self.default_zone = settings.default_time_zone
        self.lateness = lateness_limit(campaign)
        self.settings = settings
        self.reach = max(self.caps.reach, PREFERENCE_REACH)
        self._period_ends: dict[str, datetime | None] = {}
        self._sent: dict[int, dict[int, datetime]] = {}  # customer -> {ledger id: sent at}

    def note_sent(self, customer_id: int, ledger_id: int, at: datetime) -> None:
        self._sent.setdefault(customer_id, {})[ledger_id] = at

    def period_end(self, key: str) -> datetime | None:
        """When the row's period ends (the next occurrence); None for trigger keys."""
        if self.campaign.cadence is None:
            return None
        if key not in self._period_ends:
            try:
                self._period_ends[key] = period_from_key(self.campaign, key).ends_at
            except PeriodError:
                self._period_ends[key] = None
        return self._period_ends[key]

    def held(self, conn: Connection, customer_ids: Sequence[int], at: datetime) -> list[Held]:
        """One indexed query: the customers' messages of the cap group near ``at``."""
        if not customer_ids:
            return []
        query = select(
            M.c.id,
            M.c.customer_id,
            M.c.campaign,
            M.c.period,
            M.c.status,
            M.c.priority,
            M.c.send_at,
            M.c.sent_at,
        ).where(
            M.c.customer_id.in_(sorted(set(customer_ids))),
            holds_slot(self.campaign),
            at - self.reach - self.lateness < SLOT_AT,
            at + self.lateness + self.reach > SLOT_AT,
        )
        return [Held(*r) for r in conn.execute(query)]

    def check(self, conn: Connection, rows: Sequence[Due], at: datetime) -> Verdict:
        """Split ``rows`` (one campaign) at the moment ``at``: send, wait, or skip."""
        by_customer: dict[int, list[Held]] = {}
        for h in self.held(conn, [r.customer_id for r in rows], at):
            by_customer.setdefault(h.customer_id, []).append(h)
        verdict = Verdict()
        for row in rows:
            action, when, reason = self.judge(row, at, by_customer.get(row.customer_id, ()))
            if action == "send":
                verdict.send.append(row)
            elif when is not None:
                verdict.deferred.append((row, when, str(reason)))
            else:
                verdict.skipped.append((row, str(reason)))
        return verdict

    def forecast(self, conn: Connection, outcomes: Sequence[Any], now: datetime) -> Verdict:
        """What :meth:`check` would do at ``now`` to the planned outcomes of a dry run that
        are due by then."""
        due = [
            Planned(None, o.customer_id, o.period, o.send_at, o.time_zone, o.frequency)
            for o in outcomes
            if o.status == MessageStatus.planned and o.send_at is not None and o.send_at <= now
        ]
        return self.check(conn, due, now) if due else Verdict()

    def judge(
        self, row: Due, at: datetime, held: Sequence[Held]
    ) -> tuple[str, datetime | None, str | None]:
        """``("send", None, None)``, ``("defer", when, reason)`` or ``("skip", None, reason)``."""
        planned = row.send_at or at
        ends = ends_for(self.campaign, self.settings, row.time_zone)
        if ends is not None and at >= ends:
            return "skip", None, Reason.campaign_ended
        deadline = planned + self.lateness
        if at > deadline:
            return "skip", None, Reason.too_late
        tz = zone(row.time_zone, self.default_zone)
        caps = [self.caps, preference_caps(self.campaign.kind, row.frequency)]
        existing = self.existing(row, planned, at, held)
        reason = self.blocked(at, tz, existing, caps)
        if reason is None:
            return "send", None, None
        bounds = [deadline + timedelta(microseconds=1), ends, self.period_end(row.period)]
        limit = min(b for b in bounds if b is not None)
        when = self.next_allowed(at, tz, existing, caps, limit)
        return ("defer", when, reason) if when is not None else ("skip", None, reason)

    def existing(
        self, row: Due, planned: datetime, at: datetime, held: Sequence[Held]
    ) -> list[datetime]:
        """The times the caps count for ``row`` at ``at`` (see the module's rules)."""
        mine = self._sent.get(row.customer_id, {})
        rank = (-self.campaign.priority, planned, math.inf if row.id is None else row.id)
        horizon = at - self.lateness
        times = list(mine.values())
        for h in held:
            if h.id in mine or (h.campaign == self.campaign.name and h.period == row.period):
                continue
            if h.status == MessageStatus.sent:
                times.append(h.sent_at or h.send_at or at)
            elif h.send_at is not None and h.send_at >= horizon and ahead(h, rank):
                times.append(max(h.send_at, at))
        return times

    def blocked(
        self, at: datetime, tz: ZoneInfo, existing: list[datetime], caps: list[Caps | None]
    ) -> str | None:
        if in_quiet_hours(at, tz, self.quiet):
            return Reason.quiet_hours
        if too_close_any(existing, at, caps):
            return Reason.min_gap
        if violates_all(existing, at, caps):
            return self.cap_reason
        return None

    def next_allowed(
        self,
        at: datetime,
        tz: ZoneInfo,
        existing: list[datetime],
        caps: list[Caps | None],
        limit: datetime,
    ) -> datetime | None:
        """The first moment after ``at`` and before ``limit`` that no rule blocks, or None.

        Whether a moment is blocked changes only where a gap or a cap window ends after an
        existing message, or where quiet hours end; those are the candidates.
        """
        steps = {at} | {t + d for t in existing for c in caps if c for d in (c.gap, c.window)}
        for step in sorted(s for s in steps if s >= at):
            moment = after_quiet_hours(step, tz, self.quiet)
            if moment >= limit:
                return None
            if not violates_all(existing, moment, caps):
                return moment
        return None


__all__ = [
    "DEFAULT_MAX_LATENESS",
    "SendRules",
    "Verdict",
    "campaign_window",
    "ends_for",
    "lateness_limit",
    "quiet_hours_for",
]
