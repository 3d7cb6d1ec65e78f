"""YAML for marketer-owned files (segments, campaigns, templates, catalogs), read with limits.

A definitions folder is input like any other: one hostile file must not take memory, time or
the stack from every command that loads the folder. So a document is refused, with its file
and line, before anything is built from it when it is:

- larger than ``MAX_BYTES``;
- nested deeper than ``MAX_DEPTH`` levels (a deep rule would otherwise exhaust the stack);
- using more than ``MAX_ALIASES`` aliases (``*name``), or aliases that would expand to more
  than ``MAX_NODES`` values or refer to themselves (the "billion laughs" bomb: a few hundred
  bytes that grow to gigabytes when walked).

Only the safe constructor is used: plain mappings, lists, text, numbers, booleans, dates.
Every problem is a :class:`YamlError` naming the file and line. A store's file that does not
load still claims the name it meant to define (:func:`intended_name`), so the built-in file
it would replace is not used silently in its place (:func:`replaced_by_broken`).
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1_000_000
MAX_DEPTH = 50
MAX_ALIASES = 50
MAX_NODES = 100_000
_NAME_LINE = re.compile(r"^name:[ \t]*[\"']?([A-Za-z0-9_:\-]+)", re.MULTILINE)


class YamlError(ValueError):
    """A file that cannot be read as a definition: where (file, line) and what is wrong."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source, self.line, self.message = source, line, message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


def line_of(node: Node) -> int:
    return node.start_mark.line + 1


class _Loader(yaml.SafeLoader):
    """The safe loader, counting depth and aliases while it composes (before expanding)."""

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self.source = source
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise YamlError(
                    self.source,
                    line,
                    f"more than {MAX_ALIASES} aliases (*name); write the values out instead",
                )
        if self.depth >= MAX_DEPTH:
            raise YamlError(
                self.source,
                line,
                f"nested deeper than {MAX_DEPTH} levels, the limit for a definition; "
                "flatten it (for a rule: one all/any list instead of nesting)",
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """Values the safe constructor cannot build (2026-02-30, a 5,000-digit number)
        become a YamlError at their line instead of a ValueError from deep inside."""
        try:
            return super().construct_object(node, deep=deep)
        except YamlError:
            raise
        except (ValueError, OverflowError) as exc:
            raise _unreadable(node, self.source, exc) from None


def _unreadable(node: Node, source: str, exc: Exception) -> YamlError:
    text = str(node.value)
    shown = text if len(text) <= 40 else text[:40] + "…"
    return YamlError(source, line_of(node), f"{shown!r} cannot be read: {exc}")


def _not_yaml(source: str, exc: yaml.YAMLError) -> YamlError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if context and problem.startswith("but "):  # "expected a single document …, but found …"
        problem = f"{context}, {problem}"
    return YamlError(source, mark.line + 1 if mark else None, f"not valid YAML: {problem}")


def _check_expansion(root: Node, source: str) -> None:
    """Count the values the document has once aliases are expanded, without expanding them."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise YamlError(source, line_of(node), "an alias refers to a value that contains it")
        total = 1
        if isinstance(node, CollectionNode):
            open_.add(key)
            children = (
                [n for pair in node.value for n in pair]
                if isinstance(node, MappingNode)
                else node.value
            )
            for child in children:
                total += size(child)
                if total > MAX_NODES:
                    raise YamlError(
                        source,
                        line_of(child),
                        f"aliases expand this document to more than {MAX_NODES:,} values; "
                        "write the values out instead",
                    )
            open_.discard(key)
        sizes[key] = total
        return total

    size(root)


def _loader(text: str, source: str) -> tuple[_Loader, Node | None]:
    if len(text) > MAX_BYTES:
        raise YamlError(source, None, f"larger than {MAX_BYTES:,} bytes, the limit for a file")
    loader = _Loader(text, source)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise _not_yaml(source, exc) from None
    if root is not None:
        _check_expansion(root, source)
    return loader, root


def compose(text: str, source: str) -> Node | None:
    """The document's node tree (None when empty), checked against every limit."""
    return _loader(text, source)[1]


def scalar(node: ScalarNode, source: str) -> Any:
    """One scalar as Python: text stays text, ``3`` an int, ``2026-01-05`` a date."""
    if node.tag == "tag:yaml.org,2002:str":
        return node.value
    try:
        return yaml.constructor.SafeConstructor().construct_object(node)
    except (ValueError, OverflowError) as exc:
        raise _unreadable(node, source, exc) from None
    except yaml.YAMLError as exc:
        raise _not_yaml(source, exc) from None


class Located:
    """Plain values of a composed document with the line of every key and item.

    Mistakes are collected as ``error_type`` rather than raised, so one pass over a
    definition reports all of them, each at its line.
    """

    error_type: type[YamlError] = YamlError

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[tuple[Any, ...], int] = {}
        self.errors: list[Any] = []

    def line(self, path: tuple[Any, ...]) -> int | None:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, path: tuple[Any, ...], message: str) -> None:
        self.errors.append(self.error_type(self.source, self.line(path), message))

    def plain(self, node: Node, path: tuple[Any, ...] = ()) -> Any:
        self.lines.setdefault(path, line_of(node))
        if isinstance(node, MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.plain(key_node, (*path, "\x00key"))
                if not isinstance(key, str | int):
                    self.error(path, "keys must be plain words")
                    continue
                self.lines[(*path, key)] = line_of(key_node)
                if key in out:
                    self.error((*path, key), f"{key!r} is given twice")
                out[key] = self.plain(value_node, (*path, key))
            return out
        if isinstance(node, SequenceNode):
            return [self.plain(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        try:
            return scalar(node, self.source)
        except YamlError as exc:
            self.errors.append(self.error_type(exc.source, exc.line, exc.message))
            return None


def load(text: str, source: str) -> Any:
    """The document as plain Python values (None when empty).

    Parsed once per (text, source) in a process: a run reads the same catalogs and
    definitions at every wave, and parsing them was most of a wave's time. Callers get
    their own copy, so changing one never changes the cached document.
    """
    return copy.deepcopy(_parse(text, source))


@functools.lru_cache(maxsize=1024)
def _parse(text: str, source: str) -> Any:
    loader, root = _loader(text, source)
    if root is None:
        return None
    try:
        return loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise _not_yaml(source, exc) from None


def read_text(path: Path) -> str:
    """A definition file's text: UTF-8, at most ``MAX_BYTES``, read errors as YamlError."""
    source = str(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise YamlError(source, None, f"larger than {MAX_BYTES:,} bytes, the limit for a file")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlError(source, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise YamlError(source, None, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise YamlError(source, None, f"cannot read the file: {exc.strerror or exc}") from None


def load_file(path: Path) -> Any:
    return load(read_text(path), str(path))


def intended_name(path: Path) -> str:
    """The name a definition file means to define, even when it does not parse: its top-level
    ``name:`` line, else the file name. A broken file is then an error for that name."""
    try:
        found = _NAME_LINE.search(read_text(path))
    except YamlError:
        found = None
    return found.group(1) if found else path.stem


def replaced_by_broken(
    sources: dict[str, Path], broken: list[tuple[str, Path]], order: list[Path]
) -> set[str]:
    """Names whose loaded file a broken file of a later folder would have replaced.

    A store's override that does not load is an error for that name: the built-in it was
    meant to replace must not run silently in its place.
    """
    rank = {path: i for i, path in enumerate(order)}
    return {
        name
        for name, path in broken
        if name in sources
        and sources[name].parent != path.parent
        and rank.get(sources[name], -1) < rank[path]
    }
