"""Message catalogs: one YAML file per locale, flattened to dotted keys.

    newsletter:
      subject: "What is new at {{ store.name }}"
      subject@b: "Fresh picks for you, {{ customer.first_name }}"   # variant b

A key is looked up along a locale's own chain (``pt-BR`` -> ``pt``); which locale a
message is written in is decided for the whole message (``templates.choosing``), so the
default language never fills a gap key by key. A store's own catalogs are merged over the
built-in ones key by key, so it can change one text.

A catalog file that does not load (bad YAML, over a limit of ``models.yaml_loader``, a
value that is not text) breaks its locale only, built-in texts included: a message that
needs that locale raises :class:`CatalogBroken`; every other locale keeps working. A file
whose name is not a locale tag is reported and not used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from models.yaml_loader import Located, YamlError, compose, load_file, read_text
from templates.errors import CatalogBroken, TemplateInvalid
from templates.locales import chain, language, normalize


def flatten(data: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": "x"}}`` -> ``{"a.b": "x"}``; numbers become text, None is refused."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            out[name] = str(value)
        else:
            raise ValueError(f"{name}: a text is expected, not {type(value).__name__}")
    return out


def read_catalog(path: Path) -> dict[str, str]:
    """One catalog file, or :class:`CatalogBroken` naming the file, line and key."""
    locale = normalize(path.stem) or path.stem
    try:
        data = load_file(path) or {}
    except YamlError as exc:
        raise CatalogBroken(str(exc), locale=locale) from None
    if not isinstance(data, Mapping):
        raise CatalogBroken(f"{path}: a catalog is a mapping of keys to texts", locale=locale)
    try:
        return flatten(data)
    except ValueError as exc:
        raise CatalogBroken(f"{path}: {exc}", locale=locale) from None


def key_lines(path: Path) -> dict[str, int]:
    """The line of every dotted key of a catalog that loaded, so problems can point at it."""
    try:
        root = compose(read_text(path), str(path))
    except YamlError:
        return {}
    if root is None:
        return {}
    located = Located(str(path))
    located.plain(root)
    return {
        ".".join(str(p) for p in key): line
        for key, line in located.lines.items()
        if key and all(isinstance(p, str) and p != "\x00key" for p in key)
    }


@dataclass
class Catalogs:
    """All locales' texts, with the lookup along a locale chain."""

    texts: dict[str, dict[str, str]]
    default: str
    files: dict[str, list[Path]] = field(default_factory=dict)
    broken: dict[str, CatalogBroken] = field(default_factory=dict)  # locale -> why
    errors: list[TemplateInvalid] = field(default_factory=list)  # every file problem
    lines: dict[str, dict[str, tuple[Path, int]]] = field(default_factory=dict)

    @classmethod
    def load(cls, folders: Iterable[Path], *, default: str) -> Catalogs:
        """Catalog files from each folder in turn; later folders override earlier ones."""
        texts: dict[str, dict[str, str]] = {}
        files: dict[str, list[Path]] = {}
        broken: dict[str, CatalogBroken] = {}
        errors: list[TemplateInvalid] = []
        lines: dict[str, dict[str, tuple[Path, int]]] = {}
        for folder in folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.yaml")):
                locale = normalize(path.stem)
                if locale is None:
                    errors.append(
                        TemplateInvalid(
                            f"{path}: the file name must be a locale tag such as de.yaml or "
                            "pt-BR.yaml; the file is not used"
                        )
                    )
                    continue
                files.setdefault(locale, []).append(path)
                try:
                    texts.setdefault(locale, {}).update(read_catalog(path))
                    found = lines.setdefault(locale, {})
                    found.update({k: (path, n) for k, n in key_lines(path).items()})
                except CatalogBroken as exc:
                    broken.setdefault(locale, exc)
                    errors.append(exc)
        for locale in broken:
            texts.pop(locale, None)  # a broken override never falls back to built-in texts
        normal = normalize(default) or default
        if normal not in texts and normal not in broken:
            raise TemplateInvalid(
                f"no catalog for the default locale {default!r}; "
                f"have: {', '.join(sorted(texts)) or 'none'}"
            )
        return cls(
            texts=texts, default=normal, files=files, broken=broken, errors=errors, lines=lines
        )

    def locales(self) -> list[str]:
        """Locales whose catalogs loaded (``errors`` lists the others, for validation)."""
        return sorted(self.texts)

    def chain(self, tag: str | None) -> list[str]:
        """A broken locale stays in the chain: its customers get its error, not another
        language's texts."""
        return chain(tag, self.texts.keys() | self.broken.keys(), self.default)

    def require(self, locales: Iterable[str], template: str | None = None) -> None:
        """Raise :class:`CatalogBroken` if any of ``locales`` has a catalog that did not load."""
        for locale in locales:
            found = self.broken.get(locale)
            if found is not None:
                raise CatalogBroken(found.detail, template=template, locale=locale)

    def own_chain(self, locale: str) -> list[str]:
        """The chain without the default language: where a locale's own texts may come from."""
        lang = language(locale)
        return [c for c in self.chain(locale) if language(c) == lang]

    def find(self, key: str, locales: Iterable[str], variant: str | None = None) -> str | None:
        """The text of ``key`` (its ``@variant`` form first) in the first locale that has it."""
        locales = list(locales)
        self.require(locales)
        if variant:
            for locale in locales:
                text = self.texts[locale].get(f"{key}@{variant}")
                if text is not None:
                    return text
        for locale in locales:
            text = self.texts[locale].get(key)
            if text is not None:
                return text
        return None

    def where(self, key: str, locales: Iterable[str]) -> tuple[Path, int] | None:
        """The file and line of the text ``find`` would take for ``key``."""
        for locale in locales:
            if key in self.texts.get(locale, {}):
                return self.lines.get(locale, {}).get(key)
        return None

    def has_prefix(self, prefix: str) -> bool:
        """Whether any catalog has a key under ``prefix`` (``summer.``)."""
        return any(k.startswith(prefix) for texts in self.texts.values() for k in texts)

    def variant_keys(self, variant: str) -> frozenset[str]:
        """Keys some catalog gives a text of their own for ``variant`` (without ``@variant``)."""
        end = f"@{variant}"
        return frozenset(
            k[: -len(end)] for texts in self.texts.values() for k in texts if k.endswith(end)
        )

    def variants(self, template: str) -> list[str]:
        """Variants any catalog gives texts for, for one template."""
        prefix = f"{template}."
        found = {
            key.rsplit("@", 1)[1]
            for texts in self.texts.values()
            for key in texts
            if key.startswith(prefix) and "@" in key
        }
        return sorted(found)

    def section(self, prefix: str, locales: list[str]) -> dict[str, str]:
        """Every key under ``prefix`` resolved along ``locales`` (for texts chosen at send time);
        a broken locale adds nothing."""
        out: dict[str, str] = {}
        for locale in reversed(locales):
            for key, text in self.texts.get(locale, {}).items():
                if key.startswith(prefix) and "@" not in key:
                    out[key] = text
        return out
