"""Where a problem is: the ``.mjml`` or catalog file and line a marketer has to edit.

A compiled template is one long HTML string; its line numbers mean nothing to whoever
wrote the MJML. So problems are traced back to the sources: the template's ``.mjml`` file
and the files it extends, imports or includes (read as stage-2 Jinja, the stage-1 parts
left as plain text), and the catalog texts the message used.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from jinja2.exceptions import TemplateSyntaxError

from templates.compile import HTML_ENV
from templates.library import Field, Library
from templates.variables import check_variables_at

_REFERENCE = re.compile(r"\[%-?\s*(?:extends|import|include|from)\s+[\"']([^\"']+)[\"']")
_STAGE1_COMMENT = re.compile(r"\[#.*?#\]", re.DOTALL)

Location = tuple[Path, int]


def mjml_files(library: Library, template: str) -> list[Path]:
    """The template's file first, then every file it uses (store folder first)."""
    out: list[Path] = []
    pending = [f"{template}.mjml"]
    while pending:
        name = pending.pop(0)
        path = next((d / name for d in library.email_dirs if (d / name).is_file()), None)
        if path is None or path in out:
            continue
        out.append(path)
        pending += _REFERENCE.findall(_read(path))
    return out


@lru_cache(maxsize=256)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def stage2_source(path: Path) -> str:
    """The file as stage 2 sees it; stage-1 comments blanked, lines kept in place."""
    return _STAGE1_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), _read(path))


def syntax_error(files: list[Path]) -> tuple[Location, str] | None:
    """The first stage-2 Jinja syntax error in the files, at its own line."""
    for path in files:
        try:
            HTML_ENV.parse(stage2_source(path))
        except TemplateSyntaxError as exc:
            return (path, exc.lineno or 1), exc.message or "syntax error"
    return None


def key_line(files: list[Path], key: str, namespace: str) -> Location | None:
    """Where a catalog key is asked for (``_(".heading")`` or ``_("common.greeting")``)."""
    name = key.split("@", 1)[0]
    short = name[len(namespace) :] if name.startswith(f"{namespace}.") else None
    wanted = [re.escape(name)] + ([re.escape(short)] if short else [])
    pattern = re.compile(r"[\"'](?:" + "|".join(wanted) + r")[\"']")
    for path in files:
        for number, line in enumerate(_read(path).splitlines(), start=1):
            if pattern.search(line):
                return path, number
    return None


def variable_line(
    files: list[Path], path_: str, fields: dict[str, Field], kind: str
) -> Location | None:
    """The first line of the files where an unknown variable ``path_`` is used."""
    for path in files:
        for found, _, line in check_variables_at(stage2_source(path), fields, kind=kind):
            if found == path_:
                return path, line
    return None


def use_line(files: list[Path], variable: str) -> Location | None:
    """The first line that mentions a variable path (``links.view_online``)."""
    last = variable.rsplit(".", 1)[-1]
    pattern = re.compile(r"\{[{%][^}]*\b" + re.escape(last) + r"\b")
    for path in files:
        for number, line in enumerate(stage2_source(path).splitlines(), start=1):
            if pattern.search(line):
                return path, number
    return None
