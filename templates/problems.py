"""Problems found by validation, each reported once with the locales and variants it affects.

Checking a template renders it per locale and variant; the same mistake then shows up in
each of them. :class:`Problems` merges them by file, line, key and message, so a report
lists one line per thing to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from templates.locate import Location

_FILE_LINE = re.compile(r"^(\S+?\.(?:ya?ml|mjml)):(\d+)")
BASE = "base"  # the variant name shown for the messages without a variant


@dataclass(frozen=True)
class Problem:
    template: str | None
    key: str | None
    message: str
    level: str = "error"
    file: str | None = None
    line: int | None = None
    locales: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()

    @property
    def locale(self) -> str | None:
        """The one locale affected, if it is one."""
        return self.locales[0] if len(self.locales) == 1 else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.file and self.line else self.file or ""
        what = " ".join(p for p in (self.template or "", self.key or "") if p)
        scope = []
        if self.locales:
            scope.append(f"locales {', '.join(self.locales)}")
        if self.variants and self.variants != (BASE,):
            scope.append(f"variants {', '.join(self.variants)}")
        text = f"{what}: {self.message}" if what else self.message
        text = f"{place}: {text}" if place else text
        return f"{text} ({'; '.join(scope)})" if scope else text


class Problems:
    """Problems found per locale x variant, merged into one per file, line and message."""

    def __init__(self) -> None:
        self._found: dict[tuple[Any, ...], tuple[set[str], set[str]]] = {}

    def add(
        self,
        template: str | None,
        key: str | None,
        message: str,
        *,
        at: Location | None = None,
        locales: Iterable[str] = (),
        variant: str | None = None,
        level: str = "error",
    ) -> None:
        file, line = (str(at[0]), at[1]) if at else (None, None)
        entry = self._found.setdefault((level, template, file, line, key, message), (set(), set()))
        entry[0].update(locales)
        entry[1].add(variant or BASE)

    def result(self) -> list[Problem]:
        out = [
            Problem(t, k, m, lv, f, ln, tuple(sorted(locs)), tuple(sorted(vs)))
            for (lv, t, f, ln, k, m), (locs, vs) in self._found.items()
        ]
        return sorted(out, key=lambda p: (p.level, p.template or "", p.file or "", p.line or 0))


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.level == "error"]


def located(template: str | None, key: str | None, message: str, **more: Any) -> Problem:
    """A problem whose message starts with ``file:line``, with those split off."""
    hit = _FILE_LINE.match(message)
    if hit:
        rest = message[hit.end() :].lstrip(": ")
        return Problem(template, key, rest, file=hit.group(1), line=int(hit.group(2)), **more)
    return Problem(template, key, message, **more)
