"""Every third-party package the product imports is declared, in the right list."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = (
    "models",
    "ingest",
    "segments",
    "templates",
    "campaigns",
    "analytics",
    "web",
    "flows",
    "cli",
    "synthetic",
)


def _imports(folders: tuple[str, ...]) -> set[str]:
    names: set[str] = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    ours = {p.name for p in ROOT.iterdir() if p.is_dir()}
    return {n for n in names if n not in ours and n not in sys.stdlib_module_names}


def _declared(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements
    }


def test_every_imported_package_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _declared(project["dependencies"])
    providers = packages_distributions()
    missing = {
        module: providers.get(module, ["?"])
        for module in sorted(_imports(PRODUCT))
        if not {d.lower().replace("_", "-") for d in providers.get(module, [])} & declared
    }
    assert not missing, f"imported by the product but not in [project] dependencies: {missing}"
