"""A checked campaign definition as the rest of the code reads it, and the words it is made of.

These are plain frozen values. ``campaigns.spec`` is what builds them from a written
definition (and says what is wrong with one); cadences, planning, sending and surveys only
read them, so they depend on this module and never on the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from models.campaigns import SURVEY_KINDS, CampaignKind
from models.store import Channel
from models.topics import Topic

MARKETING_KINDS = (
    CampaignKind.newsletter,
    CampaignKind.winback,
    CampaignKind.replenishment,
    CampaignKind.cross_sell,
    CampaignKind.review_request,
    CampaignKind.promotion,
)
SERVICE_KINDS = (CampaignKind.service_recovery,)
KINDS = MARKETING_KINDS + SURVEY_KINDS + SERVICE_KINDS
# Kinds that sell: not sent to someone with an open support ticket.
PROMOTIONAL_KINDS = frozenset(MARKETING_KINDS) - {CampaignKind.review_request}
CHANNELS = tuple(Channel)
EVERY = ("weekly", "biweekly", "monthly")
TRIGGERS = ("delivered", "ticket_resolved")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Triggered campaigns: how far behind its checkpoint a run looks again for events recorded
# late, and how long after it fell due a trigger may still be surveyed.
DEFAULT_SURVEY_LOOKBACK = timedelta(days=2)
DEFAULT_SURVEY_MAX_AGE = timedelta(days=7)
# The topic of a marketing kind when its definition names none; surveys and service messages
# have no topic, so a topic opt-out never stops them.
DEFAULT_TOPICS: dict[str, Topic] = {
    CampaignKind.newsletter: Topic.news,
    CampaignKind.promotion: Topic.offers,
    CampaignKind.winback: Topic.offers,
    CampaignKind.replenishment: Topic.recommendations,
    CampaignKind.cross_sell: Topic.recommendations,
    CampaignKind.review_request: Topic.reviews,
}


@dataclass(frozen=True)
class Cadence:
    """When a campaign's periods start: ``every`` is weekly, biweekly, monthly, cron or rrule."""

    every: str
    time_zone: str
    hour: int = 0
    minute: int = 0
    day: int | None = None  # weekday 0-6 (Monday 0) or day of month 1-28
    expression: str | None = None  # the cron text, or the full RRULE text with DTSTART
    anchor: date | None = None  # biweekly: the Monday of the first week
    local: bool = False  # day and hour on each recipient's clock (time_zone: FIRST_ZONE)


@dataclass(frozen=True)
class Trigger:
    """An event-triggered campaign (surveys): ``after`` an event, once ``delay`` has passed."""

    after: str
    delay: timedelta
    delay_text: str


@dataclass(frozen=True)
class Variant:
    name: str
    share: float  # 0-1
    template: str | None = None


@dataclass(frozen=True)
class SurveyOptions:
    """A definition's ``survey:`` options, checked: ``lookback`` and ``max_age`` durations and
    the one-click ``choices`` of a feedback survey."""

    lookback: timedelta = DEFAULT_SURVEY_LOOKBACK
    max_age: timedelta = DEFAULT_SURVEY_MAX_AGE
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Campaign:
    name: str
    description: str
    kind: str
    channel: str
    template: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    cadence: Cadence | None
    trigger: Trigger | None
    local_time: bool
    start: date | None
    end: date | None
    holdout: float  # percent
    variants: tuple[Variant, ...]
    priority: int
    caps: dict[str, float] = field(default_factory=dict)
    quiet_hours: tuple[int, int] | None = None
    max_lateness: timedelta | None = None  # None: the default of the campaign's kind
    context: dict[str, Any] = field(default_factory=dict)
    survey: dict[str, Any] = field(default_factory=dict)  # the ``survey:`` mapping as written
    source: str = ""
    line: int = 1
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    survey_options: SurveyOptions = field(default_factory=SurveyOptions)
    # The channel of a customer who cannot be reached on ``channel`` (campaigns.eligibility).
    fallback: str | None = None
    topic: str | None = None  # None: no topic, opt-outs do not apply
    # A customer whose language the template lacks: the whole message in this locale, or
    # skipped (``missing_locale: skip``); None keeps the template's own choice.
    locale_fallback: str | None = None
    missing_locale: str | None = None  # "fallback" or "skip"

    @property
    def cadence_kind(self) -> str:
        """``weekly``, ``biweekly``, ``monthly``, ``cron``, ``rrule`` or ``triggered``."""
        return self.cadence.every if self.cadence else "triggered"

    @property
    def promotional(self) -> bool:
        return self.kind in PROMOTIONAL_KINDS

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels its messages may go on: its own first, then the fallback."""
        return (self.channel, self.fallback) if self.fallback else (self.channel,)

    def on(self, channel: str) -> Campaign:
        """The campaign as sent on ``channel``: caps, locks and send-time rules of that
        channel count its messages there (a fallback message takes a slot of its channel)."""
        return self if channel == self.channel else replace(self, channel=channel, fallback=None)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)

    def active_on(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)
