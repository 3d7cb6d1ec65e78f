"""Fixtures for the template tests: the built-in renderer, and a store folder to break."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from templates import Renderer


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    """The built-in templates, catalogs and brand (compiled lazily, shared by the tests)."""
    return Renderer()


StoreFolder = Callable[..., Path]


@pytest.fixture
def store_folder(tmp_path: Path) -> StoreFolder:
    """Write a store's own templates folder: ``store_folder(**{"email/x.mjml": "..."})``."""

    def write(files: dict[str, str] | None = None, **more: str) -> Path:
        root = tmp_path / "templates"
        root.mkdir(exist_ok=True)
        for name, text in {**(files or {}), **more}.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return root

    return write
