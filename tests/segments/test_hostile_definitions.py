"""Hostile segment files: refused with file, line and limit; every other segment still refreshes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.segments import app
from ingest.run import ingest_file
from models.settings import get_settings
from models.yaml_loader import MAX_DEPTH
from segments.definitions import load_all
from segments.refresh import refresh
from segments.rules import MAX_ERRORS, DefinitionError, parse_checked, parse_definition
from tests.models.test_yaml_loader import billion_laughs

AS_OF = date(2026, 6, 30)
GOOD = "name: buyers\nrule:\n  orders: {gte: 1}\n"


def deep_rule(depth: int) -> str:
    """``not: {not: {… orders: {gte: 1} …}}`` nested ``depth`` times, in flow style."""
    return "name: deep\nrule: " + "{not: " * depth + "{orders: {gte: 1}}" + "}" * depth + "\n"


@pytest.fixture
def store_segments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "segments"
    folder.mkdir()
    (folder / "buyers.yaml").write_text(GOOD)
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield folder
    monkeypatch.delenv("HOMECOMING_DEFINITIONS_DIR")
    get_settings.cache_clear()


def test_a_deep_rule_names_file_line_and_limit() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(deep_rule(5000), "deep.yaml")
    assert (caught.value.source, caught.value.line) == ("deep.yaml", 2)
    assert f"nested deeper than {MAX_DEPTH} levels" in caught.value.message
    # Within the limit, nesting still works.
    assert parse_definition(deep_rule(10), "ok.yaml").name == "deep"


def test_an_alias_bomb_is_one_broken_file(store_segments: Path) -> None:
    (store_segments / "bomb.yaml").write_text("name: bomb\nrule: {orders: 1}\n" + billion_laughs())
    definitions, errors = load_all()
    assert "buyers" in {d.name for d in definitions}
    [error] = [e for e in errors if e.source.endswith("bomb.yaml")]
    assert "aliases" in error.message and error.line is not None
    assert "segment 'bomb' is not loaded" in error.message


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("last_order_at: {gte: 9999-12-31}", "out of range; use a date from 1900 to 2100"),
        ("last_order_at: {gte: 0001-01-01}", "out of range"),
        ("last_order_at: {gte: 2026-02-30}", "cannot be read: day is out of range"),
        ("last_order_at: {gte: '900000 days ago'}", "too far back"),
        ("revenue: {gt: 1.0e+300}", "out of range"),
        ("orders: {gte: 99999999999999999999}", "out of range"),
        ("revenue: {gt: .nan}", "out of range"),
        ("{? [a, b] : 1}", "keys must be plain words"),
    ],
)
def test_values_a_refresh_could_not_compute_are_refused(rule: str, words: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(f"name: x\nrule:\n  {rule}\n", "x.yaml")
    assert caught.value.line == 3 and words in caught.value.message


def test_refresh_skips_the_deep_rule_and_computes_the_others(
    engine: Engine, store_segments: Path, tmp_path: Path
) -> None:
    (store_segments / "deep.yaml").write_text(deep_rule(5000))
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,email\nc1,a@example.com\nc2,b@example.com\n")
    ingest_file(kind="customers", path=customers, engine=engine)
    result = refresh(engine, as_of=AS_OF, with_models=False)
    assert "buyers" in result.sizes and "lifecycle:vip" in result.sizes
    assert "deep" not in result.sizes
    [warning] = [w for w in result.warnings if "deep.yaml" in w]
    assert f"deep.yaml:2: nested deeper than {MAX_DEPTH} levels" in warning

    out = CliRunner().invoke(app, ["validate", "--json"])
    assert out.exit_code == 1
    data = json.loads(out.stdout)
    assert "buyers" in data["valid"]
    [error] = [e for e in data["errors"] if e["file"].endswith("deep.yaml")]
    assert error["line"] == 2 and str(MAX_DEPTH) in error["message"]


def test_a_broken_store_override_is_not_replaced_by_the_built_in(store_segments: Path) -> None:
    (store_segments / "lifecycle_vip.yaml").write_text('name: "lifecycle:vip"\nrule: [\n')
    definitions, errors = load_all()
    names = {d.name for d in definitions}
    assert "lifecycle:vip" not in names and "buyers" in names
    [error] = [e for e in errors if e.source.endswith("lifecycle_vip.yaml")]
    assert error.source.startswith(str(store_segments)) and error.line == 3
    assert "segment 'lifecycle:vip' is not loaded" in error.message


def test_a_file_of_thousands_of_mistakes_reports_a_bounded_number() -> None:
    rule = "".join(f"    - field{i}: {{gte: 1}}\n" for i in range(5000))
    definition, errors, _ = parse_checked(f"name: x\nrule:\n  all:\n{rule}", "x.yaml")
    assert definition is None
    assert len(errors) == MAX_ERRORS + 1
    assert errors[-1].message == f"more than {MAX_ERRORS} mistakes; stopped here, fix these first"
    assert [e.line for e in errors[:3]] == [4, 5, 6]


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("bought_category: {name: coffee, at_least: 1.0e+300}", "at_least takes a whole number"),
        ("bought_category: {name: coffee, within_days: -5}", "within_days takes a whole number"),
        ("bought_category: {name: coffee, within_days: 99999999}", "within_days takes a whole"),
        ("bought_category: {at_least: 2}", "bought_category needs a name"),
        ("bought_category: {name: [coffee, [tea]]}", "expected a single value"),
        ("clv: {min: .inf}", "out of range"),
        ("p_alive: {min: yes}", "p_alive is a number"),
    ],
)
def test_counts_and_thresholds_a_refresh_could_not_compute_are_refused(
    rule: str, words: str
) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(f"name: x\nrule:\n  {rule}\n", "x.yaml")
    assert caught.value.line == 3 and words in caught.value.message
