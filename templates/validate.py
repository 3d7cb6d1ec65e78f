"""Checks before anything is sent: every template, in every locale, with every variant.

Each problem names the template, the locale and the key (catalog key, MJML element or
variable). Errors:

- MJML that mjml-python refuses, and what it lets through silently: unknown element
  names and elements in the wrong place;
- a catalog key missing for a locale (the default language's text would be used);
- a variable a template uses that its kind does not provide (kinds.yaml), found in the
  template code (``templates.variables``), and again by rendering with sample values
  (with and without the optional ones, so an unguarded optional value shows up);
- a push title or body over its limit with the sample values;
- a marketing template whose email does not link to ``links.unsubscribe``.

Warnings (listed, not failing): keys a locale has that the default catalog does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from markupsafe import escape

from templates.errors import RenderError, TemplateInvalid
from templates.mjml_check import check_elements
from templates.render import Renderer
from templates.variables import check_variables

_MISSING = re.compile(r"missing value: ([\w.\[\]]+)")


@dataclass(frozen=True)
class Problem:
    template: str | None
    locale: str | None
    key: str | None
    message: str
    level: str = "error"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = " ".join(
            p
            for p in (
                self.template or "",
                f"[{self.locale}]" if self.locale else "",
                self.key or "",
            )
            if p
        )
        return f"{where}: {self.message}" if where else self.message


def validate_folder(
    *, directory: Path | None = None, brand: Path | None = None, default_locale: str = "en"
) -> list[Problem]:
    """Validate a store's templates; a folder that does not even load is one problem."""
    try:
        renderer = Renderer(directory=directory, brand=brand, default_locale=default_locale)
    except TemplateInvalid as exc:
        return [Problem(exc.template, exc.locale, exc.key, exc.detail)]
    return validate(renderer)


def validate(renderer: Renderer, *, templates: Iterable[str] | None = None) -> list[Problem]:
    problems: list[Problem] = []
    names = list(templates) if templates is not None else renderer.names()
    problems += _element_names(renderer)
    problems += _catalog_keys(renderer)
    for template in names:
        for locale in renderer.locales():
            for variant in [None, *renderer.variants(template)]:
                problems += _template(renderer, template, locale, variant)
    unique = list(dict.fromkeys(problems))  # each problem once, in the order found
    return sorted(unique, key=lambda p: (p.level, p.template or "", p.locale or "", p.key or ""))


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.level == "error"]


# -- files and catalogs ---------------------------------------------------------------


def _element_names(renderer: Renderer) -> list[Problem]:
    out: list[Problem] = []
    for name, path in renderer.library.sources.items():
        for p in check_elements(path.read_text(encoding="utf-8")):
            out.append(Problem(name, None, p.element, f"{path.name}:{p.line}: {p.message}"))
    return out


def _catalog_keys(renderer: Renderer) -> list[Problem]:
    catalogs = renderer.library.catalogs
    default = catalogs.default
    out = [Problem(None, exc.locale, None, exc.detail) for exc in catalogs.errors]
    reference = set(catalogs.texts.get(default, {}))  # empty if broken: nothing to compare
    for locale in catalogs.locales() if reference else []:
        if locale == default:
            continue
        own = catalogs.own_chain(locale)
        have = set().union(*(catalogs.texts.get(c, {}) for c in own))
        for key in sorted(reference - have):
            out.append(
                Problem(
                    _template_of(key, renderer),
                    locale,
                    key,
                    f"missing from the {locale} catalog (the {default} text would be sent)",
                )
            )
        for key in sorted(set(catalogs.texts[locale]) - reference):
            out.append(
                Problem(
                    _template_of(key, renderer),
                    locale,
                    key,
                    f"not in the {default} catalog: a typo, or a text no template uses",
                    level="warning",
                )
            )
    return out


def _template_of(key: str, renderer: Renderer) -> str | None:
    head = key.split(".", 1)[0]
    return head if head in renderer.library.templates else None


# -- one template x locale x variant ----------------------------------------------------


def _template(renderer: Renderer, template: str, locale: str, variant: str | None) -> list[Problem]:
    out: list[Problem] = []
    entry = renderer.library.entry(template)
    label = f"{locale}@{variant}" if variant else locale

    def problem(key: str | None, message: str) -> None:
        out.append(Problem(template, label, key, message))

    if entry.email:
        try:
            compiled = renderer.compiled_email(template, locale, variant)
        except TemplateInvalid as exc:
            problem(exc.key, exc.detail)
        else:
            for key in compiled.misses:
                problem(key, f"missing from the {locale} catalog")
            fields = renderer.library.variables(template)
            sources = {  # the HTML holds subject and preheader too: name them first
                f"{template}.subject": compiled.subject_source,
                f"{template}.preheader": compiled.preheader_source,
                "HTML": compiled.html_source,
            }
            found: dict[str, str] = {}
            for what, source in sources.items():
                for key, message in check_variables(source, fields, kind=entry.kind):
                    found.setdefault(key, f"{message} (in {what})" if what != "HTML" else message)
            for key, message in found.items():
                problem(key, message)
            out += _render_samples(renderer, template, locale, variant, label)
    if entry.push:
        out += _push(renderer, template, locale, variant, label)
    return out


def _render_samples(
    renderer: Renderer, template: str, locale: str, variant: str | None, label: str
) -> list[Problem]:
    out: list[Problem] = []
    for minimal in (False, True):
        context = renderer.sample_context(template, locale, minimal=minimal)
        try:
            email = renderer.email(template, locale=locale, context=context, variant=variant)
        except RenderError as exc:
            found = _MISSING.search(str(exc))
            without = " without its optional values" if minimal else ""
            out.append(
                Problem(
                    template,
                    label,
                    found.group(1) if found else None,
                    f"rendering the sample{without} failed: {exc}",
                )
            )
            continue
        except TemplateInvalid as exc:
            out.append(Problem(template, label, exc.key, exc.detail))
            continue
        if renderer.is_marketing(template) and not minimal:
            url = context["links"]["unsubscribe"]
            href = re.compile(r"href=(\"|')" + re.escape(str(escape(url))) + r"\1")
            if not href.search(email.html) or url not in email.text:
                out.append(
                    Problem(
                        template,
                        label,
                        "links.unsubscribe",
                        "a marketing email must link to links.unsubscribe "
                        "(the footer of base.mjml does)",
                    )
                )
    return out


def _push(
    renderer: Renderer, template: str, locale: str, variant: str | None, label: str
) -> list[Problem]:
    out: list[Problem] = []
    try:
        compiled = renderer.compiled_push(template, locale, variant)
    except TemplateInvalid as exc:
        return [Problem(template, label, exc.key, exc.detail)]
    for key in compiled.misses:
        out.append(Problem(template, label, key, f"missing from the {locale} catalog"))
    kind = renderer.kind(template)
    fields = renderer.library.variables(template, push=True)
    limits = renderer.library.push_limits
    context = renderer.sample_context(template, locale)
    values = renderer.values(context, renderer.resolve_locale(locale))
    for part, source, t in (
        ("title", compiled.title_source, compiled.title),
        ("body", compiled.body_source, compiled.body),
    ):
        key = f"{template}.push.{part}"
        for path, message in check_variables(source, fields, kind=kind):
            out.append(Problem(template, label, path, f"{message} (in {key})"))
        try:
            text = " ".join(renderer.fill(t, values, f"{template} [{locale}] push").split())
        except (RenderError, TemplateInvalid) as exc:
            out.append(Problem(template, label, key, f"rendering the sample failed: {exc}"))
            continue
        if len(text) > limits[part]:
            out.append(
                Problem(
                    template,
                    label,
                    key,
                    f"push {part} is {len(text)} characters with the sample values; "
                    f"the limit is {limits[part]}",
                )
            )
    return out


__all__ = ["Problem", "check_variables", "errors", "validate", "validate_folder"]
