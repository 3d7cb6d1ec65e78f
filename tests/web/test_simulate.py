"""The demo's customers answer through the running web service, and the database agrees."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from models.settings import get_settings
from models.store import Interaction
from models.surveys import SurveyAnswer
from tests.web.helpers import customer, message, rows
from web.server import free_port, running
from web.simulate import simulate_answers

A = SurveyAnswer.__table__


@pytest.fixture
def site(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    monkeypatch.setenv("HOMECOMING_PUBLIC_URL", f"http://127.0.0.1:{port}")
    get_settings.cache_clear()
    with running(engine, port=port) as base:
        yield base
    get_settings.cache_clear()


def test_simulated_answers_arrive_through_the_service(engine: Engine, site: str) -> None:
    for i in range(30):
        cid = customer(engine, external_id=f"c{i}", email=f"c{i}@example.com")
        message(
            engine, cid, campaign="csat_after_ticket", kind="csat_survey", template="csat_survey"
        )
        message(engine, cid, campaign="nps", kind="nps_survey", template="nps_survey")
        message(
            engine,
            cid,
            campaign="feedback_after_delivery",
            kind="feedback_survey",
            template="feedback_survey",
        )
    message(engine, cid, campaign="weekly", kind="newsletter", template="newsletter")
    counts = simulate_answers(
        engine,
        base_url=site,
        share=0.5,
        seed=3,
        choices={"feedback_after_delivery": ["great", "late"]},
    )
    answers = rows(engine, A)
    assert counts["answered"] == counts["requested"] == len(answers) > 0
    assert counts.get("comments", 0) == sum(a["comment"] is not None for a in answers)
    for a in answers:
        if a["kind"] == "csat":
            assert 1 <= a["score"] <= 5
        elif a["kind"] == "nps":
            assert 0 <= a["score"] <= 10
        else:
            assert a["choice"] in ("great", "late") and a["score"] is None
    with engine.connect() as conn:
        recorded = conn.execute(
            select(func.count()).where(Interaction.__table__.c.kind == "survey_answer")
        ).scalar_one()
    assert recorded == len(answers)
    # Answered surveys are not answered again.
    assert simulate_answers(engine, base_url=site, share=1.0, seed=4)["requested"] == 90 - len(
        answers
    )
