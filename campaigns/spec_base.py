"""What every section of the campaign spec is built from: a mapping that reports all its
mistakes at once, and the checks of single values with their messages.

A mistake is a pydantic error of type ``definition`` whose message is written for the
marketer (what is wrong, what would be valid) and whose location is the path of keys in the
file, e.g. ``("cadence", "hour")`` or ``("variants", 1, "weight")``; ``campaigns.catalog``
turns that path into the file's line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

DELAY = re.compile(r"^(\d{1,4})\s*(m|min|h|d|w)$")
DELAY_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The pydantic error type of every mistake below; anything else is pydantic's own wording.
MISTAKE = "definition"

# Where a mistake is: keys and list positions below the value being checked.
KeyPath = tuple[str | int, ...]


def mistake(message: str) -> PydanticCustomError:
    """A mistake in the value being checked, in words for whoever wrote the file."""
    return PydanticCustomError(MISTAKE, "{message}", {"message": message})


def mistakes(title: str, found: Iterable[tuple[KeyPath, str]]) -> ValidationError:
    """Several mistakes at paths below the value being checked, raised together."""
    return ValidationError.from_exception_data(
        title, [InitErrorDetails(type=mistake(m), loc=path, input=None) for path, m in found]
    )


def suggest(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?); valid: a, b, c`` for a word that is not one of ``options``."""
    options = sorted(map(str, options))  # plain words, also for enum members
    close = difflib.get_close_matches(word, options, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(options) if len(options) <= 40 else ", ".join(options[:40]) + ", ..."
    return f"{hint}; valid: {listed}"


def duration(text: str) -> timedelta | None:
    """``30m``, ``12h``, ``3d`` or ``2w`` as a timedelta; None for anything else."""
    match = DELAY.match(text.strip().lower())
    return timedelta(seconds=int(match[1]) * DELAY_UNITS[match[2]]) if match else None


def _again(error: ErrorDetails) -> InitErrorDetails:
    """An error of a field or nested section, raised again with the section's own."""
    again = PydanticCustomError(error["type"], "{message}", {"message": error["msg"]})
    return InitErrorDetails(type=again, loc=error["loc"], input=error["input"])


class Section(BaseModel):
    """One mapping of the file: its keys are the fields, an unknown key is a mistake at its
    own line, and every mistake of the mapping is reported, not only the first."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    shape: ClassVar[str] = "expected a mapping"  # said of a value that is no mapping

    @classmethod
    def unknown_key(cls, key: Any) -> str:
        return f"unknown key {key!r}; valid: {', '.join(cls.model_fields)}"

    @classmethod
    def written_problems(cls, data: dict[Any, Any]) -> tuple[list[tuple[KeyPath, str]], dict]:
        """Mistakes in which keys are written, and the keys to check field by field."""
        problems: list[tuple[KeyPath, str]] = [
            ((key,), cls.unknown_key(key)) for key in data if key not in cls.model_fields
        ]
        return problems, {k: v for k, v in data.items() if k in cls.model_fields}

    @model_validator(mode="wrap")
    @classmethod
    def _every_mistake(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if not isinstance(data, dict):
            raise mistake(cls.shape)
        problems, fields = cls.written_problems(data)
        found = [InitErrorDetails(type=mistake(m), loc=p, input=data) for p, m in problems]
        try:
            section = handler(fields)
        except ValidationError as exc:
            found += [_again(e) for e in exc.errors()]
        if found:
            raise ValidationError.from_exception_data(cls.__name__, found)
        return section


def check(test: Callable[[Any], bool], message: Callable[[Any], str]) -> BeforeValidator:
    """The value as written if ``test`` holds; else the mistake ``message(value)``."""

    def validate(value: Any) -> Any:
        if not test(value):
            raise mistake(message(value))
        return value

    return BeforeValidator(validate)


def is_whole(value: Any, low: int, high: int) -> bool:
    """An integer (not a boolean) from ``low`` to ``high``."""
    return not isinstance(value, bool) and isinstance(value, int) and low <= value <= high


def whole(low: int, high: int, what: str) -> BeforeValidator:
    """A whole number from ``low`` to ``high``; ``what`` names it in the message."""
    return check(
        lambda v: is_whole(v, low, high),
        lambda v: f"{what} must be a whole number from {low} to {high}, not {v!r}",
    )
