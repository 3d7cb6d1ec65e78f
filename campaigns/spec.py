"""The written campaign definition as pydantic models: each key, what it may hold, and what to
say when it holds something else.

Each model is one mapping of the YAML file: the campaign (:class:`CampaignSpec`), its
segments, variants, caps, quiet hours and survey options here, its cadence or trigger in
``campaigns.spec_schedule``. Pydantic checks every field and each section adds the keys it
does not know (``campaigns.spec_base``), so one pass finds every mistake of a file, each at
the path of keys ``campaigns.catalog`` turns into a line.

A valid :class:`CampaignSpec` becomes the :class:`~campaigns.campaign.Campaign` the rest of
the code reads (:meth:`CampaignSpec.to_campaign`).
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from campaigns.campaign import (
    CHANNELS,
    DEFAULT_SURVEY_LOOKBACK,
    DEFAULT_SURVEY_MAX_AGE,
    KINDS,
    Campaign,
    SurveyOptions,
    Variant,
)
from campaigns.links import CHOICE_PATTERN
from campaigns.spec_base import (
    KeyPath,
    Section,
    check,
    duration,
    mistake,
    mistakes,
    suggest,
    whole,
)
from campaigns.spec_schedule import CadenceSpec, TriggerSpec
from models.store import Channel

NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
VARIANT = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")
# The longest lateness limit a definition may give: a message a month late is no message.
MAX_LATENESS = timedelta(days=31)


# --- single values -------------------------------------------------------------------------


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise mistake(f"expected a date YYYY-MM-DD, not {value!r}")


def _holdout(value: Any) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        with contextlib.suppress(ValueError):
            value = float(value.strip()[:-1])
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 100:
        raise mistake(f"holdout is a percentage from 0 to 99.99, not {value!r}")
    return float(value)


def _lateness(value: Any) -> timedelta | None:
    """Hours as a number, or a duration such as 90m, 12h or 2d; more than zero, at most 31d."""
    if value is None:
        return None
    found: timedelta | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        found = timedelta(hours=value)
    elif isinstance(value, str):
        found = duration(value)
    if found is None or not timedelta(0) < found <= MAX_LATENESS:
        raise mistake(
            "max_lateness is how late a message may still go out: hours (e.g. 6) or a "
            f"duration (90m, 12h, 2d), more than 0 and at most 31 days; not {value!r}"
        )
    return found


def _segment_names(value: Any) -> tuple[str, ...] | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items):
        return None
    return tuple(items)


def _names(value: Any) -> tuple[str, ...]:
    names = _segment_names(value)
    if names is None:
        raise mistake("expected a segment name or a list of them, e.g. [rfm:champions]")
    return names


def _survey_duration(key: str, default: timedelta) -> BeforeValidator:
    def validate(value: Any) -> timedelta:
        found = default if value is None else duration(str(value))
        if found is None:
            raise mistake(f"survey.{key} {value!r} is not a duration; e.g. 12h, 2d or 1w")
        return found

    return BeforeValidator(validate)


def _choices(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(c, str) and CHOICE_PATTERN.match(c) for c in value
    ):
        raise mistake("survey.choices is a list of keys of 1-32 characters a-z, 0-9 or _")
    return tuple(value)


Day = Annotated[date | None, BeforeValidator(_day)]
SegmentNames = Annotated[tuple[str, ...], BeforeValidator(_names)]


# --- the sections --------------------------------------------------------------------------


class SegmentsSpec(Section):
    shape = "segments is a mapping with include and exclude lists"

    include: SegmentNames = ()
    exclude: SegmentNames = ()


class VariantSpec(Section):
    shape = "each variant is a mapping with name and weight"

    name: Annotated[
        str,
        check(
            lambda v: isinstance(v, str) and bool(VARIANT.match(v)),
            lambda v: f"variant name {v!r} must be short lowercase text",
        ),
    ] = Field(None, validate_default=True)
    weight: Annotated[
        float,
        check(
            lambda v: not isinstance(v, bool) and isinstance(v, int | float) and v > 0,
            lambda v: f"weight must be a positive number, not {v!r}",
        ),
    ] = Field(None, validate_default=True)
    template: Annotated[
        str | None,
        check(
            lambda v: v is None or isinstance(v, str), lambda v: "template must be a template name"
        ),
    ] = None


def _variant_list(value: Any) -> Any:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise mistake("variants is a list like [{name: a, weight: 50}, ...]")
    return value


def _weights_scale(variants: tuple[VariantSpec, ...]) -> float | None:
    """What the weights add up to when that is 100 or 1; None otherwise."""
    total = sum(v.weight for v in variants)
    return next((scale for scale in (100.0, 1.0) if abs(total - scale) < 1e-6), None)


def _one_split(variants: tuple[VariantSpec, ...]) -> tuple[VariantSpec, ...]:
    """Each name once, and weights that add up to 100 (or 1)."""
    found: list[tuple[KeyPath, str]] = []
    seen: set[str] = set()
    for i, variant in enumerate(variants):
        if variant.name in seen:
            found.append(((i, "name"), f"variant {variant.name!r} is given twice"))
        seen.add(variant.name)
    if variants and _weights_scale(variants) is None:
        total = sum(v.weight for v in variants)
        found.append(((), f"variant weights add up to {total:g}; they must add up to 100 (or 1)"))
    if found:
        raise mistakes("variants", found)
    return variants


class CapsSpec(Section):
    shape = "caps is a mapping: {count: 2, days: 7, min_gap_hours: 16}"

    count: Annotated[int | None, whole(0, 100, "caps.count")] = None
    days: Annotated[int | None, whole(1, 365, "caps.days")] = None
    min_gap_hours: Annotated[int | None, whole(0, 24 * 60, "caps.min_gap_hours")] = None

    def as_dict(self) -> dict[str, float]:
        """The caps written, over the store's caps (``campaigns.caps.caps_for``)."""
        return {k: getattr(self, k) for k in type(self).model_fields if k in self.model_fields_set}


class QuietHoursSpec(Section):
    shape = "quiet_hours is {start: 21, end: 8} (local hours)"

    start: Annotated[int, whole(0, 23, "quiet_hours.start")]
    end: Annotated[int, whole(0, 23, "quiet_hours.end")]

    @classmethod
    def written_problems(cls, data: dict[Any, Any]) -> tuple[list[tuple[KeyPath, str]], dict]:
        if set(data) != {"start", "end"}:
            raise mistake(cls.shape)
        return [], data


class SurveySpec(Section):
    """Options of a triggered campaign (``campaigns.surveys``)."""

    shape = "survey must be a mapping"

    lookback: Annotated[timedelta, _survey_duration("lookback", DEFAULT_SURVEY_LOOKBACK)] = (
        DEFAULT_SURVEY_LOOKBACK
    )
    max_age: Annotated[timedelta, _survey_duration("max_age", DEFAULT_SURVEY_MAX_AGE)] = (
        DEFAULT_SURVEY_MAX_AGE
    )
    choices: Annotated[tuple[str, ...], BeforeValidator(_choices)] = ()

    @classmethod
    def unknown_key(cls, key: Any) -> str:
        return f"unknown key {key!r}{suggest(str(key), cls.model_fields)}"

    def options(self) -> SurveyOptions:
        return SurveyOptions(lookback=self.lookback, max_age=self.max_age, choices=self.choices)


# --- the campaign --------------------------------------------------------------------------


def _segments_form(value: Any) -> Any:
    """``segments: [a, b]`` (or one name) is short for ``segments: {include: [a, b]}``."""
    return {"include": value} if isinstance(value, list | str) else value


class CampaignSpec(Section):
    """The whole file. Fields are checked in this order, so a check may use the ones above
    it (``end`` after ``start``; an rrule's DTSTART is the ``start`` date)."""

    shape = "expected a mapping: name, kind, channel..."

    name: Annotated[
        str,
        check(
            lambda v: isinstance(v, str) and bool(NAME.match(v)),
            lambda v: (
                f"name {v!r} must be 1-64 lowercase letters, digits, _ or -, starting "
                "with a letter or digit (it names the Prefect deployment and the ledger rows)"
            ),
        ),
    ] = Field(None, validate_default=True)
    description: Annotated[
        str, check(lambda v: isinstance(v, str), lambda v: "description must be text")
    ] = ""
    kind: Annotated[
        str,
        check(lambda v: v in KINDS, lambda v: f"kind {v!r} is not known{suggest(str(v), KINDS)}"),
    ] = Field(None, validate_default=True)
    channel: Annotated[
        str,
        check(
            lambda v: v in CHANNELS,
            lambda v: f"channel {v!r} is not known; valid: {', '.join(CHANNELS)}",
        ),
    ] = Channel.email
    template: Annotated[
        str | None,  # None: the template named like the kind
        check(
            lambda v: isinstance(v, str) and bool(v),
            lambda v: "template must be a template name, e.g. newsletter",
        ),
    ] = None
    segments: Annotated[SegmentsSpec | None, BeforeValidator(_segments_form)] = None
    start: Day = None
    end: Day = None
    cadence: CadenceSpec | None = None
    trigger: TriggerSpec | None = None
    local_time: Annotated[
        bool, check(lambda v: isinstance(v, bool), lambda v: "local_time must be true or false")
    ] = True
    holdout: Annotated[float, BeforeValidator(_holdout)] = 0.0
    variants: Annotated[
        tuple[VariantSpec, ...], BeforeValidator(_variant_list), AfterValidator(_one_split)
    ] = ()
    priority: Annotated[int, whole(0, 1000, "priority")] = 50
    caps: CapsSpec | None = None
    quiet_hours: QuietHoursSpec | None = None
    max_lateness: Annotated[timedelta | None, BeforeValidator(_lateness)] = None
    context: Annotated[
        dict[Any, Any],
        check(
            lambda v: isinstance(v, dict),
            lambda v: "context must be a mapping of template values, e.g. discount",
        ),
    ] = Field(default_factory=dict)
    survey: SurveySpec = Field(default_factory=SurveySpec)

    @classmethod
    def unknown_key(cls, key: Any) -> str:
        return f"unknown key {key!r}{suggest(str(key), cls.model_fields)}"

    @classmethod
    def written_problems(cls, data: dict[Any, Any]) -> tuple[list[tuple[KeyPath, str]], dict]:
        """A cadence or a trigger, not both; a scheduled campaign includes some segment."""
        problems, fields = super().written_problems(data)
        if "cadence" in data and "trigger" in data:
            problems.append((("trigger",), "give either a cadence or a trigger, not both"))
            fields = {k: v for k, v in fields.items() if k not in ("cadence", "trigger")}
        elif "cadence" not in data and "trigger" not in data:
            problems.append(
                (
                    (),
                    "missing 'cadence' (every: weekly/biweekly/monthly, cron or rrule) or 'trigger'",
                )
            )
        segments = data.get("segments")
        if "trigger" in data:
            pass
        elif segments is None:
            problems.append(((), "missing 'segments' (include: [...], exclude: [...])"))
        elif isinstance(segments, dict | list | str):
            include = segments.get("include") if isinstance(segments, dict) else segments
            if not _segment_names(include):
                problems.append((("segments",), "include at least one segment"))
        return problems, fields

    @field_validator("cadence", "trigger", mode="before")
    @classmethod
    def _written_empty(cls, value: Any, info: ValidationInfo) -> Any:
        """``cadence:`` or ``trigger:`` with nothing after it."""
        if value is None:
            raise mistake((CadenceSpec if info.field_name == "cadence" else TriggerSpec).shape)
        return value

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start")
        if start and end and end < start:
            raise mistake(f"end {end} is before start {start}")
        return end

    @field_validator("cadence")
    @classmethod
    def _occurs(cls, cadence: CadenceSpec | None, info: ValidationInfo) -> CadenceSpec | None:
        if cadence is not None:
            cadence.check_rrule(info.data.get("start"))
        return cadence

    def to_campaign(
        self, *, source: str, line: int, lines: dict[str, int], survey: dict[str, Any]
    ) -> Campaign:
        """The campaign, from ``source`` (its mapping at ``line``, each key at ``lines``);
        ``survey`` is the survey mapping as written."""
        segments = self.segments or SegmentsSpec()
        scale = _weights_scale(self.variants) or 1.0
        return Campaign(
            name=self.name,
            description=self.description.strip(),
            kind=self.kind,
            channel=self.channel,
            template=self.template or self.kind,
            include=segments.include,
            exclude=segments.exclude,
            cadence=self.cadence.to_cadence(self.start) if self.cadence else None,
            trigger=self.trigger.to_trigger() if self.trigger else None,
            local_time=self.local_time,
            start=self.start,
            end=self.end,
            holdout=self.holdout,
            variants=tuple(Variant(v.name, v.weight / scale, v.template) for v in self.variants),
            priority=self.priority,
            caps=self.caps.as_dict() if self.caps else {},
            quiet_hours=(self.quiet_hours.start, self.quiet_hours.end)
            if self.quiet_hours
            else None,
            max_lateness=self.max_lateness,
            context=self.context,
            survey=survey,
            survey_options=self.survey.options(),
            source=source,
            line=line,
            lines=lines,
        )


KEYS = tuple(CampaignSpec.model_fields)
