"""When a campaign runs, as written: a cadence (every, cron or rrule) or a trigger.

The cron and rrule texts are checked with Prefect's own scheduler code
(``campaigns.recurrence``), so a cadence that passes here is one the server will run.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from campaigns.campaign import EVERY, TRIGGERS, WEEKDAYS, Cadence, Trigger
from campaigns.localtime import FIRST_ZONE
from campaigns.recurrence import NeverFires, check_cron, check_rrule
from campaigns.spec_base import (
    KeyPath,
    Section,
    check,
    duration,
    is_whole,
    mistake,
    mistakes,
    whole,
)
from models.settings import get_settings

# Biweekly cadences without a start date count their weeks from this Monday.
BIWEEKLY_ANCHOR = date(2024, 1, 1)


def _zone(value: Any) -> str:
    if isinstance(value, str) and value:
        # OSError: a name such as "Europe" is a folder of the zone database, not a zone.
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError, OSError):
            ZoneInfo(value)
            return value
    raise mistake(f"unknown time zone {value!r}; use an IANA name")


TimeZone = Annotated[str, BeforeValidator(_zone)]


def _trigger_delay(value: Any) -> str:
    text = str(value).strip().lower()
    text = "0h" if text in ("0", "none", "immediately") else text
    if duration(text) is None:
        raise mistake(f"delay {value!r} is not a duration; e.g. 30m, 1h, 3d or 2w")
    return text


class TriggerSpec(Section):
    shape = "trigger is a mapping: {after: delivered, delay: 3d}"

    after: Annotated[
        str,
        check(
            lambda v: v in TRIGGERS,
            lambda v: f"after {v!r} is not known; valid: {', '.join(TRIGGERS)}",
        ),
    ] = Field(None, validate_default=True)
    delay: Annotated[str, BeforeValidator(_trigger_delay)] = "0h"

    def to_trigger(self) -> Trigger:
        found = duration(self.delay)
        assert found is not None
        return Trigger(after=self.after, delay=found, delay_text=self.delay)


# The keys of each form of cadence.
CADENCE_FORMS = {
    "every": ("every", "day", "hour", "minute", "time_zone"),
    "cron": ("cron", "time_zone"),
    "rrule": ("rrule", "hour", "minute", "time_zone"),
}


class CadenceSpec(Section):
    """``{every: weekly, day: monday, hour: 10}``, ``{cron: ...}`` or ``{rrule: ...}``, in
    ``time_zone`` (default HOMECOMING_DEFAULT_TIME_ZONE)."""

    shape = "cadence is a mapping: {every: weekly, day: monday, hour: 10}"

    time_zone: TimeZone = Field(
        default_factory=lambda: get_settings().default_time_zone, validate_default=True
    )
    every: Annotated[
        str | None,
        check(
            lambda v: v in EVERY,
            lambda v: f"every {v!r} is not known; valid: weekly, biweekly, monthly",
        ),
    ] = None
    cron: str | None = None
    rrule: str | None = None
    hour: Annotated[int | None, whole(0, 23, "hour")] = None
    minute: Annotated[int, whole(0, 59, "minute")] = 0
    day: int | None = Field(None, validate_default=True)  # weekday 0-6, or day of month

    @classmethod
    def written_problems(cls, data: dict[Any, Any]) -> tuple[list[tuple[KeyPath, str]], dict]:
        forms = [form for form in CADENCE_FORMS if form in data]
        problems: list[tuple[KeyPath, str]]
        if len(forms) != 1:
            problems = [
                ((), "give exactly one of every (weekly, biweekly, monthly), cron or rrule")
            ]
            return problems, {k: v for k, v in data.items() if k == "time_zone"}
        allowed = CADENCE_FORMS[forms[0]]
        problems = [
            ((key,), f"unknown key {key!r} here; valid: {', '.join(allowed)}")
            for key in data
            if key not in allowed
        ]
        if forms[0] == "every" and "hour" not in data:
            problems.append(((), "missing hour (0-23, the local hour of sending)"))
        text = data.get("rrule")
        if forms[0] == "rrule" and "hour" not in data and isinstance(text, str):
            upper = text.upper()
            dtstart = any(ln.strip().startswith("DTSTART") for ln in upper.splitlines())
            if text.strip() and not dtstart and "BYHOUR" not in upper:
                problems.append(
                    (("rrule",), "an rrule needs BYHOUR, a DTSTART line, or an hour key")
                )
        return problems, {k: v for k, v in data.items() if k in allowed}

    @field_validator("cron", mode="before")
    @classmethod
    def _cron(cls, text: Any, info: ValidationInfo) -> str:
        """Checked with the cron parser of Prefect's scheduler, which will run it."""
        if not isinstance(text, str) or len(text.split()) != 5:
            raise mistake(f"cron {text!r} needs five fields: minute hour day month weekday")
        try:
            check_cron(text, info.data.get("time_zone", "UTC"))
        except NeverFires:
            raise mistake(f"cron {text!r} never fires: no day matches all its fields") from None
        except ValueError:
            raise mistake(
                f"cron {text!r} is not valid: e.g. '0 10 * * 1' (Mondays at 10:00)"
            ) from None
        return text

    @field_validator("rrule", mode="before")
    @classmethod
    def _rrule(cls, text: Any) -> str:
        """The text alone; it is parsed with its DTSTART (:meth:`check_rrule`)."""
        if not isinstance(text, str) or not text.strip():
            raise mistake("rrule must be text, e.g. FREQ=MONTHLY;BYDAY=1SA;BYHOUR=9")
        if "TZID" in text.upper() or text.upper().rstrip().endswith("Z"):
            raise mistake("give the zone as cadence.time_zone, not inside the rrule")
        return text

    @field_validator("day", mode="before")
    @classmethod
    def _day(cls, day: Any, info: ValidationInfo) -> int | None:
        every = info.data.get("every")
        if every is None:  # a cron or rrule cadence, or an every that is wrong
            return None
        if every == "monthly":
            if is_whole(day, 29, 31):
                raise mistake(
                    f"day {day} does not exist in every month; use 1-28, or an rrule such as "
                    "FREQ=MONTHLY;BYMONTHDAY=-1 for the last day"
                )
            day = 1 if day is None else day
            if not is_whole(day, 1, 28):
                raise mistake(f"day of the month must be a whole number from 1 to 28, not {day!r}")
            return day
        word = str("monday" if day is None else day).lower()
        for i, weekday in enumerate(WEEKDAYS):
            if word in (weekday, weekday[:3]):
                return i
        raise mistake(f"day {day!r} is not a weekday; valid: {', '.join(WEEKDAYS)}")

    def rrule_text(self, start: date | None) -> str:
        """The RRULE with a DTSTART: the one written, else ``start`` (or the biweekly anchor)
        at ``hour:minute``."""
        assert self.rrule is not None
        lines = [ln.strip() for ln in self.rrule.strip().splitlines() if ln.strip()]
        lines = [ln if ":" in ln else f"RRULE:{ln}" for ln in lines]
        if not any(ln.upper().startswith("DTSTART") for ln in lines):
            first = datetime.combine(start or BIWEEKLY_ANCHOR, time(self.hour or 0, self.minute))
            lines.insert(0, f"DTSTART:{first:%Y%m%dT%H%M%S}")
        return "\n".join(lines)

    def check_rrule(self, start: date | None) -> None:
        """An rrule is parsed by Prefect's scheduler with the DTSTART it will run with."""
        if self.rrule is None:
            return
        try:
            check_rrule(self.rrule_text(start), self.time_zone)
        except NeverFires:
            message = "rrule never fires (or is a set of rules); give one rule that occurs"
            raise mistakes("rrule", [(("rrule",), message)]) from None
        except ValueError as exc:
            raise mistakes("rrule", [(("rrule",), f"rrule is not valid: {exc}")]) from None

    def to_cadence(self, start: date | None, *, local: bool = False) -> Cadence:
        """The cadence; with ``local`` (local_time) its periods start where the day begins
        first, so each recipient's own day and hour are still ahead (campaigns.localtime)."""
        zone = FIRST_ZONE if local else self.time_zone
        if self.cron is not None:
            return Cadence(every="cron", time_zone=zone, expression=self.cron, local=local)
        if self.rrule is not None:
            text = self.rrule_text(start)
            return Cadence(every="rrule", time_zone=zone, expression=text, local=local)
        assert self.every is not None
        anchor = None
        if self.every == "biweekly":
            first = start or BIWEEKLY_ANCHOR
            anchor = first - timedelta(days=first.weekday())
        return Cadence(
            every=self.every,
            time_zone=zone,
            hour=self.hour or 0,
            minute=self.minute,
            day=self.day,
            anchor=anchor,
            local=local,
        )
