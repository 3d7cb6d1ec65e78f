"""The house: each folder imports only the folders below it (docs/architecture.md), and
no module of ours imports itself back through another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What each folder may import of ours, as docs/architecture.md states it.
ALLOWED: dict[str, set[str]] = {
    "models": set(),
    "synthetic": set(),
    "templates": {"models"},
    "ingest": {"models"},
    "segments": {"models"},
    "analytics": {"models"},
    "campaigns": {"models", "segments", "templates"},
    "web": {"models", "campaigns"},
}
LOWER = set(ALLOWED)
ALLOWED["flows"] = LOWER
ALLOWED["cli"] = LOWER | {"flows"}
ALLOWED["bench"] = LOWER - {"flows", "cli"}


def _modules() -> dict[str, Path]:
    found = {}
    for folder in ALLOWED:
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations/versions" in path.as_posix():
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _path_of(module: str) -> Path:
    """The folder of a package or the file of a module (which may not exist)."""
    path = ROOT.joinpath(*module.split("."))
    return path if path.is_dir() else path.with_suffix(".py")


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """Modules of ours this file imports (at module level only, if asked)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:  # `from web import actions` imports web.actions
                submodule = f"{node.module}.{alias.name}"
                names.add(submodule if _path_of(submodule).exists() else node.module)
    return {n for n in names if n.split(".")[0] in ALLOWED}


def test_every_import_runs_down_the_house() -> None:
    wrong = []
    for name, path in _modules().items():
        folder = name.split(".")[0]
        for target in _imports(path, top_level_only=False):
            other = target.split(".")[0]
            if other != folder and other not in ALLOWED[folder]:
                wrong.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle() -> None:
    modules = _modules()
    graph = {
        name: {t for t in _imports(path, top_level_only=True) if t in modules and t != name}
        for name, path in modules.items()
    }
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph[name]):
            if state.get(nxt) == 1:
                circle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import circle: " + " -> ".join(circle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
