"""Frequency caps: how many messages of a kind a customer may get, across all campaigns.

Kinds fall into cap groups: ``marketing`` (the cadence campaigns; default at most 2 a
channel per 7 days and 16 hours apart), ``survey`` (one survey per customer per 14 days)
and ``service`` (service recovery, one a week). A cap is a sliding window: no window of
``days`` may hold more than ``count`` messages of the group on the channel, and no two may
be closer than ``min_gap_hours``. A customer's own frequency choice (the preference page)
adds a stricter window for marketing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaigns.definitions import MARKETING_KINDS, SERVICE_KINDS, SURVEY_KINDS, Campaign
from models.settings import Settings
from models.surveys import FREQUENCY_LIMITS

GROUPS: dict[str, tuple[str, ...]] = {
    "marketing": MARKETING_KINDS,
    "survey": SURVEY_KINDS,
    "service": SERVICE_KINDS,
}


@dataclass(frozen=True)
class Caps:
    count: int
    days: float
    min_gap_hours: float = 0.0

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.days)

    @property
    def gap(self) -> timedelta:
        return timedelta(hours=self.min_gap_hours)

    @property
    def reach(self) -> timedelta:
        """How far from a send time other messages can matter."""
        return max(self.window, self.gap)


def cap_group(kind: str) -> str:
    for group, kinds in GROUPS.items():
        if kind in kinds:
            return group
    return "marketing"


def group_kinds(kind: str) -> tuple[str, ...]:
    """Every kind that counts against the same cap as ``kind``."""
    return GROUPS[cap_group(kind)]


def caps_for(campaign: Campaign, settings: Settings) -> Caps:
    """The store's caps for the campaign's group, with the campaign's own overrides."""
    group = cap_group(campaign.kind)
    if group == "marketing":
        base = Caps(
            settings.marketing_cap_count,
            settings.marketing_cap_days,
            settings.marketing_min_gap_hours,
        )
    elif group == "survey":
        base = Caps(1, settings.survey_cap_days, 0)
    else:
        base = Caps(1, 7, 0)
    over = campaign.caps
    return Caps(
        int(over.get("count", base.count)),
        float(over.get("days", base.days)),
        float(over.get("min_gap_hours", base.min_gap_hours)),
    )


def preference_caps(kind: str, frequency: str | None) -> Caps | None:
    """The customer's own limit (weekly, monthly) for marketing; None for the store's caps."""
    if cap_group(kind) != "marketing" or not frequency or frequency not in FREQUENCY_LIMITS:
        return None
    count, days = FREQUENCY_LIMITS[frequency]
    return Caps(count, days, 0)


def too_close(existing: Iterable[datetime], moment: datetime, caps: Caps) -> bool:
    """Would a message at ``moment`` come closer than ``min_gap_hours`` to an existing one?"""
    return bool(caps.gap) and any(abs(t - moment) < caps.gap for t in existing)


def violates(existing: Iterable[datetime], moment: datetime, caps: Caps) -> bool:
    """Would one more message at ``moment`` break ``caps``, given the ``existing`` times?

    The busiest window holding ``moment`` starts at ``moment`` or at an existing message
    before it, so only those starts need counting.
    """
    if caps.count <= 0:
        return True
    near = sorted(t for t in existing if moment - caps.reach < t < moment + caps.reach)
    if too_close(near, moment, caps):
        return True
    window = caps.window
    for start in [t for t in near if moment - window < t <= moment] + [moment]:
        inside = sum(1 for t in near if start <= t < start + window)
        if inside + 1 > caps.count:
            return True
    return False


def violates_all(
    existing: Sequence[datetime], moment: datetime, caps: Sequence[Caps | None]
) -> bool:
    return any(c is not None and violates(existing, moment, c) for c in caps)


def too_close_any(
    existing: Sequence[datetime], moment: datetime, caps: Sequence[Caps | None]
) -> bool:
    return any(c is not None and too_close(existing, moment, c) for c in caps)
