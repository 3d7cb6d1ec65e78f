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
    DEFAULT_TOPICS,
    KINDS,
    Campaign,
    Variant,
)
from campaigns.spec_base import (
    KeyPath,
    Section,
    check,
    duration,
    mistake,
    suggest,
    whole,
)
from campaigns.spec_schedule import CadenceSpec, TriggerSpec
from campaigns.spec_sections import (
    CapsSpec,
    QuietHoursSpec,
    SegmentsSpec,
    SurveySpec,
    VariantSpec,
    one_split,
    segment_list,
    variant_list,
    weights_scale,
)
from models.store import Channel
from models.topics import TOPICS

NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
MISSING_LOCALE = ("fallback", "skip")
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


Day = Annotated[date | None, BeforeValidator(_day)]


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
    fallback: Annotated[
        str | None,
        check(
            lambda v: v is None or v in CHANNELS,
            lambda v: f"fallback {v!r} is not a channel; valid: {', '.join(CHANNELS)}",
        ),
    ] = None
    topic: Annotated[
        str | None,
        check(
            lambda v: v is None or v in TOPICS,
            lambda v: (
                f"topic {v!r} is not known{suggest(str(v), TOPICS)}; valid: " + ", ".join(TOPICS)
            ),
        ),
    ] = None
    locale_fallback: Annotated[
        str | None,
        check(
            lambda v: v is None or (isinstance(v, str) and bool(LOCALE.match(v))),
            lambda v: f"locale_fallback {v!r} is not a locale such as en or pt-BR",
        ),
    ] = None
    missing_locale: Annotated[
        str | None,
        check(
            lambda v: v is None or v in MISSING_LOCALE,
            lambda v: f"missing_locale {v!r} is not valid; valid: {', '.join(MISSING_LOCALE)}",
        ),
    ] = None
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
        tuple[VariantSpec, ...], BeforeValidator(variant_list), AfterValidator(one_split)
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
            if not segment_list(include):
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

    @field_validator("fallback")
    @classmethod
    def _other_channel(cls, fallback: str | None, info: ValidationInfo) -> str | None:
        if fallback is not None and fallback == info.data.get("channel"):
            raise mistake(f"fallback {fallback!r} is the campaign's own channel; give the other")
        return fallback

    @field_validator("topic")
    @classmethod
    def _has_topics(cls, topic: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if topic is not None and kind is not None and kind not in DEFAULT_TOPICS:
            raise mistake(f"kind {kind} has no topic: topic opt-outs never stop it")
        return topic

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
        scale = weights_scale(self.variants) or 1.0
        return Campaign(
            name=self.name,
            description=self.description.strip(),
            kind=self.kind,
            channel=self.channel,
            fallback=self.fallback,
            topic=self.topic or DEFAULT_TOPICS.get(self.kind),
            locale_fallback=self.locale_fallback,
            missing_locale=self.missing_locale,
            template=self.template or self.kind,
            include=segments.include,
            exclude=segments.exclude,
            cadence=self.cadence.to_cadence(self.start, local=self.local_time)
            if self.cadence
            else None,
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
