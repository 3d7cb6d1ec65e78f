"""Parsing and checking single values; each failure names the field and what would be valid."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import is_currency

from ingest.errors import RowError

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_US_STAMP = re.compile(r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?$")
# Dates and times a store export may hold. Python stops at year 9999 and a time zone shift
# can cross it; beyond these years a value is a typo or a placeholder (0001-01-01).
FIRST_YEAR, LAST_YEAR = 1900, 2100
INT_MAX = 2**31 - 1  # the database's INTEGER (quantities, touches, an order's item count)


def required(values: dict[str, str], field: str, limit: int = 64) -> str:
    value = values.get(field, "")
    if not value:
        raise RowError(field, f"{field} is empty; it is required")
    return _fits(value, field, limit)


def optional(values: dict[str, str], field: str, limit: int = 255) -> str | None:
    value = values.get(field)
    return _fits(value, field, limit) if value else None


def _fits(value: str, field: str, limit: int) -> str:
    if len(value) > limit:
        raise RowError(field, f"{field} is {len(value)} characters long; at most {limit} fit")
    return value


def one_line(value: str | None, field: str) -> str | None:
    """Text that goes into an email header (a name in ``To``): a line break could start a
    new header or a second address, so it is refused."""
    if value is not None and ("\r" in value or "\n" in value):
        raise RowError(
            field, f"{field} contains a line break (CR or LF); it must be one line of text"
        )
    return value


def in_range(moment: date, field: str, value: str) -> None:
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise RowError(
            field, f"{field} {value!r} is out of range; dates from {FIRST_YEAR} to {LAST_YEAR}"
        )


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
    """A BCP 47 tag Babel knows, normalised (``pt_br`` -> ``pt-BR``, ``EN`` -> ``en``)."""
    if value is None:
        return "en"
    try:
        parsed = Locale.parse(value.replace("_", "-"), sep="-")
    except (ValueError, UnknownLocaleError):
        raise RowError(
            field, f"{field} {value!r} is not a known locale (expected e.g. en, tr, pt-BR)"
        ) from None
    tag = str(parsed).replace("_", "-")
    if len(tag) > 16:
        raise RowError(field, f"{field} {value!r} is longer than 16 characters; use e.g. pt-BR")
    return tag


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
    return ZoneInfo(name)


_COUNTRY_ALIASES = {"eire": "IE", "rsa": "ZA", "usa": "US", "uk": "GB", "channel islands": "JE"}


@lru_cache(maxsize=1)
def _country_codes() -> dict[str, str]:
    names = {
        name.lower(): code for code, name in Locale("en").territories.items() if len(code) == 2
    }
    names.update({code.lower(): code for code in names.values()})
    names.update(_COUNTRY_ALIASES)
    names["czech republic"] = "CZ"
    names["hong kong"] = "HK"
    return names


@lru_cache(maxsize=512)
def zone_for_country(country: str | None) -> str | None:
    """The time zone of a country that has exactly one (``United Kingdom`` -> Europe/London)."""
    if not country:
        return None
    code = _country_codes().get(country.strip().lower())
    zones = get_global("territory_zones").get(code or "", [])
    return zones[0] if len(zones) == 1 else None


@lru_cache(maxsize=65536)
def timestamp(value: str, field: str) -> datetime:
    """ISO 8601; aware (in UTC) when it has an offset, else naive: see :func:`localize`."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RowError(
            field,
            f"{field} {value!r} is not a timestamp (expected ISO 8601, e.g. 2026-11-23T09:30:00+03:00)",
        ) from None
    in_range(parsed, field, value)
    return parsed if parsed.tzinfo is None else parsed.astimezone(UTC)


@lru_cache(maxsize=65536)
def store_timestamp(value: str, field: str, store_zone: str) -> datetime:
    """A shop's local time (ISO or ``12/1/2010 8:26``) read in ``store_zone``, returned in UTC."""
    if _US_STAMP.match(value):
        fmt = "%m/%d/%Y %H:%M:%S" if value.count(":") == 2 else "%m/%d/%Y %H:%M"
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            raise RowError(field, f"{field} {value!r} is not a date and time") from None
        in_range(parsed, field, value)
    else:
        parsed = timestamp(value, field)
    return localize(parsed, store_zone)


def localize(value: datetime, zone_name: str) -> datetime:
    """A naive local time read in ``zone_name``; aware times pass through. Returned in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(zone_name))
    return value.astimezone(UTC)


def optional_timestamp(values: dict[str, str], field: str) -> datetime | None:
    value = values.get(field)
    return timestamp(value, field) if value else None


def _iso_day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowError(field, f"{field} {value!r} is not a date (expected YYYY-MM-DD)") from None


def day(value: str | None, field: str) -> date | None:
    found = _iso_day(value, field)
    if found is not None and value:
        in_range(found, field, value)
    return found


def birthday(value: str | None, field: str = "birthday") -> date | None:
    born = _iso_day(value, field)
    if born is not None and not date(1900, 1, 1) <= born <= date.today():
        raise RowError(field, f"{field} {value!r} is not a plausible date of birth (1900 to today)")
    return born


def integer(value: str, field: str, *, minimum: int | None = None) -> int:
    if len(value) > 24:  # Python refuses to convert thousands of digits; none would fit
        raise RowError(field, f"{field} is {len(value)} characters long; not a number in range")
    try:
        number = int(value)
    except ValueError:
        try:
            as_float = float(value)
        except ValueError:
            as_float = float("nan")
        if not as_float.is_integer():
            raise RowError(field, f"{field} {value!r} is not a whole number") from None
        number = int(as_float)
    if not -INT_MAX <= number <= INT_MAX:
        raise RowError(field, f"{field} {value!r} is out of range; at most {INT_MAX:,} either way")
    if minimum is not None and number < minimum:
        raise RowError(field, f"{field} {number} is below {minimum}; it must be at least {minimum}")
    return number


def number(value: str, field: str, *, minimum: float | None = None) -> float:
    try:
        result = float(value)
    except ValueError:
        raise RowError(field, f"{field} {value!r} is not a number") from None
    if not -1e15 < result < 1e15:  # also refuses nan and infinity
        raise RowError(field, f"{field} {value!r} is not a finite number in range")
    if minimum is not None and result < minimum:
        raise RowError(field, f"{field} {result:g} is negative; it must be at least {minimum:g}")
    return result


@lru_cache(maxsize=64)
def currency(value: str | None, default: str, field: str = "currency") -> str:
    if value is None:
        return default
    code = value.upper()
    if len(code) != 3 or not is_currency(code):
        raise RowError(field, f"{field} {value!r} is not an ISO 4217 code (expected e.g. EUR, GBP)")
    return code


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
