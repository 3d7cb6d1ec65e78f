"""The one YAML loader for definitions: hostile files are refused, with file and line, cheaply."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from models.yaml_loader import (
    MAX_ALIASES,
    MAX_BYTES,
    MAX_DEPTH,
    YamlError,
    compose,
    intended_name,
    load,
    load_file,
)

HERE = Path(__file__).resolve().parents[2]


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """The classic bomb: 9 levels of 9 aliases, about 600 bytes, 9^9 values when walked."""
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def doubling(levels: int) -> str:
    """A quieter bomb: two aliases a level, well under the alias limit, 2^levels values."""
    lines = ["d0: &d0 [x, x]"]
    lines += [f"d{i}: &d{i} [*d{i - 1}, *d{i - 1}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def refused(text: str) -> tuple[YamlError, float, int]:
    """The error, the seconds and the peak bytes it took to refuse ``text``."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(YamlError) as caught:
            load(text, "bomb.yaml")
        return caught.value, time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    text = billion_laughs()
    assert len(text) < 700
    error, seconds, peak = refused(text)
    assert str(error).startswith("bomb.yaml:")
    assert f"more than {MAX_ALIASES} aliases" in error.message and error.line is not None
    assert seconds < 1 and peak < 5_000_000  # refused while composing, never expanded


def test_few_aliases_that_expand_too_far_are_refused() -> None:
    text = doubling(MAX_ALIASES // 2)  # 48 aliases, under the count; 2^25 values expanded
    error, seconds, peak = refused(text)
    assert "expand this document to more than" in error.message
    assert seconds < 1 and peak < 5_000_000


def test_an_alias_inside_itself_is_refused() -> None:
    with pytest.raises(YamlError, match=r"rec\.yaml:1: an alias refers to a value that contains"):
        load("a: &a [1, *a]\n", "rec.yaml")


def test_the_built_in_anchors_still_load() -> None:
    """kinds.yaml shares shapes with anchors and aliases: a handful, within the limits."""
    path = HERE / "templates" / "kinds.yaml"
    assert load_file(path) == yaml.safe_load(path.read_text(encoding="utf-8"))


def test_deep_nesting_is_refused_at_its_line() -> None:
    text = "rule:\n" + "".join(f"{'  ' * (i + 1)}all:\n" for i in range(MAX_DEPTH + 5))
    with pytest.raises(YamlError) as caught:
        compose(text, "deep.yaml")
    assert caught.value.source == "deep.yaml"
    assert caught.value.line is not None and caught.value.line <= MAX_DEPTH + 1
    assert f"nested deeper than {MAX_DEPTH} levels" in caught.value.message
    deep_flow = "x: " + "[" * 5000 + "]" * 5000  # no RecursionError, however deep
    with pytest.raises(YamlError, match="nested deeper"):
        load(deep_flow, "flow.yaml")


def test_a_large_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * MAX_BYTES + "\n")
    with pytest.raises(YamlError, match=r"big\.yaml: larger than 1,000,000 bytes"):
        load_file(path)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a: 1\nb: [\n", 3, "not valid YAML"),
        ("a: 1\n---\nb: 2\n", 2, "expected a single document"),
        ("day: 2026-02-30\n", 1, "'2026-02-30' cannot be read: day is out of range"),
        ("n: " + "9" * 5000 + "\n", 1, "cannot be read"),
        ("x: !!python/object:os.system ls\n", 1, "not valid YAML"),
    ],
)
def test_bad_documents_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(YamlError) as caught:
        load(text, "v.yaml")
    assert caught.value.line == line and words in caught.value.message


def test_unreadable_files_are_yaml_errors(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: Zo\xeb\n")
    with pytest.raises(YamlError, match="not UTF-8"):
        load_file(latin)
    with pytest.raises(YamlError, match="file not found"):
        load_file(tmp_path / "missing.yaml")


def test_the_intended_name_of_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "weekly.yaml"
    path.write_text("# a comment\nname: weekly_newsletter\nkind: [\n")
    assert intended_name(path) == "weekly_newsletter"
    path.write_text("kind: [\n")
    assert intended_name(path) == "weekly"  # no name line: the file name
