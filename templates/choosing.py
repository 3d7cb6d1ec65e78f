"""Which locale's texts a customer gets for a template: all of one, never a mix.

A template is written in a locale when that locale's own chain (``pt-BR`` -> ``pt``, never
another language) has every text the template needs, including the texts of the variant
being sent (variant b's subject is never replaced by variant a's). A template may also
declare the only locales it is sent in (``locales:`` in templates.yaml). A customer whose
locale the template is not written in gets the whole message in the fallback locale (the
campaign's, else the template's, else the store's default), or is skipped with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2.sandbox import SandboxedEnvironment

from templates.compile import Translator, render_stage1
from templates.errors import TemplateInvalid
from templates.library import Library
from templates.locales import babel_locale, language, normalize


@dataclass(frozen=True)
class LocaleChoice:
    """The answer to "which locale will this customer get for this template"."""

    template: str
    requested: str | None  # the customer's tag, normalised (None if it was not a tag)
    locale: str | None  # the catalog locale of the whole message; None: skip the customer
    format_locale: str | None  # numbers, dates and money (the customer's region if same language)
    reason: str | None = None  # why the customer does not get their own language

    @property
    def skipped(self) -> bool:
        return self.locale is None

    @property
    def fell_back(self) -> bool:
        return self.reason is not None and self.locale is not None


class LocalePicker:
    """The completeness of every template x locale x variant, probed once and cached."""

    def __init__(self, library: Library, stage1: SandboxedEnvironment) -> None:
        self.library = library
        self.catalogs = library.catalogs
        self.stage1 = stage1
        self._missing: dict[tuple[str, str, str | None], tuple[str, ...]] = {}
        self._namespaces: dict[str, str] = {}
        self._variant_keys: dict[str, frozenset[str]] = {}
        self._choices: dict[tuple[object, ...], LocaleChoice] = {}

    def namespace(self, template: str) -> str:
        """Where ``.key`` texts live: the template's own name, or its kind's for a store
        template that has no texts of its own (a new layout of a built-in message)."""
        found = self._namespaces.get(template)
        if found is None:
            kind = self.library.entry(template).kind
            own = kind == template or self.catalogs.has_prefix(f"{template}.")
            found = self._namespaces[template] = template if own else kind
        return found

    def variant_keys(self, variant: str | None) -> frozenset[str]:
        if not variant:
            return frozenset()
        found = self._variant_keys.get(variant)
        if found is None:
            found = self._variant_keys[variant] = self.catalogs.variant_keys(variant)
        return found

    def translator(
        self, template: str, locale: str, variant: str | None, *, probe: bool = False
    ) -> Translator:
        return Translator(
            self.catalogs,
            template=template,
            locale=locale,
            variant=variant,
            namespace=self.namespace(template),
            variant_keys=self.variant_keys(variant),
            probe=probe,
        )

    def missing(self, template: str, locale: str, variant: str | None) -> tuple[str, ...]:
        """Keys the template needs that ``locale``'s own chain lacks (email and push)."""
        key = (template, locale, variant)
        found = self._missing.get(key)
        if found is None:
            entry = self.library.entry(template)
            t = self.translator(template, locale, variant, probe=True)
            if entry.email:
                render_stage1(self.library, self.stage1, t, entry.kind)
                t.raw(".subject")
                t.raw(".preheader")
            if entry.push:
                t.raw(".push.title")
                t.raw(".push.body")
            found = self._missing[key] = tuple(dict.fromkeys(t.misses))
        return found

    def written_in(self, template: str, tag: str) -> list[str]:
        """Catalog locales of ``tag``'s own language the template may use, most specific first."""
        chain = self.catalogs.own_chain(tag)
        declared = self.library.entry(template).locales
        if declared is not None:
            chain = [c for c in chain if c in declared]
        return chain

    def choose(
        self,
        template: str,
        locale: str | None,
        *,
        variant: str | None = None,
        fallback: str | None = None,
        skip: bool | None = None,
    ) -> LocaleChoice:
        key = (template, locale, variant, fallback, skip)
        found = self._choices.get(key)
        if found is None:
            found = self._choices[key] = self._choose(template, locale, variant, fallback, skip)
        return found

    def _choose(
        self,
        template: str,
        locale: str | None,
        variant: str | None,
        fallback: str | None,
        skip: bool | None,
    ) -> LocaleChoice:
        entry = self.library.entry(template)
        tag = normalize(locale)
        reason = None
        if tag is None:
            reason = f"{locale!r} is not a locale tag"
        else:
            candidates = self.written_in(template, tag)
            for candidate in candidates:
                lacking = self.missing(template, candidate, variant)
                if not lacking:
                    return LocaleChoice(template, tag, candidate, _format_tag(tag, candidate))
                shown = ", ".join(lacking[:3]) + (" ..." if len(lacking) > 3 else "")
                reason = f"the {candidate} catalog lacks {shown}"
            if not candidates:
                declared = entry.locales
                reason = (
                    f"the template is sent in {', '.join(declared)} only"
                    if declared is not None
                    else f"no {language(tag)} catalog"
                )
        if skip if skip is not None else entry.missing_locale == "skip":
            return LocaleChoice(template, tag, None, None, reason)
        target = normalize(fallback) or entry.fallback or self.catalogs.default
        if fallback is None and entry.fallback is None and entry.locales:
            target = target if target in entry.locales else entry.locales[0]
        if target not in self.catalogs.texts and target not in self.catalogs.broken:
            raise TemplateInvalid(
                f"fallback locale {target} has no catalog; have: "
                f"{', '.join(self.catalogs.locales())}",
                template=template,
                key="fallback",
            )
        lacking = self.missing(template, target, variant)
        if lacking:
            raise TemplateInvalid(
                f"no text for this key in the fallback locale {target}",
                template=template,
                locale=target,
                key=lacking[0],
            )
        return LocaleChoice(template, tag, target, target, reason)


def _format_tag(requested: str, chosen: str) -> str:
    """Numbers and dates follow the customer's own region when the language is the same."""
    if language(requested) == language(chosen) and babel_locale(requested) is not None:
        return requested
    return chosen
