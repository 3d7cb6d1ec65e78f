"""Everything a renderer reads from disk: kinds, the template list, catalogs, brand, samples.

The built-in folder (this package) comes first; a store's own folder (``directory``,
usually ``definitions_dir/templates``) may add or replace templates (``email/NAME.mjml``
and ``templates.yaml``), texts (``catalogs/LOCALE.yaml``, merged key by key) and
sample values (``samples.yaml``). The kinds are the contract with the code that fills
the templates and cannot be changed by a store.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.yaml_loader import YamlError, load_file
from templates.catalogs import Catalogs
from templates.errors import TemplateInvalid
from templates.locales import normalize

HERE = Path(__file__).resolve().parent
LEAF_TYPES = ("text", "url", "number", "date", "currency")
_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


# -- shapes: what a variable holds ------------------------------------------------------


@dataclass(frozen=True)
class ListOf:
    item: Field


@dataclass(frozen=True)
class Field:
    shape: str | dict[str, Field] | ListOf
    optional: bool = False


def parse_field(value: Any, *, optional: bool, where: str) -> Field:
    if isinstance(value, str):
        leaf = value.strip()
        if leaf.endswith("?"):
            optional, leaf = True, leaf[:-1]
        if leaf not in LEAF_TYPES:
            raise TemplateInvalid(f"{where}: unknown type {leaf!r}; valid: {', '.join(LEAF_TYPES)}")
        return Field(leaf, optional)
    if isinstance(value, list) and len(value) == 1:
        return Field(ListOf(parse_field(value[0], optional=False, where=f"{where}[]")), optional)
    if isinstance(value, Mapping):
        fields: dict[str, Field] = {}
        for key, sub in value.items():
            name = str(key)
            opt = name.endswith("?")
            name = name.rstrip("?")
            fields[name] = parse_field(sub, optional=opt, where=f"{where}.{name}")
        return Field(fields, optional)
    raise TemplateInvalid(f"{where}: a type, a mapping or a list of one item is expected")


# -- kinds and templates ----------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    marketing: bool
    push: bool
    variables: dict[str, Field]


MISSING_LOCALE = ("fallback", "skip")


@dataclass(frozen=True)
class TemplateEntry:
    name: str
    kind: str
    email: bool
    push: bool
    locales: tuple[str, ...] | None = None  # None: every locale whose catalogs are complete
    fallback: str | None = None  # None: the store's default locale
    missing_locale: str = "fallback"  # or "skip": a customer of another locale is skipped


@dataclass
class Library:
    kinds: dict[str, Kind]
    templates: dict[str, TemplateEntry]
    catalogs: Catalogs
    brand: dict[str, Any]
    samples: dict[str, Any]
    email_dirs: list[Path]
    push_variables: dict[str, Field]
    push_limits: dict[str, int]
    store_shape: Field
    brand_file: Path | None = None
    directory: Path | None = None
    sources: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def load(
        cls, *, directory: Path | None = None, brand: Path | None = None, default_locale: str = "en"
    ) -> Library:
        folders = [HERE] + ([Path(directory)] if directory else [])
        kinds_doc = _read_yaml(HERE / "kinds.yaml")
        always = parse_field(kinds_doc["always"], optional=False, where="kinds.yaml always")
        assert isinstance(always.shape, dict)
        kinds: dict[str, Kind] = {}
        for name, spec in kinds_doc["kinds"].items():
            variables = parse_field(spec["variables"], optional=False, where=f"kinds.yaml {name}")
            assert isinstance(variables.shape, dict)
            kinds[name] = Kind(
                name=name,
                description=str(spec.get("description", "")),
                marketing=bool(spec.get("marketing")),
                push=bool(spec.get("push")),
                variables={**always.shape, **variables.shape},
            )
        push_vars = parse_field(kinds_doc["push"]["variables"], optional=False, where="push")
        assert isinstance(push_vars.shape, dict)

        sources: dict[str, Path] = {}
        for folder in folders:
            for path in sorted((folder / "email").glob("*.mjml")):
                sources[path.stem] = path
        templates: dict[str, TemplateEntry] = {}
        for folder in folders:
            manifest = folder / "templates.yaml"
            if manifest.is_file():
                templates.update(_manifest(manifest, kinds, sources))
        for name in sources:
            if name not in templates and name in kinds:
                kind = kinds[name]
                templates[name] = TemplateEntry(name, name, email=True, push=kind.push)

        brand_doc = _read_yaml(HERE / "brand.yaml")
        if brand:
            brand_doc = _merge(brand_doc, _read_yaml(Path(brand)))
        samples = _read_yaml(HERE / "samples.yaml")
        if directory and (Path(directory) / "samples.yaml").is_file():
            samples = _merge(samples, _read_yaml(Path(directory) / "samples.yaml"))

        return cls(
            kinds=kinds,
            templates=dict(sorted(templates.items())),
            catalogs=Catalogs.load([f / "catalogs" for f in folders], default=default_locale),
            brand=check_brand(brand_doc, Path(brand) if brand else HERE / "brand.yaml"),
            samples=samples,
            email_dirs=[f / "email" for f in reversed(folders)],
            push_variables=push_vars.shape,
            push_limits={k: int(v) for k, v in kinds_doc["push"]["limits"].items()},
            store_shape=always.shape["store"],
            brand_file=Path(brand) if brand else None,
            directory=Path(directory) if directory else None,
            sources=sources,
        )

    def entry(self, template: str) -> TemplateEntry:
        try:
            return self.templates[template]
        except KeyError:
            names = ", ".join(self.templates)
            raise TemplateInvalid(f"unknown template; have: {names}", template=template) from None

    def variables(self, template: str, *, push: bool = False) -> dict[str, Field]:
        kind = self.kinds[self.entry(template).kind]
        return {**kind.variables, **self.push_variables} if push else kind.variables

    def store(self) -> dict[str, Any]:
        """The ``store`` variable every template gets, from the brand."""
        b = self.brand
        return {
            "name": b["name"],
            "website": b["website"],
            "support_email": b["support_email"],
            "logo_url": b.get("logo_url") or None,
            "address": list(b["address"]),
        }

    def sample_context(self, template: str, locale: str, *, minimal: bool = False) -> dict:
        """Sample values for a template's kind in a locale (without optional ones if minimal)."""
        base = copy.deepcopy(self.samples["context"])
        extra = self.samples.get("locales", {})
        own = extra.get(locale) or extra.get(locale.split("-")[0]) or {}
        for key in ("first_name", "last_name"):
            if key in own:
                base["customer"][key] = own[key]
        base["customer"]["locale"] = locale
        currency = own.get("currency")
        if currency:
            rate = float(own.get("rate", 1))
            for item in [*base.get("products", []), base.get("order", {})]:
                for money in ("price", "total"):
                    if money in item:
                        item[money] = _converted(item[money], rate)
                if "currency" in item:
                    item["currency"] = currency
        entry = self.entry(template)
        variables = self.variables(template, push=entry.push)
        variables = {k: v for k, v in variables.items() if k != "store"}
        return restrict(base, variables, minimal=minimal)


def _converted(amount: float, rate: float) -> float:
    value = float(amount) * rate
    return round(value, -2) if rate >= 100 else round(value, 2)


def restrict(values: Mapping[str, Any], fields: Mapping[str, Field], *, minimal: bool) -> dict:
    """Only what the fields describe; optional values dropped when ``minimal``."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        spec = fields.get(name) or fields.get("*")
        if spec is None or (minimal and spec.optional):
            continue
        out[name] = _restrict_value(value, spec, minimal=minimal)
    return out


def _restrict_value(value: Any, spec: Field, *, minimal: bool) -> Any:
    if isinstance(spec.shape, dict) and isinstance(value, Mapping):
        return restrict(value, spec.shape, minimal=minimal)
    if isinstance(spec.shape, ListOf) and isinstance(value, list):
        return [_restrict_value(v, spec.shape.item, minimal=minimal) for v in value]
    return value


# -- files ------------------------------------------------------------------------------


def _read_yaml(path: Path) -> Any:
    try:
        return load_file(path) or {}
    except YamlError as exc:
        raise TemplateInvalid(str(exc)) from None


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return over


def _manifest(
    path: Path, kinds: Mapping[str, Kind], sources: Mapping[str, Path]
) -> dict[str, TemplateEntry]:
    doc = _read_yaml(path)
    if not isinstance(doc, Mapping):
        raise TemplateInvalid(f"{path}: a mapping of template names is expected")
    out: dict[str, TemplateEntry] = {}
    for name, spec in doc.items():
        spec = spec or {}
        if not isinstance(name, str) or not _NAME.match(name):
            raise TemplateInvalid(
                f"{path}: template name {name!r} must be lowercase letters, digits and _"
            )
        if not isinstance(spec, Mapping):
            raise TemplateInvalid(f"{path}: {name}: a mapping like {{kind: promotion}}")
        unknown = set(spec) - set(_ENTRY_KEYS)
        if unknown:
            raise TemplateInvalid(
                f"{path}: {name}: unknown key {sorted(unknown)[0]!r}; "
                f"valid: {', '.join(_ENTRY_KEYS)}",
                template=name,
            )
        kind = spec.get("kind", name)
        if kind not in kinds:
            raise TemplateInvalid(
                f"{path}: {name}: unknown kind {kind!r}; valid: {', '.join(kinds)}", template=name
            )
        email = bool(spec.get("email", True))
        push = bool(spec.get("push", False))
        if push and not kinds[kind].push:
            raise TemplateInvalid(
                f"{path}: {name}: kind {kind} has no push messages", template=name
            )
        if email and name not in sources:
            raise TemplateInvalid(f"{path}: {name}: no email/{name}.mjml", template=name)
        out[name] = TemplateEntry(
            name=name, kind=kind, email=email, push=push, **_locale_settings(path, name, spec)
        )
    return out


_ENTRY_KEYS = ("kind", "email", "push", "description", "locales", "fallback", "missing_locale")


def _locale_settings(path: Path, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """``locales: [en, tr]``, ``fallback: en`` and ``missing_locale: skip`` of one entry."""
    out: dict[str, Any] = {}
    where = f"{path}: {name}"
    if spec.get("locales") is not None:
        given = spec["locales"]
        tags = [normalize(t) if isinstance(t, str) else None for t in given or []]
        if not isinstance(given, list) or not tags or None in tags:
            raise TemplateInvalid(
                f"{where}: locales is a list of locale tags such as [en, tr, pt-BR], not {given!r}",
                template=name,
                key="locales",
            )
        out["locales"] = tuple(t for t in tags if t)
    if spec.get("fallback") is not None:
        tag = normalize(str(spec["fallback"]))
        if tag is None:
            raise TemplateInvalid(
                f"{where}: fallback is a locale tag such as en, not {spec['fallback']!r}",
                template=name,
                key="fallback",
            )
        out["fallback"] = tag
    if spec.get("missing_locale") is not None:
        choice = spec["missing_locale"]
        if choice not in MISSING_LOCALE:
            raise TemplateInvalid(
                f"{where}: missing_locale is {' or '.join(MISSING_LOCALE)}, not {choice!r}",
                template=name,
                key="missing_locale",
            )
        out["missing_locale"] = choice
    return out


def check_brand(doc: object, path: Path) -> dict[str, Any]:
    """The brand settings, checked: they go into every template as attributes and text."""
    if not isinstance(doc, Mapping):
        raise TemplateInvalid(f"{path}: the brand file is a mapping")

    def need(key: str) -> Any:
        if doc.get(key) in (None, ""):
            raise TemplateInvalid(f"{path}: {key} is missing", key=key)
        return doc[key]

    for key in ("name", "website", "support_email"):
        if not isinstance(need(key), str):
            raise TemplateInvalid(f"{path}: {key} must be text", key=key)
    for key in ("website", "logo_url"):
        value = doc.get(key)
        if value and not str(value).startswith(("https://", "http://")):
            raise TemplateInvalid(f"{path}: {key} must be an http(s) URL", key=key)
    address = need("address")
    if isinstance(address, str):
        address = [line.strip() for line in address.splitlines() if line.strip()]
    if not isinstance(address, list) or not all(isinstance(x, str) for x in address):
        raise TemplateInvalid(f"{path}: address is a list of lines", key="address")
    colours = need("colours")
    if not isinstance(colours, Mapping):
        raise TemplateInvalid(f"{path}: colours is a mapping of names to #rrggbb", key="colours")
    for name in ("primary", "on_primary", "accent", "background", "surface", "text", "muted"):
        value = colours.get(name)
        if not isinstance(value, str) or not _COLOUR.match(value):
            raise TemplateInvalid(
                f"{path}: colours.{name} must be a colour like #1f5f5b, not {value!r}",
                key=f"colours.{name}",
            )
    fonts = doc.get("fonts") or {}
    if not isinstance(fonts, Mapping) or not isinstance(fonts.get("default"), str):
        raise TemplateInvalid(f"{path}: fonts.default is a CSS font-family list", key="fonts")
    for key, value in fonts.items():
        if not isinstance(value, str) or any(c in value for c in '"<>;{}'):
            raise TemplateInvalid(
                f"{path}: fonts.{key} is a CSS font-family list (use single quotes)",
                key=f"fonts.{key}",
            )
    return {**doc, "address": address}
