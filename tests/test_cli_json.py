"""Every ``--json`` of the CLI is one JSON document on stdout, whatever else happens.

Scripts parse the whole stdout with ``json.loads``; warnings, skipped definitions and
errors belong on stderr. The store here has broken campaign, survey and segment
definitions next to good ones, so every command that reads definitions has some to skip.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.main import app
from ingest.run import ingest_file
from models.settings import get_settings
from segments.refresh import refresh
from synthetic import write_store

END = "2026-11-20"
BROKEN_CAMPAIGN = "name: broken_news\nkind: newsletter\nsegments: [vip, no_such_segment]\n"
BROKEN_SURVEY = "name: broken_survey\nkind: csat_survey\ntrigger: {after: lunar_eclipse}\n"
BROKEN_SEGMENT = "name: broken_rule\nrule:\n  all:\n    - bought_category: cofee\n"
GOOD_SEGMENT = "name: coffee_buyers\nrule:\n  all:\n    - bought_category: coffee\n"


@pytest.fixture
def store(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    write_store(out=data, customers=150, seed=2, end=date(2026, 11, 20))
    for kind in ("customers", "orders", "interactions", "shipments", "devices"):
        ingest_file(kind=kind, path=data / f"{kind}.csv", engine=engine)
    definitions = tmp_path / "definitions"
    for folder, name, text in (
        ("campaigns", "broken_news", BROKEN_CAMPAIGN),
        ("campaigns", "broken_survey", BROKEN_SURVEY),
        ("segments", "broken_rule", BROKEN_SEGMENT),
        ("segments", "coffee_buyers", GOOD_SEGMENT),
    ):
        (definitions / folder).mkdir(parents=True, exist_ok=True)
        (definitions / folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(definitions))
    monkeypatch.setenv("HOMECOMING_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("HOMECOMING_SEND_JOURNAL_DIR", str(tmp_path / "journal"))
    get_settings.cache_clear()
    refresh(engine, as_of=date(2026, 11, 20))
    return tmp_path


COMMANDS: list[tuple[str, ...]] = [
    ("db", "current"),
    ("db", "upgrade"),
    ("segments", "list"),
    ("segments", "show", "rfm:champions"),
    ("segments", "validate"),
    ("segments", "refresh", "--as-of", END),
    ("segments", "predict", "--as-of", END),
    ("campaigns", "list"),
    ("campaigns", "validate"),
    ("campaigns", "plan", "weekly_newsletter", "--now", "2026-11-16T12:00:00Z"),
    ("campaigns", "plan", "weekly_newsletter", "--now", "2026-11-16T12:00:00Z", "--list"),
    ("campaigns", "run", "weekly_newsletter", "--now", "2026-11-16T12:00:00Z"),
    ("campaigns", "resend-uncertain", "weekly_newsletter", "--period", "2026-W47", "--yes"),
    ("surveys", "list"),
    ("surveys", "send", "--now", "2026-11-19T12:00:00Z"),
    ("surveys", "results"),
    ("templates", "list"),
    ("templates", "validate"),
    ("templates", "preview", "newsletter", "--locale", "de", "--out", "previews"),
    ("segments", "preview", "definitions/segments/coffee_buyers.yaml"),
    ("report", "all"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_json_output_is_one_document_on_stdout(
    store: Path, args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(store)
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code in (0, 1), (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    data = json.loads(result.stdout)
    assert data  # an object, or a list of them (one per preview)
    if args[:2] in (("campaigns", "validate"), ("segments", "validate")):
        assert result.exit_code == 1  # the broken definitions are errors there
        assert "broken" in json.dumps(data)


def test_generate_and_ingest_json(engine: Engine, tmp_path: Path) -> None:
    made = CliRunner().invoke(
        app, ["generate", "--customers", "20", "--out", str(tmp_path), "--json"]
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["rows"]["customers"] == 20
    loaded = CliRunner().invoke(
        app, ["ingest", "customers", str(tmp_path / "customers.csv"), "--json"]
    )
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)["loaded"] == 20
