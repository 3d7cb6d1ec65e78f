"""Compiling a template for one locale and variant, once; rendering it is then cheap.

Two Jinja stages with different delimiters:

1. ``[[ _(".heading") ]]``, ``[% extends "base.mjml" %]``, ``[[ brand.colours.primary ]]``:
   catalog texts, layout and brand go into the MJML, which mjml-python turns into HTML.
2. ``{{ customer.first_name }}``, ``{% for p in products %}``, ``{{ p.price|money(p.currency) }}``:
   per-recipient values, left untouched by stage 1 and mjml-python, rendered per message
   in a sandbox with HTML autoescaping. Catalog texts may hold stage-2 expressions
   (``Hello {{ customer.first_name }},``).

The plain-text part is a stage-2 template derived from the compiled HTML, so both parts
say the same thing.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateNotFound
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing
from markupsafe import Markup, escape
from mjml import mjml2html

from templates.catalogs import Catalogs
from templates.context import Missing, Node, node, present
from templates.errors import RenderError, TemplateInvalid
from templates.formatting import FILTERS
from templates.library import Library
from templates.locales import direction, language
from templates.mjml_check import check_document, position_to_line
from templates.plaintext import to_text_template

T = TypeVar("T")
_JINJA = re.compile(r"(\{\{.*?\}\}|\{%.*?%\})", re.DOTALL)
_POSITION = re.compile(r"position (\d+):(\d+)")


def _finalize(value: T) -> T:
    if value is None:
        raise RenderError("a value printed in the message is None")
    return value


class _Sandbox(SandboxedEnvironment):
    """The sandbox, with a fast path for the context's own mappings.

    ``customer.first_name`` on a :class:`Node` is an item lookup: trying the attribute
    first (and failing) costs an exception per lookup, dozens per message. A Node holds
    only the context's values, so nothing unsafe is reached this way.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is Node:
            found = dict.get(obj, attribute, missing)
            if found is not missing:
                return found
        return super().getattr(obj, attribute)


def _stage2(*, autoescape: bool) -> SandboxedEnvironment:
    env = _Sandbox(autoescape=autoescape, undefined=Missing, finalize=_finalize)
    env.filters.update(FILTERS)
    env.tests["present"] = present
    return env


HTML_ENV = _stage2(autoescape=True)
TEXT_ENV = _stage2(autoescape=False)


def stage1_environment(email_dirs: list[Path]) -> SandboxedEnvironment:
    """Stage 1: ``[% %]`` and ``[[ ]]``, templates found in the store's folder first."""
    return SandboxedEnvironment(
        loader=FileSystemLoader([str(d) for d in email_dirs if d.is_dir()]),
        block_start_string="[%",
        block_end_string="%]",
        variable_start_string="[[",
        variable_end_string="]]",
        comment_start_string="[#",
        comment_end_string="#]",
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def escape_text(text: str) -> Markup:
    """HTML-escape a catalog text, leaving its stage-2 expressions as written."""
    parts = _JINJA.split(text)
    return Markup("".join(p if i % 2 else str(escape(p)) for i, p in enumerate(parts)))


class Translator:
    """``_(key)`` in stage 1: the text of one template in one locale's own chain.

    The locale was chosen as one that has every text the template needs (see
    ``templates.choosing``), so a key is never borrowed from another language or from
    another template: one message, one language, one template's texts. ``probe`` records
    a missing key instead of failing, which is how that choice finds out.
    """

    def __init__(
        self,
        catalogs: Catalogs,
        *,
        template: str,
        locale: str,
        variant: str | None,
        namespace: str | None = None,
        variant_keys: frozenset[str] = frozenset(),
        probe: bool = False,
    ) -> None:
        self.catalogs = catalogs
        self.template = template
        self.namespace = namespace or template
        self.locale = locale
        self.variant = variant
        self.variant_keys = variant_keys if variant else frozenset()
        self.chain = catalogs.own_chain(locale)
        self.probe = probe
        self.used: list[str] = []
        self.misses: list[str] = []
        catalogs.require(self.chain, template)

    def name(self, key: str) -> str:
        """``.heading`` is relative to the template's texts (its kind's, for a store template
        without texts of its own); the text a variant needs carries ``@variant``."""
        full = f"{self.namespace}{key}" if key.startswith(".") else key
        return f"{full}@{self.variant}" if full in self.variant_keys else full

    def raw(self, key: str) -> str:
        name = self.name(key)
        if name not in self.used:
            self.used.append(name)
        for locale in self.chain:
            text = self.catalogs.texts[locale].get(name)
            if text is not None:
                return text
        if self.probe:
            self.misses.append(name)
            return ""
        raise TemplateInvalid(
            f"no text for this key in the {self.locale} catalog",
            template=self.template,
            locale=self.locale,
            key=name,
        )

    def __call__(self, key: str) -> Markup:
        return escape_text(self.raw(key))

    def runtime_texts(self) -> Node:
        """Texts chosen at send time (feedback choice labels), as ``texts["key"]``."""
        texts = self.catalogs.section("common.", self.chain)
        texts.update(self.catalogs.section(f"{self.namespace}.", self.chain))
        return node(texts, "texts")


@dataclass(frozen=True)
class CompiledEmail:
    template: str
    locale: str
    variant: str | None
    direction: str
    whole: Template  # HTML, text, subject and preheader, split by ``separator``
    separator: str
    mjml: str
    html_source: str
    text_source: str
    subject_source: str
    preheader_source: str
    keys: tuple[str, ...] = ()  # every catalog key the message uses


@dataclass(frozen=True)
class CompiledPush:
    template: str
    locale: str
    variant: str | None
    title: Template
    body: Template
    title_source: str
    body_source: str
    keys: tuple[str, ...] = ()


def _stage2_template(env: SandboxedEnvironment, source: str, what: str, **where: Any) -> Template:
    try:
        return env.from_string(source, globals=where.pop("globals", None))
    except TemplateSyntaxError as exc:
        lines = source.splitlines()
        line = lines[exc.lineno - 1].strip() if 0 < exc.lineno <= len(lines) else ""
        snippet = f": {line[:120]}" if line else ""
        raise TemplateInvalid(
            f"{what}, line {exc.lineno}: {exc.message}{snippet}", **where
        ) from None


def _stage1_values(library: Library, translator: Translator, kind: str) -> dict[str, Any]:
    locale = translator.locale
    rtl = direction(locale) == "rtl"
    fonts = library.brand.get("fonts") or {}
    return {
        "_": translator,
        "lang": locale,
        "dir": "rtl" if rtl else "ltr",
        "start": "right" if rtl else "left",
        "end": "left" if rtl else "right",
        "brand": library.brand,
        "font_family": Markup(fonts.get(locale) or fonts.get(language(locale)) or fonts["default"]),
        "template": translator.template,
        "kind": kind,
        "marketing": library.kinds[kind].marketing,
        "variant": translator.variant,
    }


def render_stage1(
    library: Library, stage1: SandboxedEnvironment, translator: Translator, kind: str
) -> str:
    """The MJML of one template in one locale (catalog texts, layout and brand filled in)."""
    template = translator.template
    where = {"template": template, "locale": translator.locale}
    values = _stage1_values(library, translator, kind)
    try:
        return stage1.get_template(f"{template}.mjml").render(values)
    except TemplateNotFound as exc:
        raise TemplateInvalid(f"template file {exc.name} not found", **where) from None
    except TemplateSyntaxError as exc:
        name = Path(exc.filename or exc.name or template).name
        raise TemplateInvalid(f"{name}:{exc.lineno}: {exc.message}", **where) from None
    except UndefinedError as exc:
        raise TemplateInvalid(f"{template}.mjml: {exc.message}", **where) from None
    except SecurityError as exc:
        raise TemplateInvalid(f"{template}.mjml: {exc}", **where) from None


def compile_email(
    library: Library, stage1: SandboxedEnvironment, translator: Translator
) -> CompiledEmail:
    """Template x locale x variant -> the stage-2 templates of the email's parts."""
    template, locale, variant = translator.template, translator.locale, translator.variant
    entry = library.entry(template)
    where = {"template": template, "locale": locale}
    if not entry.email:
        raise TemplateInvalid("this template has no email", **where)
    mjml = render_stage1(library, stage1, translator, entry.kind)
    values = _stage1_values(library, translator, entry.kind)
    problems = check_document(mjml)
    if problems:
        p = problems[0]
        raise TemplateInvalid(f"MJML line {p.line}: {p.message}", key=p.element, **where)
    try:
        html = mjml2html(mjml, disable_comments=True, fonts={})
    except ValueError as exc:
        message = str(exc)
        found = _POSITION.search(message)
        if found:
            line = position_to_line(mjml, int(found.group(1)))
            text = mjml.splitlines()[line - 1].strip()[:120] if mjml else ""
            message = f"{message} (MJML line {line}: {text})"
        raise TemplateInvalid(f"mjml-python: {message}", **where) from None

    # Each part is compiled on its own first, so a mistake is reported against its part.
    globals_ = {"texts": translator.runtime_texts()}
    text_source = to_text_template(html)
    subject_source = translator.raw(".subject")
    preheader_source = translator.raw(".preheader")
    _stage2_template(HTML_ENV, html, "compiled HTML", **where)
    _stage2_template(TEXT_ENV, text_source, "text part", **where)
    _stage2_template(TEXT_ENV, subject_source, "subject", key=translator.name(".subject"), **where)
    _stage2_template(
        TEXT_ENV, preheader_source, "preheader", key=translator.name(".preheader"), **where
    )
    # Then all four as one template: one render per message instead of four. The text
    # parts sit in an autoescape-free block; a random separator cannot come from a value.
    separator = f"\x1e{secrets.token_hex(8)}\x1e"
    combined = "".join(
        [
            html,
            "{% autoescape false %}",
            separator,
            text_source,
            separator,
            subject_source,
            separator,
            preheader_source,
            "{% endautoescape %}",
        ]
    )
    whole = _stage2_template(HTML_ENV, combined, "email", globals=globals_, **where)
    return CompiledEmail(
        template=template,
        locale=locale,
        variant=variant,
        direction=values["dir"],
        whole=whole,
        separator=separator,
        mjml=mjml,
        html_source=html,
        text_source=text_source,
        subject_source=subject_source,
        preheader_source=preheader_source,
        keys=tuple(translator.used),
    )


def compile_push(library: Library, translator: Translator) -> CompiledPush:
    template, locale, variant = translator.template, translator.locale, translator.variant
    entry = library.entry(template)
    where = {"template": template, "locale": locale}
    if not entry.push:
        raise TemplateInvalid("this template has no push text", **where)
    title = translator.raw(".push.title")
    body = translator.raw(".push.body")
    return CompiledPush(
        template=template,
        locale=locale,
        variant=variant,
        title=_stage2_template(
            TEXT_ENV, title, "push title", key=translator.name(".push.title"), **where
        ),
        body=_stage2_template(
            TEXT_ENV, body, "push body", key=translator.name(".push.body"), **where
        ),
        title_source=title,
        body_source=body,
        keys=tuple(translator.used),
    )
