"""``homecoming campaigns``: list, validate, plan (writes nothing) and run, as scripts see them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.main import app
from models.settings import get_settings
from tests.campaigns.conftest import add_customers, add_segment, ledger, set_consent

GOOD = """\
name: cli_news
description: A campaign for the command line tests.
kind: newsletter
segments: [vip]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
holdout: 20
"""
BAD = """\
name: cli_broken
kind: newsletter
segments: [vip, no_such_segment]
cadence: {every: monthly, day: 31, hour: 9}
"""


@pytest.fixture
def definitions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "store"
    (folder / "campaigns").mkdir(parents=True)
    (folder / "campaigns" / "cli_news.yaml").write_text(GOOD)
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(folder))
    get_settings.cache_clear()
    return folder / "campaigns"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["campaigns", *args])
    return result.exit_code, result.output


def test_list_shows_cadences_and_next_runs(engine: Engine, definitions: Path) -> None:
    code, out = invoke("list", "--json")
    assert code == 0, out
    rows = {c["name"]: c for c in json.loads(out)["campaigns"]}
    news = rows["cli_news"]
    assert news["cadence"] == "weekly"
    assert news["schedule"] == "weekly on monday at 10:00 in each recipient's zone"
    # Local time: the next run is Monday 10:00 where the day begins first (UTC+14).
    next_run = datetime.fromisoformat(news["next_run"])
    assert next_run.utcoffset() == timedelta(hours=14)
    assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 10, 0)
    assert timedelta(0) < next_run - datetime.now(UTC) <= timedelta(days=7)
    assert {rows[n]["cadence"] for n in ("biweekly_winback", "monthly_replenishment")} == {
        "biweekly",
        "monthly",
    }


def test_validate_names_file_and_line(engine: Engine, definitions: Path) -> None:
    add_segment(engine, "vip", [])
    code, out = invoke("validate", "--json")
    assert code == 0, out
    assert "cli_news" in json.loads(out)["valid"]
    broken = definitions / "cli_broken.yaml"
    broken.write_text(BAD)
    code, out = invoke("validate", "--json")
    assert code == 1
    errors = json.loads(out)["errors"]
    assert any(e.startswith(f"{broken}:4:") and "day 31" in e for e in errors), errors
    broken.write_text(BAD.replace("day: 31", "day: 3"))
    code, out = invoke("validate", "--json")
    assert code == 1
    assert any(f"{broken}:3:" in e and "no_such_segment" in e for e in json.loads(out)["errors"])


SURVEY = """\
name: cli_feedback
kind: feedback_survey
trigger: {after: delivered, delay: 3d}
survey:
  lookback: 2d
  max_age: soon
  choices: [great, Too Late]
"""


def test_validate_names_file_and_line_of_bad_survey_options(
    engine: Engine, definitions: Path
) -> None:
    """Survey options are checked with the definition, not first when a survey is sent."""
    add_segment(engine, "vip", [])
    broken = definitions / "cli_feedback.yaml"
    broken.write_text(SURVEY)
    code, out = invoke("validate", "--json")
    assert code == 1, out
    found = json.loads(out)
    errors = found["errors"]
    assert any(
        e.startswith(f"{broken}:6:") and "survey.max_age 'soon' is not a duration" in e
        for e in errors
    ), errors
    assert any(
        e.startswith(f"{broken}:7:") and "survey.choices is a list of keys" in e for e in errors
    ), errors
    assert "cli_feedback" not in found["valid"] and "cli_news" in found["valid"]
    code, out = invoke("validate")
    assert code == 1 and "survey.max_age 'soon' is not a duration" in " ".join(out.split())
    broken.write_text(SURVEY.replace("max_age: soon", "max_age: 1w").replace("Too Late", "late"))
    code, out = invoke("validate", "--json")
    assert code == 0, out
    assert "cli_feedback" in json.loads(out)["valid"]


def test_plan_is_a_dry_run_and_run_sends_once(
    engine: Engine, definitions: Path, outbox: Path
) -> None:
    # Zones whose 10:00 wave has come at --now, none of them in its night or past the
    # lateness limit (6 h): one run sends them all.
    zones = ["Europe/Berlin", "Europe/London", "America/Sao_Paulo"]
    ids = add_customers(engine, 30, time_zone=zones * 10)
    set_consent(engine, 1, "unsubscribed")
    add_segment(engine, "vip", ids)
    args = ["cli_news", "--period", "2026-W48", "--now", "2026-11-23T14:00:00Z", "--json"]
    code, out = invoke("plan", *args)
    assert code == 0, out
    plan = json.loads(out)
    assert plan["planned"] + plan["held_out"] == 29
    assert plan["suppressed"] == {"unsubscribed": 1}
    assert set(plan["time_zones"]) <= set(zones)
    assert sum(plan["time_zones"].values()) == plan["planned"]
    assert ledger(engine) == []  # nothing written

    code, out = invoke("run", *args)
    assert code == 0, out
    run = json.loads(out)
    assert run["sent"] == plan["planned"] and run["already_sent"] == 0
    assert run["held_out"] == plan["held_out"]
    code, out = invoke("run", *args)
    again = json.loads(out)
    assert (again["sent"], again["already_sent"]) == (0, plan["planned"])
    assert len(list(outbox.glob("*.eml"))) == plan["planned"]


def test_clear_one_line_errors(engine: Engine, definitions: Path) -> None:
    code, out = invoke("plan", "nope", "--json")
    assert code == 2 and "no campaign named 'nope'" in out and "Traceback" not in out
    add_segment(engine, "vip", [])
    code, out = invoke("plan", "cli_news", "--period", "2026-13")
    assert code == 2 and "is a month; this cadence is weekly" in out
    code, out = invoke("run", "cli_news", "--now", "yesterday")
    assert code == 2 and "ISO 8601" in out


def test_run_refuses_a_future_now_plan_looks_ahead(engine: Engine, definitions: Path) -> None:
    add_segment(engine, "vip", add_customers(engine, 2))
    code, out = invoke("run", "cli_news", "--now", "2999-01-04T10:00:00Z")
    assert code == 2 and "is in the future" in out and "Traceback" not in out
    assert ledger(engine) == []
    code, out = invoke("plan", "cli_news", "--period", "2999-W01", "--now", "2999-01-04T10:00:00Z")
    assert code == 0, out


def test_a_campaign_outside_its_dates_says_why_and_exits_0(
    engine: Engine, definitions: Path
) -> None:
    add_segment(engine, "vip", add_customers(engine, 2))
    (definitions / "cli_old.yaml").write_text(
        GOOD.replace("cli_news", "cli_old") + "start: 2025-01-06\nend: 2025-06-30\n"
    )
    (definitions / "cli_new.yaml").write_text(
        GOOD.replace("cli_news", "cli_new") + "start: 2099-01-05\n"
    )
    code, out = invoke("run", "cli_old")
    assert code == 0 and "cli_old ended on 2025-06-30" in out
    code, out = invoke("run", "cli_old", "--json")
    assert code == 0 and json.loads(out)["inactive"] == "cli_old ended on 2025-06-30"
    code, out = invoke("run", "cli_new")
    assert code == 0 and "cli_new starts on 2099-01-05" in out
    code, out = invoke("plan", "cli_old", "--json")
    assert code == 0 and json.loads(out)["inactive"] == "cli_old ended on 2025-06-30"
    assert ledger(engine) == []


def test_failed_sends_are_grouped_by_reason(
    engine: Engine, definitions: Path, outbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.campaigns.conftest import FakeRenderer

    monkeypatch.setattr("campaigns.render.default_renderer", FakeRenderer)
    good = add_customers(engine, 3)
    broken = add_customers(engine, 2, start=4, first_name="Broken")
    add_segment(engine, "vip", good + broken)
    args = ["cli_news", "--period", "2026-W48", "--now", "2026-11-23T12:00:00Z"]
    code, out = invoke("run", *args, "--json")
    assert code == 0, out
    data = json.loads(out)
    failed = sum(1 for r in ledger(engine) if r.status == "failed")
    assert failed and data["failure_reasons"] == {"render": failed}
    assert data["send"]["failure_reasons"] == {"render": failed}
    # The human output shows the same table (a re-run of a fresh period for it).
    code, out = invoke("run", "cli_news", "--period", "2026-W49", "--now", "2026-11-30T12:00:00Z")
    assert code == 0, out
    assert "failed by reason" in out and "render" in out


def test_a_run_whose_messages_keep_failing_pauses_and_exits_1(
    engine: Engine, definitions: Path, outbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken template must not burn through the audience: past the failure threshold the
    send pauses, the rest stays planned, the exit code says so and the JSON says why."""
    from tests.campaigns.conftest import FakeRenderer

    monkeypatch.setattr("campaigns.render.default_renderer", FakeRenderer)
    good = add_customers(engine, 2)
    broken = add_customers(engine, 12, start=3, first_name="Broken")
    add_segment(engine, "vip", good + broken)
    args = ["cli_news", "--period", "2026-W48", "--now", "2026-11-23T12:00:00Z"]
    result = CliRunner().invoke(app, ["campaigns", "run", *args, "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)  # the whole stdout is the JSON; the error is on stderr
    settings = get_settings()
    assert (
        data["stopped"].startswith("paused:") and "render: missing translation" in data["stopped"]
    )
    assert data["failed"] == data["failure_reasons"]["render"] == settings.send_pause_failures
    statuses = [r.status for r in ledger(engine)]
    assert statuses.count("failed") == settings.send_pause_failures
    assert statuses.count("planned") > 0  # not tried: waits for the fix
    assert "paused" in result.stderr
