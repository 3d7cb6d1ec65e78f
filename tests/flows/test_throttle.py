"""One send rate for every sender: the CLI and both flows take slots of the shared limit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.main import app
from models.settings import get_settings
from tests.campaigns.conftest import add_customers, add_segment
from tests.campaigns.surveys import T0, ticket
from tests.web.helpers import customer

NEWS = """\
name: rate_news
kind: newsletter
segments: [vip]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
"""
MONDAY = "2026-11-23T09:30:00+00:00"  # half an hour after the Berlin send time


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOMECOMING_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("HOMECOMING_SEND_JOURNAL_DIR", str(tmp_path / "journal"))
    get_settings.cache_clear()
    return tmp_path / "outbox"


@pytest.fixture
def slots(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Slots taken from the shared limit, by whichever sender."""
    taken: list[int] = []

    def limiter(settings: object = None) -> Callable[[int], None]:
        return taken.append

    for where in ("flows.throttle", "flows.campaigns", "flows.surveys"):
        monkeypatch.setattr(f"{where}.rate_limiter", limiter)
    return taken


@pytest.fixture
def news(engine: Engine, tmp_path: Path, outbox: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "store"
    (folder / "campaigns").mkdir(parents=True)
    (folder / "campaigns" / "rate_news.yaml").write_text(NEWS)
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(folder))
    get_settings.cache_clear()
    add_segment(engine, "vip", add_customers(engine, 12))
    return outbox


def test_campaigns_run_takes_a_slot_per_message(news: Path, slots: list[int]) -> None:
    result = CliRunner().invoke(app, ["campaigns", "run", "rate_news", "--now", MONDAY])
    assert result.exit_code == 0, result.output
    sent = len(list(news.glob("*.eml")))
    assert sent == 12
    assert sum(slots) >= sent


def test_the_campaign_flow_takes_a_slot_per_message(
    prefect_harness: None, news: Path, slots: list[int]
) -> None:
    from flows.campaigns import campaign_period_flow

    result = campaign_period_flow(campaign="rate_news", period="2026-W48", now=MONDAY)
    assert result["sent"] == 12
    assert sum(slots) >= 12


def test_surveys_from_the_cli_and_the_flow_take_slots(
    prefect_harness: None, engine: Engine, outbox: Path, slots: list[int]
) -> None:
    from flows.surveys import send_surveys_flow

    ticket(engine, customer(engine), T0)
    now = (T0 + timedelta(minutes=30)).isoformat()
    result = CliRunner().invoke(app, ["surveys", "send", "--now", now])
    assert result.exit_code == 0, result.output
    assert len(list(outbox.glob("*.eml"))) == 1 and sum(slots) >= 1
    slots.clear()
    ticket(
        engine,
        customer(engine, external_id="c2", email="bo@example.com"),
        T0 + timedelta(hours=1),
        n=1,
    )
    later = (T0 + timedelta(hours=2)).isoformat()
    assert send_surveys_flow(now=later)["sent"] == 1
    assert sum(slots) >= 1
