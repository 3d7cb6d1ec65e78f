"""The sections of a written campaign definition: segments, variants, caps, quiet hours and
survey options, each a pydantic model that checks its keys (``campaigns.spec_base``).

Kept apart from :mod:`campaigns.spec`, which assembles them into the campaign, so a new
section (or a new check in one) does not grow the campaign's own model.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from campaigns.campaign import DEFAULT_SURVEY_LOOKBACK, DEFAULT_SURVEY_MAX_AGE, SurveyOptions
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

VARIANT = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")


def segment_list(value: Any) -> tuple[str, ...] | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items):
        return None
    return tuple(items)


def _names(value: Any) -> tuple[str, ...]:
    names = segment_list(value)
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


def variant_list(value: Any) -> Any:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise mistake("variants is a list like [{name: a, weight: 50}, ...]")
    return value


def weights_scale(variants: tuple[VariantSpec, ...]) -> float | None:
    """What the weights add up to when that is 100 or 1; None otherwise."""
    total = sum(v.weight for v in variants)
    return next((scale for scale in (100.0, 1.0) if abs(total - scale) < 1e-6), None)


def one_split(variants: tuple[VariantSpec, ...]) -> tuple[VariantSpec, ...]:
    """Each name once, and weights that add up to 100 (or 1)."""
    found: list[tuple[KeyPath, str]] = []
    seen: set[str] = set()
    for i, variant in enumerate(variants):
        if variant.name in seen:
            found.append(((i, "name"), f"variant {variant.name!r} is given twice"))
        seen.add(variant.name)
    if variants and weights_scale(variants) is None:
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
