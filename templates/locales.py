"""Locale tags: one spelling, the fallback chain, and the writing direction.

Customers arrive with tags like ``pt_BR``, ``PT-br`` or ``en-GB``; everything here
speaks BCP 47 with a hyphen (``pt-BR``). A tag falls back by dropping its last subtag
(``zh-Hant-TW`` -> ``zh-Hant`` -> ``zh``) and ends at the store's default locale.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

from babel import Locale, UnknownLocaleError

_TAG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


def normalize(tag: str | None) -> str | None:
    """``pt_br`` -> ``pt-BR``, ``zh_hant_tw`` -> ``zh-Hant-TW``; None for anything not a tag."""
    if not tag or not isinstance(tag, str) or not _TAG.match(tag.strip()):
        return None
    parts = re.split(r"[-_]", tag.strip())
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())  # script: Hant, Latn
        elif len(part) in (2, 3):
            out.append(part.upper())  # region: BR, 419
        else:
            out.append(part.lower())  # variant
    return "-".join(out)


def chain(tag: str | None, available: Collection[str], default: str) -> list[str]:
    """The catalogs to try for ``tag``, most specific first, always ending at ``default``."""
    out: list[str] = []
    normal = normalize(tag)
    if normal:
        parts = normal.split("-")
        for end in range(len(parts), 0, -1):
            candidate = "-".join(parts[:end])
            if candidate in available and candidate not in out:
                out.append(candidate)
    if default not in out:
        out.append(default)
    return out


def language(tag: str) -> str:
    return tag.split("-", 1)[0]


@lru_cache(maxsize=512)
def babel_locale(tag: str) -> Locale | None:
    """Babel's locale for a tag, or None when Babel does not know it."""
    try:
        return Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def direction(tag: str) -> str:
    """``rtl`` for right-to-left scripts (ar, he, fa, ur, ...), else ``ltr``."""
    found = babel_locale(tag)
    return "rtl" if found is not None and found.character_order == "right-to-left" else "ltr"
