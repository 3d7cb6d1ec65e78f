"""Loading segment definitions: the built-in folder plus the store's own, checked as a whole."""

from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from models.settings import Settings, get_settings
from models.yaml_loader import YamlError, intended_name, read_text, replaced_by_broken
from segments.conditions import All
from segments.rfm import SEGMENTS as RFM_SEGMENTS
from segments.rules import Definition, DefinitionError, Parsed, parse_checked
from segments.vocabulary import Vocabulary, check_values, static_vocabulary

BUILT_IN = Path(__file__).parent / "definitions"
MODEL_SEGMENTS = ("predicted:churn_risk", "predicted:high_value")
CLUSTER = re.compile(r"^cluster:\d+$")
RESERVED = ("rfm:", "predicted:", "cluster:")


def folders(settings: Settings | None = None) -> list[Path]:
    """The built-in folder, then the store's own (``definitions_dir/segments``) if it has one;
    ``settings`` from the caller (the CLI), None: the process's."""
    extra = (settings if settings is not None else get_settings()).definitions_dir
    return [BUILT_IN] + ([extra / "segments"] if extra and (extra / "segments").is_dir() else [])


def computed_names() -> set[str]:
    """Segments that exist without a definition file: RFM and the model segments."""
    return {f"rfm:{s}" for s in RFM_SEGMENTS} | set(MODEL_SEGMENTS)


def load_file(path: Path) -> Definition:
    """One file's definition; raises its first mistake."""
    definition, errors, _ = load_checked(path)
    if errors:
        raise errors[0]
    assert definition is not None
    return definition


def load_checked(path: Path) -> Parsed:
    """One file's definition, or every mistake in it."""
    try:
        text = read_text(path)
    except YamlError as exc:
        return Parsed(None, [DefinitionError.of(exc)], [])
    return parse_checked(text, str(path))


def load_all(
    paths: list[Path] | None = None,
    *,
    settings: Settings | None = None,
    vocabulary: Vocabulary | None = None,
) -> tuple[list[Definition], list[DefinitionError]]:
    """Every definition in dependency order, and every mistake found (good files still load).

    Names a rule compares with are checked against ``vocabulary`` (the store's categories,
    locales and countries; default: only what is known without a database).

    A store's own file with the same name as a built-in one replaces it (so a marketer can
    change a lifecycle stage without touching the code), even when it is broken: then neither
    is used. Two files of one folder may not share a name.
    """
    errors: list[DefinitionError] = []
    by_name: dict[str, Definition] = {}
    broken: list[tuple[str, Path]] = []
    partial: list[Definition] = []  # what parsed of each broken file, for its names
    files = (
        paths
        if paths is not None
        else [p for folder in folders(settings) for p in sorted(folder.glob("*.y*ml"))]
    )
    for path in files:
        definition, found, leaves = load_checked(path)
        if definition is None:
            name = intended_name(path)
            errors.extend(exc.not_loaded("segment", name) for exc in found)
            broken.append((name, path))
            if leaves:
                partial.append(Definition(name, "", All(tuple(leaves)), str(path), 0))
            continue
        if definition.name.startswith(RESERVED):
            errors.append(
                DefinitionError(
                    definition.source,
                    definition.line,
                    f"name {definition.name!r} is reserved for a computed segment; names "
                    f"starting with {', '.join(RESERVED)} are computed, choose another name",
                )
            )
            continue
        same = by_name.get(definition.name)
        if same is not None and Path(same.source).parent == path.parent:
            errors.append(
                DefinitionError(
                    definition.source,
                    definition.line,
                    f"name {definition.name!r} is already used by {same.source}:{same.line}; "
                    "each segment needs a name of its own",
                )
            )
            continue
        by_name[definition.name] = definition
    sources = {name: Path(d.source) for name, d in by_name.items()}
    for name in replaced_by_broken(sources, broken, files):
        del by_name[name]
    known = set(by_name) | computed_names()
    bad: set[str] = set()
    vocabulary = vocabulary or static_vocabulary()
    for d in partial:
        errors.extend(e.not_loaded("segment", d.name) for e in check_values(d, vocabulary, known))
    for d in list(by_name.values()):
        found = check_values(d, vocabulary, known)
        if found:
            errors.extend(e.not_loaded("segment", d.name) for e in found)
            bad.add(d.name)
    graph = {
        d.name: {r.segment for r in d.references() if r.segment in by_name}
        for d in by_name.values()
    }
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = exc.args[1]
        first = by_name[cycle[0]]
        line = next((r.line for r in first.references() if r.segment in cycle), first.line)
        errors.append(
            DefinitionError(
                first.source, line, f"segments refer to each other in a cycle: {' -> '.join(cycle)}"
            )
        )
        bad.update(cycle)
        order = [n for n in by_name if n not in bad]
    rank = {str(p): i for i, p in enumerate(files)}  # each file's mistakes together, by line
    errors.sort(key=lambda e: (rank.get(e.source, len(rank)), e.line or 0))
    return [by_name[n] for n in order if n not in bad], errors


def load_candidate(path: Path, *, settings: Settings | None = None) -> Definition:
    """A definition not yet saved (for a preview), checked together with the saved ones.

    Its references must exist and must not close a cycle; a saved definition of the same
    name in another folder is what it would replace. Raises the first mistake found.
    """
    here = path.resolve()
    saved = [
        p
        for folder in folders(settings)
        for p in sorted(folder.glob("*.y*ml"))
        if p.resolve() != here
    ]
    candidate = load_file(path)
    definitions, errors = load_all([*saved, path])
    for d in definitions:
        if d.source == str(path):
            return d
    related = [e for e in errors if e.source == str(path) or repr(candidate.name) in e.message]
    related += [e for e in errors if "cycle" in e.message and candidate.name in e.message]
    raise related[0] if related else DefinitionError(str(path), None, "could not be loaded")
