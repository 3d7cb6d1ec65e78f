"""The renderer campaigns and surveys call: one email or push per recipient.

    renderer = Renderer(directory=store_templates, brand=brand_file)
    email = renderer.email("winback", locale="pt-BR", context=context, variant="b")
    message = email.to_mime(sender=..., to=..., headers={"List-Unsubscribe": ...})
    raw = email.wire(sender=..., to=..., headers=...)  # the same, as bytes, fast

The first message of a template x locale x variant compiles it (MJML once, tens of
milliseconds); every further one only fills in the recipient's values. A problem with
one recipient's values raises :class:`RenderError` (record it, go on with the batch); a
problem with the template itself raises :class:`TemplateInvalid`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Template
from jinja2.exceptions import SecurityError, UndefinedError

from templates.choosing import LocaleChoice, LocalePicker
from templates.compile import (
    CompiledEmail,
    CompiledPush,
    compile_email,
    compile_push,
    stage1_environment,
)
from templates.context import node, wrap_context
from templates.errors import LocaleSkipped, RenderError, TemplateInvalid
from templates.formatting import LOCALE_VAR
from templates.library import Library
from templates.localize import localized
from templates.mime import check_header, transfer_encoding, wire_bytes
from templates.plaintext import tidy

__all__ = [
    "LocaleChoice",
    "LocaleSkipped",
    "RenderError",
    "RenderedEmail",
    "RenderedPush",
    "Renderer",
    "TemplateInvalid",
]


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str
    locale: str
    direction: str  # "ltr" or "rtl"

    def to_mime(
        self, *, sender: str, to: str, headers: Mapping[str, str] | None = None
    ) -> EmailMessage:
        """multipart/alternative (text, then HTML) with Subject, From, To, Content-Language.

        ``headers`` (List-Unsubscribe, List-Unsubscribe-Post, ...) are added last and
        replace a header of the same name (Message-ID or Date, for instance).
        """
        for name, value in (("From", sender), ("To", to), *(headers or {}).items()):
            check_header(name, value)
        msg = EmailMessage()
        # The content first: setting it clears Content-* headers such as Content-Language.
        msg.set_content(self.text, charset="utf-8", cte=transfer_encoding(self.text))
        msg.add_alternative(
            self.html, subtype="html", charset="utf-8", cte=transfer_encoding(self.html)
        )
        msg["Subject"] = self.subject
        msg["From"] = sender
        msg["To"] = to
        msg["Date"] = formatdate(usegmt=True)
        domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
        msg["Message-ID"] = make_msgid(domain=domain)
        msg["Content-Language"] = self.locale
        for name, value in (headers or {}).items():
            del msg[name]
            msg[name] = value
        return msg

    def wire(self, *, sender: str, to: str, headers: Mapping[str, str] | None = None) -> bytes:
        """The same message as bytes for a provider, written directly (see templates.mime)."""
        return wire_bytes(self, sender=sender, to=to, headers=headers)


@dataclass(frozen=True)
class RenderedPush:
    title: str
    body: str
    deep_link: str
    locale: str


def _names_fit_headers(context: Mapping[str, object], where: str) -> None:
    """The customer's names go into the ``To`` header after rendering: refuse a line break
    now, while the failure is still this recipient's alone."""
    customer = context.get("customer")
    if isinstance(customer, Mapping):
        for key in ("first_name", "last_name"):
            value = customer.get(key)
            if isinstance(value, str):
                try:
                    check_header(f"customer.{key}", value)
                except RenderError as exc:
                    raise RenderError(f"{where}: {exc}") from None


def fit(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, cut at a word with an ellipsis if needed."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-–—") + "…"


class Renderer:
    """Templates, catalogs and brand of one store, with compiled templates cached."""

    def __init__(
        self,
        *,
        directory: Path | None = None,
        brand: Path | None = None,
        default_locale: str = "en",
    ) -> None:
        self.library = Library.load(directory=directory, brand=brand, default_locale=default_locale)
        self.default_locale = self.library.catalogs.default
        self._stage1 = stage1_environment(self.library.email_dirs)
        self._store = self.library.store()
        self._store_node = node(self._store, "store")
        self._emails: dict[tuple[str, str, str | None], CompiledEmail] = {}
        self._pushes: dict[tuple[str, str, str | None], CompiledPush] = {}
        self._resolved: dict[str | None, str] = {}
        self.picker = LocalePicker(self.library, self._stage1)
        self._variants: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    # -- what there is -------------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self.library.templates)

    def kind(self, template: str) -> str:
        return self.library.entry(template).kind

    def channels(self, template: str) -> list[str]:
        entry = self.library.entry(template)
        return [c for c, on in (("email", entry.email), ("push", entry.push)) if on]

    def is_marketing(self, template: str) -> bool:
        return self.library.kinds[self.kind(template)].marketing

    def locales(self) -> list[str]:
        return self.library.catalogs.locales()

    def variants(self, template: str) -> list[str]:
        """Variants with texts of their own; any other variant name gets the base texts."""
        return sorted(self._variant_set(template))

    def _variant_set(self, template: str) -> frozenset[str]:
        found = self._variants.get(template)
        if found is None:
            found = frozenset(self.library.catalogs.variants(self.picker.namespace(template)))
            self._variants[template] = found
        return found

    def resolve_locale(self, locale: str | None) -> str:
        """The catalog a customer's locale uses: ``pt-BR`` -> ``pt-BR``, ``pt``, or the default."""
        found = self._resolved.get(locale)
        if found is None:
            found = self.library.catalogs.chain(locale)[0]
            self._resolved[locale] = found
        return found

    def locale_for(
        self,
        template: str,
        locale: str | None,
        *,
        variant: str | None = None,
        fallback: str | None = None,
        skip: bool | None = None,
    ) -> LocaleChoice:
        """The locale whose texts the whole message is written in, or None and the reason.

        ``fallback`` (a campaign's) replaces the template's fallback locale; ``skip`` True
        or False overrides the template's ``missing_locale`` setting. Raises
        :class:`TemplateInvalid` when even the fallback locale lacks a text.
        """
        own = variant if variant in self._variant_set(template) else None
        return self.picker.choose(template, locale, variant=own, fallback=fallback, skip=skip)

    def _chosen(
        self,
        template: str,
        locale: str | None,
        variant: str | None,
        fallback: str | None,
        skip: bool | None,
    ) -> LocaleChoice:
        choice = self.locale_for(template, locale, variant=variant, fallback=fallback, skip=skip)
        if choice.locale is None:
            raise LocaleSkipped(choice.reason or "skipped", template=template, locale=locale)
        return choice

    # -- compiling -------------------------------------------------------------------------

    def compiled_email(
        self,
        template: str,
        locale: str | None,
        variant: str | None = None,
        *,
        fallback: str | None = None,
        skip: bool | None = None,
    ) -> CompiledEmail:
        resolved = self._chosen(template, locale, variant, fallback, skip).locale
        assert resolved is not None
        own = variant if variant in self._variant_set(template) else None
        key = (template, resolved, own)
        found = self._emails.get(key)
        if found is None:
            with self._lock:
                found = self._emails.get(key)
                if found is None:
                    translator = self.picker.translator(template, resolved, own)
                    found = compile_email(self.library, self._stage1, translator)
                    self._emails[key] = found
        return found

    def compiled_push(
        self,
        template: str,
        locale: str | None,
        variant: str | None = None,
        *,
        fallback: str | None = None,
        skip: bool | None = None,
    ) -> CompiledPush:
        resolved = self._chosen(template, locale, variant, fallback, skip).locale
        assert resolved is not None
        own = variant if variant in self._variant_set(template) else None
        key = (template, resolved, own)
        found = self._pushes.get(key)
        if found is None:
            found = compile_push(self.library, self.picker.translator(template, resolved, own))
            self._pushes[key] = found
        return found

    # -- rendering -------------------------------------------------------------------------

    def values(
        self, context: Mapping[str, Any], fmt: str, locale: str | None = None
    ) -> dict[str, Any]:
        """The render variables: the context wrapped (category and product names in
        ``locale``'s words when its catalogs have them), ``store`` from the brand, the
        locale of numbers and dates."""
        if locale is not None:
            context = localized(self.library.catalogs, context, locale)
        values = wrap_context(context)
        own = context.get("store")
        if isinstance(own, Mapping):
            values["store"] = node({**self._store, **own}, "store")
        else:
            values["store"] = self._store_node
        values[LOCALE_VAR] = fmt
        return values

    def fill(self, t: Template, values: dict[str, Any], where: str) -> str:
        """Render one compiled part; every failure becomes RenderError (or TemplateInvalid)."""
        try:
            return t.render(values)
        except UndefinedError as exc:
            raise RenderError(f"{where}: {exc.message}") from None
        except RenderError as exc:
            raise RenderError(f"{where}: {exc}") from None
        except SecurityError as exc:
            raise TemplateInvalid(f"not allowed in a template: {exc}") from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            raise RenderError(f"{where}: {type(exc).__name__} while filling in values") from None

    def email(
        self,
        template: str,
        *,
        locale: str | None,
        context: Mapping[str, Any],
        variant: str | None = None,
        fallback: str | None = None,
        skip: bool | None = None,
    ) -> RenderedEmail:
        """One recipient's email; every text in one locale (see :meth:`locale_for`).

        Raises :class:`LocaleSkipped` (a RenderError) for a customer the template skips."""
        choice = self._chosen(template, locale, variant, fallback, skip)
        compiled = self.compiled_email(template, locale, variant, fallback=fallback, skip=skip)
        where = f"{template} [{compiled.locale}]"
        _names_fit_headers(context, where)
        values = self.values(context, choice.format_locale or compiled.locale, compiled.locale)
        whole = self.fill(compiled.whole, values, where)
        html, text, subject, preheader = whole.split(compiled.separator)
        return RenderedEmail(
            subject=" ".join(subject.split()),
            preheader=" ".join(preheader.split()),
            html=html,
            text=tidy(text),
            locale=compiled.locale,
            direction=compiled.direction,
        )

    def push(
        self,
        template: str,
        *,
        locale: str | None,
        context: Mapping[str, Any],
        variant: str | None = None,
        fallback: str | None = None,
        skip: bool | None = None,
    ) -> RenderedPush:
        choice = self._chosen(template, locale, variant, fallback, skip)
        compiled = self.compiled_push(template, locale, variant, fallback=fallback, skip=skip)
        values = self.values(context, choice.format_locale or compiled.locale, compiled.locale)
        where = f"{template} [{compiled.locale}] push"
        deep_link = context.get("deep_link")
        if not isinstance(deep_link, str) or not deep_link.strip():
            raise RenderError(f"{where}: missing value: deep_link")
        limits = self.library.push_limits
        return RenderedPush(
            title=fit(self.fill(compiled.title, values, where), limits["title"]),
            body=fit(self.fill(compiled.body, values, where), limits["body"]),
            deep_link=deep_link.strip(),
            locale=compiled.locale,
        )

    def sample_context(self, template: str, locale: str, *, minimal: bool = False) -> dict:
        """The sample values previews and validation use (see samples.yaml)."""
        return self.library.sample_context(template, self.resolve_locale(locale), minimal=minimal)
