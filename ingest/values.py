"""Parsing and checking single values; each failure names the field and what would be valid."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError

from ingest.errors import RowError

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def required(values: dict[str, str], field: str) -> str:
    value = values.get(field, "")
    if not value:
        raise RowError(field, f"{field} is empty; it is required")
    return value


def optional(values: dict[str, str], field: str) -> str | None:
    return values.get(field) or None


def email(value: str | None, field: str = "email") -> str | None:
    if value is None:
        return None
    if len(value) > 320 or not _EMAIL.match(value):
        raise RowError(
            field, f"{field} {value!r} is not a valid address (expected name@domain.tld)"
        )
    return value.lower()


@lru_cache(maxsize=512)
def locale(value: str | None, field: str = "locale") -> str:
    if value is None:
        return "en"
    try:
        parsed = Locale.parse(value.replace("_", "-"), sep="-")
    except (ValueError, UnknownLocaleError):
        raise RowError(
            field, f"{field} {value!r} is not a known locale (expected e.g. en, tr, pt-BR)"
        ) from None
    return f"{parsed.language}-{parsed.territory}" if parsed.territory else parsed.language


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1024)
def time_zone(value: str | None, field: str = "time_zone") -> str:
    if value is None:
        return "UTC"
    if value not in _zones():
        raise RowError(
            field, f"{field} {value!r} is not an IANA time zone (expected e.g. Europe/Istanbul)"
        )
    return value


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")


@lru_cache(maxsize=65536)
def timestamp(value: str, field: str, default_zone: str = "UTC") -> datetime:
    """ISO 8601 with an offset, or without one read in ``default_zone``; returned in UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RowError(
            field,
            f"{field} {value!r} is not a timestamp (expected ISO 8601, e.g. 2026-11-23T09:30:00+03:00)",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(default_zone))
    return parsed.astimezone(UTC)


def optional_timestamp(
    values: dict[str, str], field: str, default_zone: str = "UTC"
) -> datetime | None:
    value = values.get(field)
    return timestamp(value, field, default_zone) if value else None


def day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowError(field, f"{field} {value!r} is not a date (expected YYYY-MM-DD)") from None


def integer(value: str, field: str, *, minimum: int | None = None) -> int:
    try:
        number = int(float(value)) if "." in value else int(value)
    except ValueError:
        raise RowError(field, f"{field} {value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise RowError(field, f"{field} {number} is below {minimum}; it must be at least {minimum}")
    return number


def number(value: str, field: str, *, minimum: float | None = None) -> float:
    try:
        result = float(value)
    except ValueError:
        raise RowError(field, f"{field} {value!r} is not a number") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise RowError(field, f"{field} {value!r} is not a finite number")
    if minimum is not None and result < minimum:
        raise RowError(field, f"{field} {result:g} is negative; it must be at least {minimum:g}")
    return result


def choice(
    value: str | None, field: str, allowed: tuple[str, ...], default: str | None = None
) -> str:
    if not value:
        if default is None:
            raise RowError(field, f"{field} is empty; expected one of {', '.join(allowed)}")
        return default
    lowered = value.lower()
    if lowered not in allowed:
        raise RowError(
            field, f"{field} {value!r} is not valid; expected one of {', '.join(allowed)}"
        )
    return lowered
