"""Audience planning: who gets a campaign's message in a period, when, and who does not and why.

The audience is the members of the included segments minus the excluded ones, streamed from
the database in customer order with everything a decision needs joined in SQL (consent,
address, device, open ticket, preference, an existing ledger row). Each customer gets one
outcome, checked in this order:

1. already in the ledger for this period: the recorded outcome (``already_sent_this_period``
   once sent);
2. consent for the channel: ``no_consent``, ``unsubscribed``, ``bounced``, ``complained``;
3. an address or an enabled push device: ``no_address``, ``no_device``. A campaign with a
   ``fallback`` channel plans the message there instead when the customer may be sent to
   on it (``campaigns.eligibility.channel_for``); the row's channel is the one chosen and
   its reason says so (``fallback_push``). Every later step, the caps included, is
   then about that channel;
4. ``topic_opt_out``: the customer opted out of the campaign's topic (on every channel);
5. promotional kinds only: an open support ticket, ``open_ticket``;
6. ``campaign_ended``: the send time falls after the campaign's end date;
7. the frequency cap across every campaign of the channel and cap group, at the customer's
   own send time: ``frequency_cap``; or ``lower_priority`` when only planned messages of
   higher-priority campaigns are in the way. Planned, unsent messages of lower-priority
   campaigns give way: their rows become ``suppressed``/``lower_priority`` when this plan is
   recorded;
8. ``held_out``: the stable hash of (campaign, customer) falls in the hold-out share. It
   comes last, so the control group is exactly as eligible as the customers sent to; it
   keeps the send time it would have had, where its attribution window starts;
9. ``planned``, with a variant (another stable hash) and a send time in UTC.

The rules of steps 2 and 3 (which surveys and sending apply too) and the hashes of steps 8
and 9 (shared with surveys) are ``campaigns.eligibility``; step 7 is ``campaigns.cap_ledger``;
the outcomes and their counts are ``campaigns.outcomes``. This module selects the
candidates and applies the steps in order.

The plan is what a timely run sends. The same caps, quiet hours and gap are checked again
at the moment of sending (``campaigns.send_rules``); :func:`summarize` reports what those
checks would do to the rows due at ``now`` (sent, deferred or skipped, by reason).

``plan(..., record=True)`` evaluates and writes each chunk in one transaction that holds the
cap lock of each of its channels, so two campaigns planned at once cannot both take the last
slot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    exists,
    false,
    literal,
    or_,
    select,
    union,
)

from campaigns.cadence import Period
from campaigns.cap_ledger import History, cap_history, cap_lock, cap_verdict
from campaigns.caps import Caps, caps_for, preference_caps
from campaigns.definitions import Campaign
from campaigns.eligibility import (
    FALLBACK_LABEL,
    channel_for,
    has_address_sql,
    has_device_sql,
    is_held_out,
    pick_variant,
)
from campaigns.ledger import record_outcomes
from campaigns.localtime import send_time, zone
from campaigns.outcomes import REASONS, Outcome, PlanSummary
from campaigns.send_rules import SendRules, ends_for, quiet_hours_for
from models.base import table
from models.campaigns import Message, MessageStatus, Reason
from models.settings import Settings, get_settings
from models.store import Channel, Consent, Customer, SupportTicket
from models.surveys import ContactPreference
from models.topics import TopicOptOut
from segments.membership import members_select

M = table(Message)
C = table(Customer)
CONSENT = table(Consent)
TICKET = table(SupportTicket)
PREFERENCE = table(ContactPreference)
OPT_OUT = table(TopicOptOut)


class Candidate(NamedTuple):
    """One audience customer as :meth:`Evaluator.candidates` selects it (same order)."""

    id: int
    has_address: bool
    locale: str | None
    time_zone: str | None
    consent: str | None
    fallback_consent: str | None
    has_device: bool
    topic_opt_out: bool
    open_ticket: bool
    frequency: str | None
    existing_status: str | None
    existing_reason: str | None
    existing_variant: str | None
    existing_send_at: datetime | None
    existing_channel: str | None


def audience_select(campaign: Campaign, *, as_of: date) -> Select:
    """``customer_id`` of the members of the included segments, minus the excluded ones."""
    include = union(*[members_select(s, as_of=as_of) for s in campaign.include])
    query = select(C.c.id.label("customer_id")).where(C.c.id.in_(include))
    if campaign.exclude:
        exclude = union(*[members_select(s, as_of=as_of) for s in campaign.exclude])
        query = query.where(C.c.id.not_in(exclude))
    return query


class Evaluator:
    """Decides outcomes for rows of :func:`candidates`; reusable for triggered campaigns."""

    def __init__(
        self, campaign: Campaign, *, period_key: str, now: datetime, settings: Settings
    ) -> None:
        self.campaign = campaign
        self.period_key = period_key
        self.now = now
        self.caps: Caps = caps_for(campaign, settings)
        # Each channel's view of the campaign: its caps and history count what is sent there.
        self.views = {ch: campaign.on(ch) for ch in campaign.channels}
        self.channel_caps = {ch: caps_for(v, settings) for ch, v in self.views.items()}
        self.quiet = quiet_hours_for(campaign, settings)
        self.settings = settings
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
                day=period.local_start.date(),
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
        other = CONSENT.alias("fallback_consent")
        existing = M.alias("existing")
        has_address = has_address_sql(C.c.email)
        device = has_device_sql(Channel.push if Channel.push in c.channels else c.channel, C.c.id)
        opted_out = (
            exists().where(OPT_OUT.c.customer_id == C.c.id, OPT_OUT.c.topic == c.topic)
            if c.topic
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
                (other.c.status if c.fallback else literal(None)).label("fallback_consent"),
                device.label("has_device"),
                opted_out.label("topic_opt_out"),
                ticket.label("open_ticket"),
                PREFERENCE.c.frequency,
                existing.c.status.label("existing_status"),
                existing.c.reason.label("existing_reason"),
                existing.c.variant.label("existing_variant"),
                existing.c.send_at.label("existing_send_at"),
                existing.c.channel.label("existing_channel"),
            )
            .select_from(
                C.join(ids, ids.c.customer_id == C.c.id)
                .outerjoin(
                    consent, and_(consent.c.customer_id == C.c.id, consent.c.channel == c.channel)
                )
                .outerjoin(
                    other,
                    and_(other.c.customer_id == C.c.id, other.c.channel == (c.fallback or "")),
                )
                .outerjoin(PREFERENCE, PREFERENCE.c.customer_id == C.c.id)
                .outerjoin(
                    existing,
                    and_(
                        existing.c.campaign == c.name,
                        existing.c.period == self.period_key,
                        existing.c.channel.in_(c.channels),
                        existing.c.customer_id == C.c.id,
                    ),
                )
            )
            .order_by(C.c.id)
        )

    def history(
        self, conn: Connection, lo: int, hi: int, start: datetime, end: datetime
    ) -> dict[str, dict[int, list[History]]]:
        """Per channel of the campaign: messages of the cap group on that channel near the
        period, per customer in [lo, hi]."""
        return {
            channel: cap_history(
                conn,
                view,
                period_key=self.period_key,
                caps=self.channel_caps[channel],
                customers=(lo, hi),
                start=start,
                end=end,
            )
            for channel, view in self.views.items()
        }

    def decide(
        self, row: Candidate, send_at: datetime, histories: dict[str, dict[int, list[History]]]
    ) -> Outcome:
        c = self.campaign
        if row.existing_status is not None:
            return Outcome(
                row.id,
                MessageStatus(row.existing_status),
                row.existing_reason,
                variant=row.existing_variant,
                locale=row.locale,
                time_zone=row.time_zone,
                send_at=row.existing_send_at,
                recorded=True,
                channel=row.existing_channel,
                frequency=row.frequency,
                period=self.period_key,
            )
        channel, reason = channel_for(
            c,
            (row.consent, row.fallback_consent),
            has_address=row.has_address,
            has_device=row.has_device,
        )
        if reason is None and row.topic_opt_out:
            reason = Reason.topic_opt_out
        if reason is None and row.open_ticket:
            reason = Reason.open_ticket
        ends = ends_for(c, self.settings, row.time_zone)
        if reason is None and ends is not None and send_at >= ends:
            reason = Reason.campaign_ended
        preempts: tuple[int, ...] = ()
        history = histories[channel].get(row.id, ())
        if reason is None and history:
            caps = [self.channel_caps[channel], preference_caps(c.kind, row.frequency)]
            reason, preempts = cap_verdict(self.views[channel], caps, send_at, history)
        if reason is not None:
            return Outcome(
                row.id,
                MessageStatus.suppressed,
                reason,
                locale=row.locale,
                time_zone=row.time_zone,
                channel=channel,
            )
        # A message on the fallback channel says so; the hold-out is per customer, whichever
        # channel would have carried it.
        label = FALLBACK_LABEL.get(channel) if channel != c.channel else None
        if is_held_out(c, row.id):
            # The hold-out keeps the send time it would have had: its attribution window
            # starts there, as the recipients' starts at their send.
            return Outcome(
                row.id,
                MessageStatus.held_out,
                label,
                locale=row.locale,
                time_zone=row.time_zone,
                send_at=send_at,
                channel=channel,
            )
        variant, template = pick_variant(c, row.id)
        return Outcome(
            row.id,
            MessageStatus.planned,
            label,
            variant=variant,
            template=template,
            locale=row.locale,
            time_zone=row.time_zone,
            send_at=send_at,
            preempts=preempts,
            frequency=row.frequency,
            period=self.period_key,
            channel=channel,
        )

    def evaluate(self, conn: Connection, rows: Sequence[Any], period: Period) -> list[Outcome]:
        """Outcomes for rows of :meth:`candidates` (in customer order), in the caller's
        transaction (the history of the cap is read in it)."""
        if not rows:
            return []
        # Plain tuples: a SQLAlchemy Row's attribute access costs microseconds each.
        found = [Candidate._make(r) for r in rows]
        history = self.history(conn, found[0].id, found[-1].id, period.starts_at, period.ends_at)
        return [self.decide(r, self.send_at_for(period, r.time_zone), history) for r in found]


def plan(
    engine: Engine,
    *,
    campaign: Campaign,
    period: Period,
    now: datetime,
    settings: Settings,
    record: bool = False,
    chunk_size: int = 2000,
    audience: Select | None = None,
) -> Iterator[list[Outcome]]:
    """Outcomes for the period's audience, chunk by chunk; with ``record`` each chunk is
    written to the ledger (and preemptions applied) in the transaction that decided it.

    Memory stays flat: the audience is streamed and only one chunk is held at a time.
    """
    evaluator = Evaluator(campaign, period_key=period.key, now=now, settings=settings)
    query = evaluator.candidates(
        audience if audience is not None else audience_select(campaign, as_of=now.date())
    )
    with engine.connect() as reader:
        result = reader.execution_options(stream_results=True, yield_per=chunk_size).execute(query)
        for rows in result.partitions():
            if record:
                with engine.begin() as conn:
                    for channel in sorted(campaign.channels):  # one order: no deadlock
                        cap_lock(conn, campaign.on(channel))
                    outcomes = evaluator.evaluate(conn, rows, period)
                    record_outcomes(conn, campaign=campaign, period=period.key, outcomes=outcomes)
            else:
                with engine.connect() as conn:
                    outcomes = evaluator.evaluate(conn, rows, period)
            yield outcomes


def summarize(
    engine: Engine,
    *,
    campaign: Campaign,
    period: Period,
    now: datetime,
    record: bool = False,
    settings: Settings | None = None,
) -> PlanSummary:
    """The whole plan as counts (a dry run unless ``record``), with what the send-time rules
    would do to the rows due at ``now``. ``settings`` None reads the process's."""
    settings = settings if settings is not None else get_settings()
    summary = PlanSummary(campaign.name, period.key, period.starts_at, now)
    rules = SendRules(campaign, settings)
    chunks = plan(
        engine, campaign=campaign, period=period, now=now, settings=settings, record=record
    )
    for chunk in chunks:
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
    "plan",
    "summarize",
]
