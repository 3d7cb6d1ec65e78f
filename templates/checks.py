"""The checks of one compiled message: a template in the locale chosen for some customers,
in one variant. Each problem is placed at the ``.mjml`` or catalog line to edit."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from jinja2.exceptions import TemplateSyntaxError
from markupsafe import escape

from templates.compile import TEXT_ENV, render_stage1
from templates.errors import RenderError, TemplateInvalid
from templates.localize import CATEGORIES, name_of
from templates.locate import Location, key_line, syntax_error, use_line, variable_line
from templates.problems import Problems, located
from templates.render import Renderer
from templates.variables import check_variables, check_variables_at

_MISSING = re.compile(r"missing value: ([\w.\[\]]+)")
_WHERE = re.compile(r"^\S+ \[[^\]]*\]( push)?: ")


def syntax(text: str) -> str | None:
    """The Jinja syntax error of a catalog text, if it has one."""
    if "{" not in text:
        return None
    try:
        TEXT_ENV.parse(text)
    except TemplateSyntaxError as exc:
        return exc.message or "syntax error"
    return None


_MJML_LINE = re.compile(r"^MJML line \d+: ")
_MJML_SNIPPET = re.compile(r" \(MJML line \d+: (.*)\)$")


def _in_sources(
    message: str, element: str | None, files: list[Path]
) -> tuple[str, Location | None]:
    """An MJML problem found in the assembled document, placed at its source line."""
    needle = f"<{element}" if element else None
    snippet = _MJML_SNIPPET.search(message)
    if snippet:
        needle = snippet.group(1).strip()[:60] or needle
        message = message[: snippet.start()]
    message = _MJML_LINE.sub("", message)
    for path in files if needle else []:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if needle and needle in line:
                return message, (path, number)
    return message, None


class MessageCheck:
    """The checks of one compiled message (template x chosen locale x variant)."""

    def __init__(
        self,
        renderer: Renderer,
        found: Problems,
        template: str,
        locale: str,
        variant: str | None,
        asked: list[str],
        files: list[Path],
    ) -> None:
        self.renderer, self.found, self.template = renderer, found, template
        self.locale, self.variant, self.asked, self.files = locale, variant, asked, files
        self.entry = renderer.library.entry(template)
        self.reported: set[str] = set()  # variables already reported for this message
        self.chain = renderer.library.catalogs.own_chain(locale)

    def add(self, key: str | None, message: str, at: Location | None, level: str = "error") -> None:
        self.found.add(
            self.template,
            key,
            message,
            at=at,
            locales=self.asked,
            variant=self.variant,
            level=level,
        )

    def text_line(self, key: str) -> Location | None:
        return self.renderer.library.catalogs.where(key, self.chain)

    def variable_at(self, path: str, keys: Iterable[str], push: bool = False) -> Location | None:
        fields = self.renderer.library.variables(self.template, push=push)
        kind = self.entry.kind
        if not push:
            at = variable_line(self.files, path, fields, kind)
            if at:
                return at
        for key in keys:
            text = self.renderer.library.catalogs.find(key, self.chain)
            if text and any(p == path for p, _, _ in check_variables_at(text, fields, kind=kind)):
                return self.text_line(key)
        return None

    def run(self, categories: Sequence[str] | None) -> None:
        if self.entry.email:
            self.email()
        if self.entry.push:
            self.push()
        if "category" in self.renderer.library.variables(self.template):
            self.categories(categories)

    def email(self) -> None:
        r = self.renderer
        try:
            compiled = r.compiled_email(self.template, self.locale, self.variant)
        except TemplateInvalid as exc:
            self.invalid(exc)
            return
        fields = r.library.variables(self.template)
        seen: set[str] = set()
        for source in (compiled.subject_source, compiled.preheader_source, compiled.html_source):
            for path, message in check_variables(source, fields, kind=self.entry.kind):
                if path not in seen:
                    seen.add(path)
                    self.reported.add(path)
                    self.add(path, message, self.variable_at(path, compiled.keys))
        for minimal in (False, True):
            self.sample(minimal, compiled.keys)

    def invalid(self, exc: TemplateInvalid) -> None:
        at: Location | None = None
        message = exc.detail
        if message.startswith(("compiled HTML", "email,", "text part", "subject", "preheader")):
            if self.broken_text():
                return  # reported once at its catalog line (see _files)
            hit = syntax_error(self.files)
            if hit:
                at, message = hit[0], f"Jinja syntax error: {hit[1]}"
        elif message.startswith(("MJML line", "mjml-python")):
            message, at = _in_sources(message, exc.key, self.files)
        elif exc.key and message.startswith(("subject", "preheader")):
            at = self.text_line(exc.key)
        else:
            p = located(None, None, message)
            if p.file:
                path = next((f for f in self.files if f.name == p.file), Path(p.file))
                at, message = (path, p.line or 1), p.message
            elif exc.key and "no text" in message:
                at = key_line(self.files, exc.key, self.renderer.picker.namespace(self.template))
        if at is None and self.files:
            at = (self.files[0], 1)
        self.add(exc.key, message, at)

    def broken_text(self) -> bool:
        """Whether a catalog text this message uses is not valid Jinja."""
        r = self.renderer
        t = r.picker.translator(self.template, self.locale, self.variant, probe=True)
        try:
            render_stage1(r.library, r.picker.stage1, t, self.entry.kind)
        except TemplateInvalid:
            return False
        t.raw(".subject")
        t.raw(".preheader")
        catalogs = r.library.catalogs
        return any(syntax(catalogs.find(key, self.chain) or "") for key in t.used)

    def sample(self, minimal: bool, keys: Sequence[str]) -> None:
        r = self.renderer
        context = r.sample_context(self.template, self.locale, minimal=minimal)
        try:
            email = r.email(
                self.template, locale=self.locale, context=context, variant=self.variant
            )
        except RenderError as exc:
            message = _WHERE.sub("", str(exc))
            hit = _MISSING.search(message)
            path = hit.group(1) if hit else None
            if path in self.reported:
                return  # the unknown variable, or the same gap without the optional values
            if path:
                self.reported.add(path)
            without = " without its optional values" if minimal else ""
            at = self.variable_at(path, keys) if path else None
            if path and at is None:
                at = use_line(self.files, path)
            self.add(path, f"rendering the sample{without} failed: {message}", at)
            return
        except TemplateInvalid as exc:
            self.invalid(exc)
            return
        if r.is_marketing(self.template) and not minimal:
            url = context["links"]["unsubscribe"]
            href = re.compile(r"href=(\"|')" + re.escape(str(escape(url))) + r"\1")
            if not href.search(email.html) or url not in email.text:
                self.add(
                    "links.unsubscribe",
                    "a marketing email must link to links.unsubscribe "
                    "(the footer of base.mjml does)",
                    (self.files[0], 1) if self.files else None,
                )

    def push(self) -> None:
        r = self.renderer
        try:
            compiled = r.compiled_push(self.template, self.locale, self.variant)
        except TemplateInvalid as exc:
            self.add(exc.key, exc.detail, self.text_line(exc.key) if exc.key else None)
            return
        fields = r.library.variables(self.template, push=True)
        limits = r.library.push_limits
        context = r.sample_context(self.template, self.locale)
        values = r.values(context, self.locale, self.locale)
        for part, source, t, key in (
            ("title", compiled.title_source, compiled.title, compiled.keys[0]),
            ("body", compiled.body_source, compiled.body, compiled.keys[1]),
        ):
            at = self.text_line(key)
            for path, message in check_variables(source, fields, kind=self.entry.kind):
                self.add(path, f"{message} (in {key})", at)
            try:
                text = " ".join(r.fill(t, values, "push").split())
            except (RenderError, TemplateInvalid) as exc:
                self.add(key, f"rendering the sample failed: {_WHERE.sub('', str(exc))}", at)
                continue
            if len(text) > limits[part]:
                self.add(
                    key,
                    f"push {part} is {len(text)} characters with the sample values; "
                    f"the limit is {limits[part]}",
                    at,
                )

    def categories(self, slugs: Sequence[str] | None) -> None:
        catalogs = self.renderer.library.catalogs
        if slugs is None:
            sample = self.renderer.library.samples.get("context", {}).get("category")
            slugs = [sample] if isinstance(sample, str) else []
        for slug in slugs:
            source = name_of(catalogs, CATEGORIES, slug, self.locale)[1]
            key = f"{CATEGORIES}{slug}"
            at = catalogs.where(key, [catalogs.default]) or catalogs.lines.get(
                catalogs.default, {}
            ).get("categories")
            if source is None:
                self.add(key, f"no catalog names category {slug!r}: the slug is shown", at)
            elif source not in self.chain:
                self.add(
                    key,
                    f"no name for category {slug!r} in these locales: the {source} name is shown",
                    at,
                    level="warning",
                )
