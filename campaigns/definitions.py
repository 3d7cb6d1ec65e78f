"""Campaign definitions: one YAML file per campaign, checked whole before anything runs.

    name: weekly_newsletter
    description: What is new this week, for customers who bought recently.
    kind: newsletter            # newsletter winback replenishment cross_sell review_request
                                # promotion; csat_survey nps_survey feedback_survey
                                # service_recovery (triggered surveys)
    channel: email              # email or push
    template: newsletter        # default: the kind
    segments:
      include: ["lifecycle:active_repeat", "rfm:champions"]
      exclude: [unhappy_recently]
    cadence:                    # or {cron: "0 9 * * 1-5"} or {rrule: "FREQ=MONTHLY;BYDAY=1SA"}
      every: weekly             # weekly, biweekly or monthly
      day: monday               # a weekday; 1-28 for monthly
      hour: 10
      time_zone: Europe/Berlin  # the schedule's zone (default HOMECOMING_DEFAULT_TIME_ZONE)
    local_time: true            # each recipient at `hour` in their own zone; false: all at once
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
cadence; its ``survey:`` mapping is kept as written for the surveys code. Every mistake is a
:class:`DefinitionError` naming the file and line and what would be valid.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import MappingNode

from models.campaigns import SURVEY_KINDS
from models.settings import get_settings
from models.yaml_loader import (
    Located,
    YamlError,
    compose,
    intended_name,
    read_text,
    replaced_by_broken,
)
from segments.rules import DefinitionError

BUILT_IN = Path(__file__).parent / "definitions"

MARKETING_KINDS = (
    "newsletter",
    "winback",
    "replenishment",
    "cross_sell",
    "review_request",
    "promotion",
)
SERVICE_KINDS = ("service_recovery",)
KINDS = MARKETING_KINDS + SURVEY_KINDS + SERVICE_KINDS
# Kinds that sell: not sent to someone with an open support ticket.
PROMOTIONAL_KINDS = frozenset({"newsletter", "winback", "replenishment", "cross_sell", "promotion"})
CHANNELS = ("email", "push")
EVERY = ("weekly", "biweekly", "monthly")
TRIGGERS = ("delivered", "ticket_resolved")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Biweekly cadences without a start date count their weeks from this Monday.
BIWEEKLY_ANCHOR = date(2024, 1, 1)
NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
VARIANT = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")
DELAY = re.compile(r"^(\d{1,4})\s*(m|min|h|d|w)$")
DELAY_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
KEYS = (
    "name",
    "description",
    "kind",
    "channel",
    "template",
    "segments",
    "cadence",
    "trigger",
    "local_time",
    "start",
    "end",
    "holdout",
    "variants",
    "priority",
    "caps",
    "quiet_hours",
    "max_lateness",
    "context",
    "survey",
)
# The longest lateness limit a definition may give: a message a month late is no message.
MAX_LATENESS = timedelta(days=31)


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
    survey: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    line: int = 1
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def cadence_kind(self) -> str:
        """``weekly``, ``biweekly``, ``monthly``, ``cron``, ``rrule`` or ``triggered``."""
        return self.cadence.every if self.cadence else "triggered"

    @property
    def promotional(self) -> bool:
        return self.kind in PROMOTIONAL_KINDS

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)

    def active_on(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


# --- YAML with line numbers ------------------------------------------------------------


class _Located(Located):
    """Mistakes of a campaign document are definition errors."""

    error_type = DefinitionError


def _suggest(word: str, options: Iterable[str]) -> str:
    options = sorted(options)
    close = difflib.get_close_matches(word, options, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(options) if len(options) <= 40 else ", ".join(options[:40]) + ", ..."
    return f"{hint}; valid: {listed}"


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _int(doc: _Located, value: Any, path: tuple[Any, ...], low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        doc.error(path, f"{what} must be a whole number from {low} to {high}, not {value!r}")
        return low
    return value


# --- parsing -----------------------------------------------------------------------------


def parse_campaign(text: str, source: str) -> tuple[Campaign | None, list[DefinitionError]]:
    """One campaign from YAML text, and every mistake found in it."""
    doc = _Located(source)
    try:
        root = compose(text, source)  # refuses huge, deep and alias-bomb files first
    except YamlError as exc:
        return None, [DefinitionError.of(exc)]
    if not isinstance(root, MappingNode):
        line = root.start_mark.line + 1 if root else None
        return None, [DefinitionError(source, line, "expected a mapping: name, kind, channel...")]
    data = doc.plain(root)
    for key in data:
        if key not in KEYS:
            doc.error((key,), f"unknown key {key!r}{_suggest(str(key), KEYS)}")
    campaign = _campaign(doc, data)
    return (campaign if not doc.errors else None), doc.errors


def _campaign(doc: _Located, data: dict[str, Any]) -> Campaign:
    settings = get_settings()
    name = data.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        doc.error(
            ("name",),
            f"name {name!r} must be 1-64 lowercase letters, digits, _ or -, starting with a "
            "letter or digit (it names the Prefect deployment and the ledger rows)",
        )
        name = str(name)
    description = data.get("description", "")
    if not isinstance(description, str):
        doc.error(("description",), "description must be text")
        description = ""

    kind = data.get("kind")
    if kind not in KINDS:
        doc.error(("kind",), f"kind {kind!r} is not known{_suggest(str(kind), KINDS)}")
        kind = "newsletter"
    channel = data.get("channel", "email")
    if channel not in CHANNELS:
        doc.error(("channel",), f"channel {channel!r} is not known; valid: email, push")
        channel = "email"
    template = data.get("template", kind)
    if not isinstance(template, str) or not template:
        doc.error(("template",), "template must be a template name, e.g. newsletter")
        template = str(kind)

    include, exclude = _segments(doc, data.get("segments"), triggered="trigger" in data)
    cadence = trigger = None
    start = _date(doc, data.get("start"), ("start",))
    end = _date(doc, data.get("end"), ("end",))
    if start and end and end < start:
        doc.error(("end",), f"end {end} is before start {start}")
    if "cadence" in data and "trigger" in data:
        doc.error(("trigger",), "give either a cadence or a trigger, not both")
    elif "trigger" in data:
        trigger = _trigger(doc, data["trigger"])
    elif "cadence" in data:
        cadence = _cadence(doc, data["cadence"], start, settings.default_time_zone)
    else:
        doc.error(
            (), "missing 'cadence' (every: weekly/biweekly/monthly, cron or rrule) or 'trigger'"
        )

    local_time = data.get("local_time", True)
    if not isinstance(local_time, bool):
        doc.error(("local_time",), "local_time must be true or false")
        local_time = True
    holdout = data.get("holdout", 0)
    if isinstance(holdout, str) and holdout.strip().endswith("%"):
        with contextlib.suppress(ValueError):
            holdout = float(holdout.strip()[:-1])
    if isinstance(holdout, bool) or not isinstance(holdout, int | float) or not 0 <= holdout < 100:
        doc.error(("holdout",), f"holdout is a percentage from 0 to 99.99, not {holdout!r}")
        holdout = 0
    priority = _int(doc, data.get("priority", 50), ("priority",), 0, 1000, "priority")
    variants = _variants(doc, data.get("variants"))
    caps = _caps(doc, data.get("caps"))
    quiet = _quiet(doc, data.get("quiet_hours"))
    lateness = _lateness(doc, data.get("max_lateness"))
    context = data.get("context", {})
    if not isinstance(context, dict):
        doc.error(("context",), "context must be a mapping of template values, e.g. discount")
        context = {}
    survey = data.get("survey", {})
    if not isinstance(survey, dict):
        doc.error(("survey",), "survey must be a mapping")
        survey = {}
    return Campaign(
        name=name,
        description=description.strip(),
        kind=kind,
        channel=channel,
        template=template,
        include=include,
        exclude=exclude,
        cadence=cadence,
        trigger=trigger,
        local_time=local_time,
        start=start,
        end=end,
        holdout=float(holdout),
        variants=variants,
        priority=priority,
        caps=caps,
        quiet_hours=quiet,
        max_lateness=lateness,
        context=context,
        survey=survey,
        source=doc.source,
        line=doc.lines.get((), 1),
        lines={str(k[0]): v for k, v in doc.lines.items() if len(k) == 1},
    )


def _names(doc: _Located, value: Any, path: tuple[Any, ...]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items):
        doc.error(path, "expected a segment name or a list of them, e.g. [rfm:champions]")
        return ()
    return tuple(items)


def _segments(doc: _Located, value: Any, *, triggered: bool) -> tuple[tuple[str, ...], ...]:
    if value is None:
        if not triggered:
            doc.error((), "missing 'segments' (include: [...], exclude: [...])")
        return (), ()
    if isinstance(value, list | str):
        return _names(doc, value, ("segments",)), ()
    if not isinstance(value, dict):
        doc.error(("segments",), "segments is a mapping with include and exclude lists")
        return (), ()
    for key in value:
        if key not in ("include", "exclude"):
            doc.error(("segments", key), f"unknown key {key!r}; valid: include, exclude")
    include = _names(doc, value.get("include", []), ("segments", "include"))
    exclude = _names(doc, value.get("exclude", []), ("segments", "exclude"))
    if not include and not triggered:
        doc.error(("segments",), "include at least one segment")
    return include, exclude


def _date(doc: _Located, value: Any, path: tuple[Any, ...]) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    doc.error(path, f"expected a date YYYY-MM-DD, not {value!r}")
    return None


def _trigger(doc: _Located, value: Any) -> Trigger | None:
    if not isinstance(value, dict):
        doc.error(("trigger",), "trigger is a mapping: {after: delivered, delay: 3d}")
        return None
    for key in value:
        if key not in ("after", "delay"):
            doc.error(("trigger", key), f"unknown key {key!r}; valid: after, delay")
    after = value.get("after")
    if after not in TRIGGERS:
        doc.error(
            ("trigger", "after"), f"after {after!r} is not known; valid: {', '.join(TRIGGERS)}"
        )
        return None
    text = str(value.get("delay", "0h")).strip().lower()
    if text in ("0", "none", "immediately"):
        text = "0h"
    match = DELAY.match(text)
    if not match:
        doc.error(
            ("trigger", "delay"),
            f"delay {value.get('delay')!r} is not a duration; e.g. 30m, 1h, 3d or 2w",
        )
        return None
    seconds = int(match.group(1)) * DELAY_UNITS[match.group(2)]
    return Trigger(after=after, delay=timedelta(seconds=seconds), delay_text=text)


def _cadence(doc: _Located, value: Any, start: date | None, default_zone: str) -> Cadence | None:
    path = ("cadence",)
    if not isinstance(value, dict):
        doc.error(path, "cadence is a mapping: {every: weekly, day: monday, hour: 10}")
        return None
    zone_name = value.get("time_zone", default_zone)
    if _zone(zone_name) is None:
        doc.error((*path, "time_zone"), f"unknown time zone {zone_name!r}; use an IANA name")
        zone_name = "UTC"
    forms = [k for k in ("every", "cron", "rrule") if k in value]
    if len(forms) != 1:
        doc.error(path, "give exactly one of every (weekly, biweekly, monthly), cron or rrule")
        return None
    allowed = {
        "every": ("every", "day", "hour", "minute", "time_zone"),
        "cron": ("cron", "time_zone"),
        "rrule": ("rrule", "hour", "minute", "time_zone"),
    }[forms[0]]
    for key in value:
        if key not in allowed:
            doc.error((*path, key), f"unknown key {key!r} here; valid: {', '.join(allowed)}")
    if forms[0] == "cron":
        return _cron(doc, value["cron"], zone_name)
    if forms[0] == "rrule":
        return _rrule(doc, value, start, zone_name)

    every = value["every"]
    if every not in EVERY:
        doc.error(
            (*path, "every"), f"every {every!r} is not known; valid: weekly, biweekly, monthly"
        )
        return None
    if "hour" not in value:
        doc.error(path, "missing hour (0-23, the local hour of sending)")
    hour = _int(doc, value.get("hour", 0), (*path, "hour"), 0, 23, "hour")
    minute = _int(doc, value.get("minute", 0), (*path, "minute"), 0, 59, "minute")
    day = value.get("day")
    if every == "monthly":
        if isinstance(day, int) and not isinstance(day, bool) and 29 <= day <= 31:
            doc.error(
                (*path, "day"),
                f"day {day} does not exist in every month; use 1-28, or an rrule such as "
                "FREQ=MONTHLY;BYMONTHDAY=-1 for the last day",
            )
            day = 28
        else:
            day = _int(doc, 1 if day is None else day, (*path, "day"), 1, 28, "day of the month")
    else:
        if day is None:
            day = "monday"
        word = str(day).lower()
        matches = [i for i, w in enumerate(WEEKDAYS) if w == word or w[:3] == word]
        if not matches:
            doc.error((*path, "day"), f"day {day!r} is not a weekday; valid: {', '.join(WEEKDAYS)}")
            matches = [0]
        day = matches[0]
    anchor = None
    if every == "biweekly":
        first = start or BIWEEKLY_ANCHOR
        anchor = first - timedelta(days=first.weekday())
    return Cadence(
        every=every, time_zone=zone_name, hour=hour, minute=minute, day=day, anchor=anchor
    )


def _cron(doc: _Located, text: Any, zone_name: str) -> Cadence | None:
    """Checked with the cron parser of Prefect's scheduler, which will run it."""
    from prefect.server.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    path = ("cadence", "cron")
    if not isinstance(text, str) or len(text.split()) != 5:
        doc.error(path, f"cron {text!r} needs five fields: minute hour day month weekday")
        return None
    try:
        plan = CronSchedule(cron=text, timezone=zone_name)
        next(plan._get_dates_generator(n=1, start=datetime(2024, 1, 1, tzinfo=UTC)))
    except ValidationError:
        doc.error(path, f"cron {text!r} is not valid: e.g. '0 10 * * 1' (Mondays at 10:00)")
        return None
    except (StopIteration, ValueError):
        doc.error(path, f"cron {text!r} never fires: no day matches all its fields")
        return None
    return Cadence(every="cron", time_zone=zone_name, expression=text)


def _rrule(
    doc: _Located, value: dict[str, Any], start: date | None, zone_name: str
) -> Cadence | None:
    from dateutil.rrule import rrule

    path = ("cadence", "rrule")
    text = value["rrule"]
    if not isinstance(text, str) or not text.strip():
        doc.error(path, "rrule must be text, e.g. FREQ=MONTHLY;BYDAY=1SA;BYHOUR=9")
        return None
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    lines = [ln if ":" in ln else f"RRULE:{ln}" for ln in lines]
    if not any(ln.upper().startswith("DTSTART") for ln in lines):
        if "hour" not in value and "BYHOUR" not in text.upper():
            doc.error(path, "an rrule needs BYHOUR, a DTSTART line, or an hour key")
        hour = _int(doc, value.get("hour", 0), ("cadence", "hour"), 0, 23, "hour")
        minute = _int(doc, value.get("minute", 0), ("cadence", "minute"), 0, 59, "minute")
        first = datetime.combine(start or BIWEEKLY_ANCHOR, time(hour, minute))
        lines.insert(0, f"DTSTART:{first:%Y%m%dT%H%M%S}")
    full = "\n".join(lines)
    if "TZID" in full.upper() or full.upper().rstrip().endswith("Z"):
        doc.error(path, "give the zone as cadence.time_zone, not inside the rrule")
        return None
    from campaigns.cadence import rrule_of

    try:
        rule = rrule_of(full, zone_name)
    except (ValueError, TypeError, StopIteration) as exc:
        doc.error(path, f"rrule is not valid: {exc}")
        return None
    start_at = datetime(1970, 1, 1, tzinfo=ZoneInfo(zone_name))
    if not isinstance(rule, rrule) or rule.after(start_at, inc=True) is None:
        doc.error(path, "rrule never fires (or is a set of rules); give one rule that occurs")
        return None
    return Cadence(every="rrule", time_zone=zone_name, expression=full)


def _variants(doc: _Located, value: Any) -> tuple[Variant, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        doc.error(("variants",), "variants is a list like [{name: a, weight: 50}, ...]")
        return ()
    out: list[Variant] = []
    weights: list[float] = []
    for i, item in enumerate(value):
        path = ("variants", i)
        if not isinstance(item, dict):
            doc.error(path, "each variant is a mapping with name and weight")
            continue
        for key in item:
            if key not in ("name", "weight", "template"):
                doc.error((*path, key), f"unknown key {key!r}; valid: name, weight, template")
        name = item.get("name")
        if not isinstance(name, str) or not VARIANT.match(name):
            doc.error((*path, "name"), f"variant name {name!r} must be short lowercase text")
            continue
        if name in {v.name for v in out}:
            doc.error((*path, "name"), f"variant {name!r} is given twice")
        weight = item.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            doc.error((*path, "weight"), f"weight must be a positive number, not {weight!r}")
            continue
        template = item.get("template")
        if template is not None and not isinstance(template, str):
            doc.error((*path, "template"), "template must be a template name")
            template = None
        weights.append(float(weight))
        out.append(Variant(name=name, share=float(weight), template=template))
    total = sum(weights)
    if out and len(out) == len(weights):
        if abs(total - 100) < 1e-6:
            scale = 100.0
        elif abs(total - 1) < 1e-6:
            scale = 1.0
        else:
            doc.error(
                ("variants",),
                f"variant weights add up to {total:g}; they must add up to 100 (or 1)",
            )
            return ()
        return tuple(Variant(v.name, v.share / scale, v.template) for v in out)
    return ()


def _caps(doc: _Located, value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        doc.error(("caps",), "caps is a mapping: {count: 2, days: 7, min_gap_hours: 16}")
        return {}
    out: dict[str, float] = {}
    limits = {"count": (0, 100), "days": (1, 365), "min_gap_hours": (0, 24 * 60)}
    for key, number in value.items():
        if key not in limits:
            doc.error(("caps", key), f"unknown key {key!r}; valid: count, days, min_gap_hours")
            continue
        out[key] = _int(doc, number, ("caps", key), *limits[key], f"caps.{key}")
    return out


def _quiet(doc: _Located, value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"start", "end"}:
        doc.error(("quiet_hours",), "quiet_hours is {start: 21, end: 8} (local hours)")
        return None
    return (
        _int(doc, value["start"], ("quiet_hours", "start"), 0, 23, "quiet_hours.start"),
        _int(doc, value["end"], ("quiet_hours", "end"), 0, 23, "quiet_hours.end"),
    )


def _lateness(doc: _Located, value: Any) -> timedelta | None:
    """Hours as a number, or a duration such as 90m, 12h or 2d; more than zero, at most 31d."""
    if value is None:
        return None
    found: timedelta | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        found = timedelta(hours=value)
    elif isinstance(value, str) and (match := DELAY.match(value.strip().lower())):
        found = timedelta(seconds=int(match.group(1)) * DELAY_UNITS[match.group(2)])
    if found is None or not timedelta(0) < found <= MAX_LATENESS:
        doc.error(
            ("max_lateness",),
            "max_lateness is how late a message may still go out: hours (e.g. 6) or a "
            f"duration (90m, 12h, 2d), more than 0 and at most 31 days; not {value!r}",
        )
        return None
    return found


# --- loading and cross-checks -------------------------------------------------------------


def folders() -> list[Path]:
    """The built-in examples, then the store's own folder (``definitions_dir/campaigns``)."""
    extra = get_settings().definitions_dir
    own = extra / "campaigns" if extra else None
    return [BUILT_IN] + ([own] if own and own.is_dir() else [])


def files(paths: list[Path] | None = None) -> list[Path]:
    if paths is not None:
        return paths
    return [p for folder in folders() for p in sorted(folder.glob("*.y*ml"))]


def load_file(path: Path) -> tuple[Campaign | None, list[DefinitionError]]:
    try:
        text = read_text(path)
    except YamlError as exc:
        return None, [DefinitionError.of(exc)]
    return parse_campaign(text, str(path))


def load_all(
    paths: list[Path] | None = None,
    *,
    known_segments: Callable[[str], bool] | None = None,
    templates: Any = None,
) -> tuple[list[Campaign], list[DefinitionError]]:
    """Every valid campaign and every mistake; a store's file replaces a built-in of its name.

    A broken store file replaces it too: that campaign is an error (its first mistake says
    ``campaign 'NAME' is not loaded``), never silently the built-in one.
    ``known_segments`` and ``templates`` (a renderer with ``names()``) turn on the reference
    checks; :func:`load_checked` supplies both from the database and the templates folder.
    """
    by_name: dict[str, Campaign] = {}
    errors: list[DefinitionError] = []
    broken: list[tuple[str, Path]] = []
    listed = files(paths)
    for path in listed:
        campaign, found = load_file(path)
        if campaign is None:
            name = intended_name(path)
            errors += [found[0].not_loaded("campaign", name), *found[1:]]
            broken.append((name, path))
            continue
        errors += found
        same = by_name.get(campaign.name)
        if same is not None and Path(same.source).parent == path.parent:
            errors.append(
                DefinitionError(
                    campaign.source,
                    campaign.line_of("name"),
                    f"name {campaign.name!r} is already used by {same.source}:{same.line}",
                )
            )
            continue
        by_name[campaign.name] = campaign
    sources = {name: Path(c.source) for name, c in by_name.items()}
    for name in replaced_by_broken(sources, broken, listed):
        del by_name[name]
    good: list[Campaign] = []
    for campaign in by_name.values():
        problems = check_references(campaign, known_segments=known_segments, templates=templates)
        errors += problems
        if not problems:
            good.append(campaign)
    return sorted(good, key=lambda c: c.name), errors


def check_references(
    campaign: Campaign, *, known_segments: Callable[[str], bool] | None, templates: Any
) -> list[DefinitionError]:
    """Segments and templates a campaign names must exist."""
    errors: list[DefinitionError] = []
    if known_segments is not None:
        for key, names in (("segments", campaign.include), ("segments", campaign.exclude)):
            for name in names:
                if not known_segments(name):
                    errors.append(
                        DefinitionError(
                            campaign.source,
                            campaign.line_of(key),
                            f"unknown segment {name!r}; see `homecoming segments list` "
                            "(rule segments, rfm:*, lifecycle:*, predicted:*, cluster:N)",
                        )
                    )
    if templates is not None:
        available = set(templates.names())
        wanted = [("template", campaign.template)] + [
            ("variants", v.template) for v in campaign.variants if v.template
        ]
        channels = getattr(templates, "channels", None)
        for key, name in wanted:
            if name not in available:
                errors.append(
                    DefinitionError(
                        campaign.source,
                        campaign.line_of(key),
                        f"unknown template {name!r}{_suggest(name, available)}",
                    )
                )
            elif channels is not None and campaign.channel not in channels(name):
                errors.append(
                    DefinitionError(
                        campaign.source,
                        campaign.line_of("channel"),
                        f"template {name!r} has no {campaign.channel} version; it has "
                        f"{', '.join(channels(name)) or 'none'}",
                    )
                )
    return errors


def segment_checker(engine: Any = None) -> Callable[[str], bool]:
    """Known segments: defined ones, computed ones (rfm:, predicted:, cluster:N) and any the
    database has snapshots of (when it is reachable)."""
    from sqlalchemy.exc import SQLAlchemyError

    from segments.definitions import CLUSTER, computed_names
    from segments.definitions import load_all as load_segments

    defined, _ = load_segments()
    known = {d.name for d in defined} | computed_names()
    if engine is not None:
        try:
            from segments.membership import segment_names

            known |= set(segment_names(engine))
        except SQLAlchemyError:
            pass
    return lambda name: name in known or bool(CLUSTER.match(name))


def load_checked(
    paths: list[Path] | None = None, *, engine: Any = None, renderer: Any = None
) -> tuple[list[Campaign], list[DefinitionError]]:
    """All campaigns with their segment and template references checked."""
    if renderer is None:
        from campaigns.render import default_renderer

        renderer = default_renderer()
    return load_all(paths, known_segments=segment_checker(engine), templates=renderer)


def find(name: str, campaigns: list[Campaign]) -> Campaign | None:
    return next((c for c in campaigns if c.name == name), None)
