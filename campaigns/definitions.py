"""Campaign definitions: one YAML file per campaign, checked whole before anything runs.

    name: weekly_newsletter
    description: What is new this week, for customers who bought recently.
    kind: newsletter            # newsletter winback replenishment cross_sell review_request
                                # promotion; csat_survey nps_survey feedback_survey
                                # service_recovery (triggered surveys)
    channel: email              # email or push
    fallback: push              # optional: the other channel, for customers who cannot be
                                # reached on `channel` (no consent, unsubscribed, bounced, no
                                # address or device); the template needs that version too
    topic: news                 # news offers recommendations reviews; default by kind
                                # (surveys and service_recovery have none)
    template: newsletter        # default: the kind
    locale_fallback: en         # optional: the whole message in this locale for a customer
                                # whose language the template lacks (default: the template's)
    missing_locale: fallback    # or skip: such customers get nothing (reason missing_locale)
    segments:
      include: ["lifecycle:active_repeat", "rfm:champions"]
      exclude: [unhappy_recently]
    cadence:                    # or {cron: "0 9 * * 1-5"} or {rrule: "FREQ=MONTHLY;BYDAY=1SA"}
      every: weekly             # weekly, biweekly or monthly
      day: monday               # a weekday; 1-28 for monthly
      hour: 10
      time_zone: Europe/Berlin  # the schedule's zone when local_time is false (default
                                # HOMECOMING_DEFAULT_TIME_ZONE)
    local_time: true            # default: `day` and `hour` on each recipient's own clock
                                # (Monday 10:00 in Tokyo, Berlin and New York alike; the run
                                # starts then in UTC+14, where each day begins first);
                                # false: everyone at once, at `hour` in time_zone
    start: 2026-01-05
    end: 2026-12-31
    holdout: 10                 # percent kept back as a control group
    variants: [{name: a, weight: 50}, {name: b, weight: 50}]
    priority: 50                # higher wins when campaigns compete for the frequency cap
    caps: {count: 2, days: 7, min_gap_hours: 16}
    quiet_hours: {start: 21, end: 8}
    max_lateness: 6             # hours (or 90m, 2d) a message may still go out after its send
                                # time; later it is skipped as too_late (default 6; surveys:
                                # their survey.max_age)
    context: {discount: {code: AUTUMN10, percent: 10, expires: 2026-11-30}}

A triggered campaign (surveys) has ``trigger: {after: delivered, delay: 3d}`` instead of a
cadence, and may give ``survey: {lookback: 2d, max_age: 7d, choices: [great, late]}``
(checked here like every other key; ``Campaign.survey_options`` holds the values). Every
mistake is a :class:`DefinitionError` naming the file and line and what would be valid, and
every mistake of a file is reported, not only the first.

This module is the public face of campaign definitions; the work is done in:

- ``campaigns.campaign``: :class:`Campaign` and its parts, as the code reads them;
- ``campaigns.spec`` (with ``spec_base`` and ``spec_schedule``): the pydantic models of the
  written file, each check with its message;
- ``campaigns.recurrence``: cron and RRULE texts checked by Prefect's scheduler code;
- ``campaigns.catalog``: reading files and folders, overrides, references to segments and
  templates.
"""

from campaigns.campaign import (
    CHANNELS,
    EVERY,
    KINDS,
    MARKETING_KINDS,
    PROMOTIONAL_KINDS,
    SERVICE_KINDS,
    SURVEY_KINDS,
    TRIGGERS,
    WEEKDAYS,
    Cadence,
    Campaign,
    SurveyOptions,
    Trigger,
    Variant,
)
from campaigns.catalog import (
    BUILT_IN,
    check_references,
    files,
    find,
    folders,
    load_all,
    load_checked,
    load_file,
    parse_campaign,
    segment_checker,
)
from campaigns.spec import KEYS, MAX_LATENESS, NAME, CampaignSpec
from campaigns.spec_base import DELAY, DELAY_UNITS
from campaigns.spec_schedule import BIWEEKLY_ANCHOR
from campaigns.spec_sections import VARIANT
from segments.rules import DefinitionError

__all__ = [
    "BIWEEKLY_ANCHOR",
    "BUILT_IN",
    "CHANNELS",
    "DELAY",
    "DELAY_UNITS",
    "EVERY",
    "KEYS",
    "KINDS",
    "MARKETING_KINDS",
    "MAX_LATENESS",
    "NAME",
    "PROMOTIONAL_KINDS",
    "SERVICE_KINDS",
    "SURVEY_KINDS",
    "TRIGGERS",
    "VARIANT",
    "WEEKDAYS",
    "Cadence",
    "Campaign",
    "CampaignSpec",
    "DefinitionError",
    "SurveyOptions",
    "Trigger",
    "Variant",
    "check_references",
    "files",
    "find",
    "folders",
    "load_all",
    "load_checked",
    "load_file",
    "parse_campaign",
    "segment_checker",
]
