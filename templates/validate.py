"""Checks before anything is sent: every template, in every locale, with every variant.

Each problem is reported once, at the ``.mjml`` or catalog file and line to edit, with the
locales and variants it affects (a missing text is one problem, not one per locale x
variant). Errors:

- MJML that mjml-python refuses, unknown element names and misplaced elements, and Jinja
  syntax errors (at the ``.mjml`` line, not the compiled HTML's);
- a text a locale's catalogs lack although the template is (partly) written in it, or
  declares it in ``locales:`` (its customers get the whole message in the fallback);
- a variable a template uses that its kind does not provide (kinds.yaml), found in the
  code and by rendering the sample values with and without the optional ones;
- a push title or body over its limit; a marketing email without links.unsubscribe;
- a category slug no catalog names (the slug itself would be shown).

Warnings: locales a template is not written in at all, keys the default catalog does not
have, category names taken from the default language.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from templates.checks import MessageCheck, syntax
from templates.errors import RenderError, TemplateInvalid
from templates.locate import key_line, mjml_files, syntax_error
from templates.mjml_check import check_elements
from templates.problems import BASE, Problem, Problems, errors, located
from templates.render import Renderer
from templates.variables import check_variables


def validate_folder(
    *, directory: Path | None = None, brand: Path | None = None, default_locale: str = "en"
) -> list[Problem]:
    """Validate a store's templates; a folder that does not even load is one problem."""
    try:
        renderer = Renderer(directory=directory, brand=brand, default_locale=default_locale)
    except TemplateInvalid as exc:
        return [located(exc.template, exc.key, exc.detail)]
    return validate(renderer)


def validate(renderer: Renderer, *, templates: Iterable[str] | None = None) -> list[Problem]:
    """Files and catalogs, then every template in every catalog locale and variant."""
    found = Problems()
    _files(renderer, found)
    names = list(templates) if templates is not None else renderer.names()
    for template in names:
        variants = [None, *renderer.variants(template)]
        _template(renderer, found, template, renderer.locales(), variants, None)
    return found.result()


def validate_for(
    renderer: Renderer,
    template: str,
    locales: Sequence[str],
    variants: Sequence[str | None],
    *,
    categories: Sequence[str] | None = None,
    fallback: str | None = None,
    skip: bool | None = None,
) -> list[Problem]:
    """One template for the customers' locales and the variants a campaign sends, with
    the sample values (and ``categories``, the category slugs its data may carry)."""
    found = Problems()
    _template(renderer, found, template, locales, variants, categories, fallback, skip)
    return found.result()


# -- files and catalogs ---------------------------------------------------------------


def _files(renderer: Renderer, found: Problems) -> None:
    library = renderer.library
    catalogs = library.catalogs
    for name, path in library.sources.items():
        for p in check_elements(path.read_text(encoding="utf-8")):
            found.add(name, p.element, p.message, at=(path, p.line))
    for exc in catalogs.errors:
        broken = located(None, None, exc.detail)
        at = (Path(broken.file), broken.line or 1) if broken.file else None
        found.add(None, None, broken.message, at=at, locales=[exc.locale] if exc.locale else [])
    reference = set(catalogs.texts.get(catalogs.default, {}))
    for locale in catalogs.locales() if reference else []:
        for key in sorted(set(catalogs.texts[locale]) - reference):
            head = key.split("@", 1)[0]
            if head in reference or (key.startswith("categories.") and "-" in locale):
                continue  # a variant's text, or a regional name for a category
            found.add(
                None,
                key,
                f"not in the {catalogs.default} catalog: a typo, or a text no template uses",
                at=catalogs.lines.get(locale, {}).get(key),
                locales=[locale],
                level="warning",
            )
    for locale, texts in catalogs.texts.items():
        for key, text in texts.items():
            problem = syntax(text)
            if problem:
                at = catalogs.lines.get(locale, {}).get(key)
                found.add(None, key, f"Jinja syntax error: {problem}", at=at, locales=[locale])
    for name, entry in library.templates.items():
        for tag in entry.locales or ():
            if not catalogs.own_chain(tag):
                found.add(name, "locales", f"declares {tag}, which has no catalog")


# -- one template ---------------------------------------------------------------------


def _template(
    renderer: Renderer,
    found: Problems,
    template: str,
    locales: Sequence[str],
    variants: Sequence[str | None],
    categories: Sequence[str] | None,
    fallback: str | None = None,
    skip: bool | None = None,
) -> None:
    library = renderer.library
    files = mjml_files(library, template) if library.entry(template).email else []
    namespace = renderer.picker.namespace(template)
    broken = syntax_error(files)  # reported even when nothing else of the template compiles
    if broken:
        found.add(template, None, f"Jinja syntax error: {broken[1]}", at=broken[0], locales=locales)
    for variant in dict.fromkeys(variants):
        groups: dict[str, list[str]] = {}
        for locale in locales:
            try:
                choice = renderer.locale_for(
                    template, locale, variant=variant, fallback=fallback, skip=skip
                )
            except TemplateInvalid as exc:
                found.add(
                    template,
                    exc.key,
                    exc.detail,
                    at=key_line(files, exc.key, namespace) if exc.key else None,
                    locales=[locale],
                    variant=variant,
                )
                continue
            except RenderError as exc:
                found.add(template, None, str(exc), locales=[locale], variant=variant)
                continue
            if choice.reason:
                _gap(renderer, found, template, locale, variant, choice.locale, files)
            if choice.locale:
                groups.setdefault(choice.locale, []).append(locale)
        for chosen, asked in groups.items():
            check = MessageCheck(renderer, found, template, chosen, variant, asked, files)
            check.run(categories)


def _gap(
    renderer: Renderer,
    found: Problems,
    template: str,
    locale: str,
    variant: str | None,
    chosen: str | None,
    files: list[Path],
) -> None:
    """A locale the template is not (fully) written in: the texts it lacks, once each."""
    picker, catalogs = renderer.picker, renderer.library.catalogs
    namespace = picker.namespace(template)
    declared = renderer.library.entry(template).locales
    outcome = f"get the whole message in {chosen}" if chosen else "are skipped"
    for candidate in picker.written_in(template, locale):
        own = catalogs.own_chain(candidate)
        partial = any(k.startswith(f"{namespace}.") for c in own for k in catalogs.texts.get(c, {}))
        if not partial and declared is None:
            found.add(
                template,
                None,
                f"not written in these locales: their customers {outcome}",
                at=(files[0], 1) if files else None,
                locales=[locale],
                variant=variant,
                level="warning",
            )
            continue
        for key in picker.missing(template, candidate, variant):
            home = namespace if key.startswith(f"{namespace}.") else None
            at = catalogs.where(key, [catalogs.default]) or key_line(files, key, namespace)
            found.add(
                template if home else None,
                key,
                f"no text in these locales' catalogs: their customers {outcome}",
                at=at,
                locales=[locale],
                variant=variant,
            )
    if not picker.written_in(template, locale) and chosen is None:
        found.add(template, None, "no catalog: customers are skipped", locales=[locale])


__all__ = [
    "BASE",
    "Problem",
    "check_variables",
    "errors",
    "validate",
    "validate_folder",
    "validate_for",
]
