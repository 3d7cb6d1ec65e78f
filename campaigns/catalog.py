"""The campaigns defined: every file of the built-in and the store's folders, read, checked
and cross-checked against the segments and templates they name.

A file is read with the one YAML loader for definitions (``models.yaml_loader``: its limits,
the line of every key) and checked whole by the spec (``campaigns.spec``); each mistake the
spec finds is placed at the line of the key it is about. A store's file replaces a built-in
one of the same name, even when it is broken (then that campaign is an error, never silently
the built-in one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.exc import SQLAlchemyError
from yaml.nodes import MappingNode

from campaigns import render
from campaigns.campaign import Campaign
from campaigns.spec import CampaignSpec
from campaigns.spec_base import MISTAKE, suggest
from models.settings import get_settings
from models.yaml_loader import (
    Located,
    YamlError,
    compose,
    intended_name,
    line_of,
    read_text,
    replaced_by_broken,
)
from segments.definitions import CLUSTER, computed_names
from segments.definitions import load_all as load_segments
from segments.membership import segment_names
from segments.rules import DefinitionError
from templates import Renderer
from templates.renderer import MessageRenderer
from templates.validate import validate_for

BUILT_IN = Path(__file__).parent / "definitions"


# --- one file ------------------------------------------------------------------------------


class _Located(Located):
    """Mistakes of a campaign document are definition errors."""

    error_type = DefinitionError


def _message(error: ErrorDetails) -> str:
    """The spec's own words; pydantic's, should one of its checks speak, with the key path."""
    if error["type"] == MISTAKE:
        return error["msg"]
    return f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"


def parse_campaign(text: str, source: str) -> tuple[Campaign | None, list[DefinitionError]]:
    """One campaign from YAML text, and every mistake found in it, each at its line."""
    doc = _Located(source)
    try:
        root = compose(text, source)  # refuses huge, deep and alias-bomb files first
    except YamlError as exc:
        return None, [DefinitionError.of(exc)]
    if not isinstance(root, MappingNode):
        return None, [DefinitionError(source, line_of(root) if root else None, CampaignSpec.shape)]
    data = doc.plain(root)
    spec: CampaignSpec | None = None
    try:
        spec = CampaignSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            doc.error(tuple(error["loc"]), _message(error))
    if spec is None or doc.errors:
        return None, doc.errors
    campaign = spec.to_campaign(
        source=source,
        line=doc.lines.get((), 1),
        lines={str(k[0]): v for k, v in doc.lines.items() if len(k) == 1},
        survey=data.get("survey", {}),
    )
    return campaign, []


def load_file(path: Path) -> tuple[Campaign | None, list[DefinitionError]]:
    try:
        text = read_text(path)
    except YamlError as exc:
        return None, [DefinitionError.of(exc)]
    return parse_campaign(text, str(path))


# --- the folders ---------------------------------------------------------------------------


def folders() -> list[Path]:
    """The built-in examples, then the store's own folder (``definitions_dir/campaigns``)."""
    extra = get_settings().definitions_dir
    own = extra / "campaigns" if extra else None
    return [BUILT_IN] + ([own] if own and own.is_dir() else [])


def files(paths: list[Path] | None = None) -> list[Path]:
    if paths is not None:
        return paths
    return [p for folder in folders() for p in sorted(folder.glob("*.y*ml"))]


def load_all(
    paths: list[Path] | None = None,
    *,
    known_segments: Callable[[str], bool] | None = None,
    templates: MessageRenderer | None = None,
) -> tuple[list[Campaign], list[DefinitionError]]:
    """Every valid campaign and every mistake; a store's file replaces a built-in of its name.

    A broken store file replaces it too: that campaign is an error (its first mistake says
    ``campaign 'NAME' is not loaded``), never silently the built-in one.
    ``known_segments`` and ``templates`` (a renderer with ``names()``) turn on the reference
    checks; :func:`load_checked` supplies both from the database and the templates folder.
    """
    by_name: dict[str, Campaign] = {}
    errors: list[DefinitionError] = []
    broken: list[tuple[str, Path]] = []
    listed = files(paths)
    for path in listed:
        campaign, found = load_file(path)
        if campaign is None:
            name = intended_name(path)
            errors += [found[0].not_loaded("campaign", name), *found[1:]]
            broken.append((name, path))
            continue
        errors += found
        same = by_name.get(campaign.name)
        if same is not None and Path(same.source).parent == path.parent:
            errors.append(
                DefinitionError(
                    campaign.source,
                    campaign.line_of("name"),
                    f"name {campaign.name!r} is already used by {same.source}:{same.line}",
                )
            )
            continue
        by_name[campaign.name] = campaign
    sources = {name: Path(c.source) for name, c in by_name.items()}
    for name in replaced_by_broken(sources, broken, listed):
        del by_name[name]
    good: list[Campaign] = []
    for campaign in by_name.values():
        problems = check_references(campaign, known_segments=known_segments, templates=templates)
        errors += problems
        if not problems:
            good.append(campaign)
    return sorted(good, key=lambda c: c.name), errors


def find(name: str, campaigns: list[Campaign]) -> Campaign | None:
    return next((c for c in campaigns if c.name == name), None)


# --- references to segments and templates -------------------------------------------------


def check_references(
    campaign: Campaign,
    *,
    known_segments: Callable[[str], bool] | None,
    templates: MessageRenderer | None,
) -> list[DefinitionError]:
    """Segments and templates a campaign names must exist."""
    errors: list[DefinitionError] = []
    if known_segments is not None:
        for key, names in (("segments", campaign.include), ("segments", campaign.exclude)):
            for name in names:
                if not known_segments(name):
                    errors.append(
                        DefinitionError(
                            campaign.source,
                            campaign.line_of(key),
                            f"unknown segment {name!r}; see `homecoming segments list` "
                            "(rule segments, rfm:*, lifecycle:*, predicted:*, cluster:N)",
                        )
                    )
    if templates is not None:
        available = set(templates.names())
        wanted = [("template", campaign.template)] + [
            ("variants", v.template) for v in campaign.variants if v.template
        ]
        channels = getattr(templates, "channels", None)
        for key, name in wanted:
            if name not in available:
                errors.append(
                    DefinitionError(
                        campaign.source,
                        campaign.line_of(key),
                        f"unknown template {name!r}{suggest(name, available)}",
                    )
                )
                continue
            errors += rendered_problems(campaign, templates, name)
            for where, channel in zip(("channel", "fallback"), campaign.channels, strict=False):
                if channels is not None and channel not in channels(name):
                    has = ", ".join(channels(name)) or "none"
                    errors.append(
                        DefinitionError(
                            campaign.source,
                            campaign.line_of(where),
                            f"template {name!r} has no {channel} version; it has {has}"
                            + ("" if where == "channel" else f" (fallback: {channel} needs one)"),
                        )
                    )
    return errors


def rendered_problems(
    campaign: Campaign, templates: MessageRenderer, template: str
) -> list[DefinitionError]:
    """Errors of ``template`` rendered as this campaign sends it: in every locale the store
    has catalogs for and every variant, against the sample customers, each problem once at
    its ``.mjml`` or catalog file and line. A broken template fails here, not at send time."""
    if not isinstance(templates, Renderer):
        return []  # a stand-in renderer (tests) has no files to check
    variants = [None, *(v.name for v in campaign.variants)]
    skip = None if campaign.missing_locale is None else campaign.missing_locale == "skip"
    if campaign.locale_fallback and campaign.locale_fallback not in templates.locales():
        return [
            DefinitionError(
                campaign.source,
                campaign.line_of("locale_fallback"),
                f"locale_fallback {campaign.locale_fallback!r} has no catalog; valid: "
                + ", ".join(templates.locales()),
            )
        ]
    problems = validate_for(
        templates,
        template,
        templates.locales(),
        variants,
        fallback=campaign.locale_fallback,
        skip=skip,
    )
    return [
        DefinitionError(
            p.file or campaign.source,
            p.line or campaign.line_of("template"),
            f"{campaign.name}: {p.message}"
            + (f" (locales {', '.join(p.locales)})" if p.locales else ""),
        )
        for p in problems
        if p.level == "error"
    ]


def segment_checker(engine: Any = None) -> Callable[[str], bool]:
    """Known segments: defined ones, computed ones (rfm:, predicted:, cluster:N) and any the
    database has snapshots of (when it is reachable)."""
    defined, _ = load_segments()
    known = {d.name for d in defined} | computed_names()
    if engine is not None:
        with contextlib.suppress(SQLAlchemyError):
            known |= set(segment_names(engine))
    return lambda name: name in known or bool(CLUSTER.match(name))


def load_checked(
    paths: list[Path] | None = None,
    *,
    engine: Any = None,
    renderer: MessageRenderer | None = None,
) -> tuple[list[Campaign], list[DefinitionError]]:
    """All campaigns with their segment and template references checked."""
    if renderer is None:
        renderer = render.default_renderer()  # looked up on the module: tests replace it
    return load_all(paths, known_segments=segment_checker(engine), templates=renderer)
