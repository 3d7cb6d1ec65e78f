"""What a plan decides for each customer, and the plan as counts.

:class:`Outcome` is one customer's decision (``campaigns.planning`` makes it, the ledger
records it, the send-time rules forecast it); :class:`PlanSummary` counts a whole plan for
the CLI, the run's artifact and the demo, with customer ids only as a small sample, never
personal data. ``REASONS`` names every suppression reason a plan reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from campaigns.localtime import zone
from models.campaigns import MessageStatus, Reason

# Every suppression reason a plan reports (a failed row's ``send_failed`` is not one).
REASONS = tuple(r for r in Reason if r is not Reason.send_failed)
SAMPLE_SIZE = 5


@dataclass(slots=True)
class Outcome:
    customer_id: int
    status: MessageStatus  # planned, held_out, suppressed; or the recorded status of a row
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
    channel: str | None = None  # the channel of its row: the campaign's, or its fallback

    @property
    def label(self) -> str:
        """What the plan reports: planned, held_out, or the suppression reason."""
        if self.recorded and self.status in (MessageStatus.sent, MessageStatus.sending):
            return Reason.already_sent_this_period
        if self.status == MessageStatus.suppressed:
            return self.reason or MessageStatus.suppressed
        if self.status == MessageStatus.failed:
            return "failed_this_period"
        return self.status


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
    channels: Counter[str] = field(default_factory=Counter)  # planned messages per channel
    time_zones: Counter[str] = field(default_factory=Counter)
    local_send: dict[str, datetime] = field(default_factory=dict)  # zone -> its first send
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
            if label == MessageStatus.planned:
                self.planned += 1
                self.variants[o.variant or "-"] += 1
                self.channels[o.channel or "-"] += 1
                self.time_zones[o.time_zone or "UTC"] += 1
                if o.send_at is not None:
                    self._note_local(o.time_zone or "UTC", o.send_at)
                    if self.first_send_at is None or o.send_at < self.first_send_at:
                        self.first_send_at = o.send_at
                    if self.last_send_at is None or o.send_at > self.last_send_at:
                        self.last_send_at = o.send_at
                    self.due_now += o.send_at <= self.now
                self.preempts += len(o.preempts)
            elif label == MessageStatus.held_out:
                self.held_out += 1
            elif label in REASONS:
                self.suppressed[label] += 1
            else:
                self.other[label] += 1
            ids = self.sample.setdefault(label, [])
            if len(ids) < SAMPLE_SIZE:
                ids.append(o.customer_id)

    def _note_local(self, time_zone: str, send_at: datetime) -> None:
        """The earliest send of each zone on its own clock: what a marketer checks the day
        and hour against."""
        known = self.local_send.get(time_zone)
        if known is None or send_at < known:
            self.local_send[time_zone] = send_at

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
            "channels": dict(sorted(self.channels.items())),
            "time_zones": dict(self.time_zones.most_common()),
            "local_send_times": {
                z: local_moment(self.local_send[z], z)
                for z, _ in self.time_zones.most_common()
                if z in self.local_send
            },
            "sample": self.sample,
        }


def local_moment(moment: datetime, time_zone: str | None) -> str:
    """``moment`` on the clock of ``time_zone``: "Tue 2026-11-24 10:00 +0900"."""
    return moment.astimezone(zone(time_zone)).strftime("%a %Y-%m-%d %H:%M %z")


__all__ = ["REASONS", "SAMPLE_SIZE", "Outcome", "PlanSummary", "local_moment"]
