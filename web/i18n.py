"""Page texts in the customer's language: their own locale when known, else the browser's."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from models.yaml_loader import load_file

LOCALES = Path(__file__).parent / "locales"
FALLBACK = "en"


@cache
def catalogs() -> dict[str, dict[str, str]]:
    """Every catalog, each completed with the English text for any missing key."""
    loaded = {
        path.stem: {str(k): str(v) for k, v in (load_file(path) or {}).items()}
        for path in sorted(LOCALES.glob("*.yaml"))
    }
    base = loaded[FALLBACK]
    return {name: {**base, **texts} for name, texts in loaded.items()}


def supported(locale: str | None) -> str | None:
    """The catalog for ``locale`` (``pt-BR`` falls back to ``pt``), or None."""
    if not locale:
        return None
    tag = locale.strip().replace("_", "-").lower()
    available = catalogs()
    for candidate in (tag, tag.split("-", 1)[0]):
        if candidate in available:
            return candidate
    return None


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header, by quality."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        found = supported(tag)
        if found:
            return found
    return None


def choose(*, customer_locale: str | None, accept_language: str | None, default: str) -> str:
    return (
        supported(customer_locale)
        or from_accept_language(accept_language)
        or supported(default)
        or FALLBACK
    )


def texts(locale: str) -> dict[str, str]:
    return catalogs()[supported(locale) or FALLBACK]
