"""Babel filters: money, numbers, percentages and dates in the recipient's locale.

    {{ order.total|money(order.currency) }}   de: 1.234,50 €   en: €1,234.50
    {{ order.date|date }}                      de: 14. März 2026 (also "short", "medium", "full")
    {{ discount.percent|percent }}             tr: %10  (a whole percentage: 10 means 10 %)
    {{ 1234.5|number }}                        fr: 1 234,5

The locale comes from the render (``_format_locale``). Results are cached: a send repeats
the same prices and dates thousands of times, and Babel costs tens of microseconds a call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TypeVar

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

from templates.errors import RenderError
from templates.locales import babel_locale

T = TypeVar("T")

LOCALE_VAR = "_format_locale"
DATE_FORMATS = ("short", "medium", "long", "full")


def _defined(value: T) -> T:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value


def _decimal(value: object, what: str) -> Decimal:
    value = _defined(value)
    if isinstance(value, bool):
        raise RenderError(f"{what}: a number is expected, not a yes/no value")
    amount: Decimal | None = None
    if isinstance(value, float):
        amount = Decimal(repr(value))
    elif isinstance(value, int | Decimal):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            amount = None
    if amount is None or not amount.is_finite():
        raise RenderError(f"{what}: a number is expected, not {type(value).__name__}")
    return amount


@lru_cache(maxsize=65536)
def _money(amount: Decimal, currency: str, tag: str) -> str:
    locale = babel_locale(tag)
    if locale is None:  # a tag Babel does not know has no currency format
        raise RenderError(f"money: no number formats for locale {tag!r}")
    return locale.currency_formats["standard"].apply(amount, locale, currency=currency)


@lru_cache(maxsize=16384)
def _number(amount: Decimal, tag: str) -> str:
    return format_decimal(amount, locale=babel_locale(tag), decimal_quantization=False)


@lru_cache(maxsize=4096)
def _percent(amount: Decimal, tag: str) -> str:
    return format_percent(amount / 100, locale=babel_locale(tag), decimal_quantization=False)


@lru_cache(maxsize=16384)
def _date(day: date, style: str, tag: str) -> str:
    return format_date(day, format=style, locale=babel_locale(tag))


def _tag(context: Context) -> str:
    return context.get(LOCALE_VAR) or "en"


@pass_context
def money(context: Context, value: object, currency: object) -> str:
    amount = _decimal(value, "money")
    code = _defined(currency)
    if not isinstance(code, str) or len(code) != 3 or not code.isalpha():
        raise RenderError("money: the currency must be a three-letter code such as EUR")
    return _money(amount, code.upper(), _tag(context))


@pass_context
def number(context: Context, value: object) -> str:
    return _number(_decimal(value, "number"), _tag(context))


@pass_context
def percent(context: Context, value: object) -> str:
    return _percent(_decimal(value, "percent"), _tag(context))


@pass_context
def date_filter(context: Context, value: object, style: str = "long") -> str:
    value = _defined(value)
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            raise RenderError("date: text that is not an ISO date (YYYY-MM-DD)") from None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        raise RenderError(f"date: a date is expected, not {type(value).__name__}")
    if style not in DATE_FORMATS:
        raise RenderError(f"date: format {style!r}; valid: {', '.join(DATE_FORMATS)}")
    return _date(value, style, _tag(context))


FILTERS: dict[str, Callable[..., str]] = {
    "money": money,
    "number": number,
    "percent": percent,
    "date": date_filter,
}
