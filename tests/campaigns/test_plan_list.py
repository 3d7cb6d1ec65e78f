"""``campaigns plan --list``: each customer's outcome and send time on their own clock."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.main import app
from models.settings import get_settings
from tests.campaigns.conftest import add_customers, add_segment, set_consent

# The marketer's case: the schedule in London, Tuesday 10:00 on each recipient's clock.
TUESDAY = """\
name: tuesday_news
kind: newsletter
segments: [vip]
cadence: {every: weekly, day: tuesday, hour: 10, time_zone: Europe/London}
local_time: true
holdout: 10
variants: [{name: a, weight: 50}, {name: b, weight: 50}]
"""
ZONES = [
    "America/Los_Angeles", "America/New_York", "America/Sao_Paulo", "Europe/London",
    "Europe/Berlin", "Europe/Istanbul", "Asia/Dubai", "Asia/Kolkata", "Asia/Bangkok",
    "Asia/Shanghai", "Asia/Seoul", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
]  # fmt: skip
ARGS = ["tuesday_news", "--period", "2026-W48", "--now", "2026-11-20T12:00:00Z"]


@pytest.fixture
def store(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    folder = tmp_path / "store"
    (folder / "campaigns").mkdir(parents=True)
    (folder / "campaigns" / "tuesday_news.yaml").write_text(TUESDAY)
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(folder))
    get_settings.cache_clear()
    ids = add_customers(engine, 3 * len(ZONES), time_zone=ZONES * 3)
    set_consent(engine, 2, "unsubscribed")
    add_segment(engine, "vip", ids)
    return ids


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, ["campaigns", "plan", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_recipient_gets_tuesday_ten_on_their_own_clock(store: list[int]) -> None:
    rows = list(csv.DictReader(io.StringIO(invoke(*ARGS, "--list"))))
    assert len(rows) == len(store)
    planned = [r for r in rows if r["outcome"] == "planned"]
    assert planned and {r["variant"] for r in planned} <= {"a", "b"}
    for r in planned:
        local = datetime.fromisoformat(r["send_at"]).astimezone(ZoneInfo(r["time_zone"]))
        assert (local.strftime("%A"), local.hour, local.minute) == ("Tuesday", 10, 0), r
        assert r["local_send_at"].startswith(local.strftime("Tue %Y-%m-%d 10:00"))
    # Every zone is planned, but for one the hold-out or the unsubscriber may have emptied.
    assert len({r["time_zone"] for r in planned}) >= len(ZONES) - 1
    by_outcome = {r["outcome"] for r in rows}
    assert "unsubscribed" in by_outcome and "held_out" in by_outcome


def test_the_list_agrees_with_the_plan_counts_and_json_parses(store: list[int]) -> None:
    summary = json.loads(invoke(*ARGS, "--json"))
    listed = json.loads(invoke(*ARGS, "--list", "--json"))
    outcomes = [c["outcome"] for c in listed["customers"]]
    assert outcomes.count("planned") == summary["planned"]
    assert outcomes.count("held_out") == summary["held_out"]
    for reason, n in summary["suppressed"].items():
        assert outcomes.count(reason) == n
    assert {c["customer_id"] for c in listed["customers"]} == {f"c{i}" for i in store}
    # The summary shows each zone's local send day and hour.
    for zone, shown in summary["local_send_times"].items():
        assert shown.startswith("Tue ") and " 10:00 " in shown, (zone, shown)
