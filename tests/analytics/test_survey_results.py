"""Survey results (``homecoming surveys results``): sent, answered, CSAT and NPS per survey,
against the definitions computed in plain Python."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert

from analytics.report import MIN_BASE
from analytics.surveys import SurveyDefinition, survey_results
from models.campaigns import Message
from models.store import Customer
from models.surveys import SurveyAnswer

M = Message.__table__
T0 = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)


def test_results_match_the_definitions(engine: Engine) -> None:
    rng = random.Random(7)
    scores: dict[str, list[int | None]] = {"csat_after_ticket": [], "nps_quarterly": []}
    with engine.begin() as conn:
        for i in range(300):
            cid = conn.execute(
                insert(Customer.__table__)
                .values(external_id=f"r{i}", locale="en", time_zone="UTC", created_at=T0)
                .returning(Customer.__table__.c.id)
            ).scalar_one()
            survey = "csat_after_ticket" if i % 3 else "nps_quarterly"
            kind = "csat_survey" if i % 3 else "nps_survey"
            mid = conn.execute(
                insert(M)
                .values(
                    campaign=survey,
                    period=f"p{i}",
                    customer_id=cid,
                    channel="email",
                    kind=kind,
                    status="sent",
                    sent_at=T0,
                    created_at=T0,
                )
                .returning(M.c.id)
            ).scalar_one()
            if rng.random() < 0.3:
                continue  # not answered
            if survey == "csat_after_ticket":
                score = rng.choice([1, 2, 3, 4, 4, 5, 5, 5, None])
            else:
                score = rng.randint(0, 10)
            scores[survey].append(score)
            conn.execute(
                insert(SurveyAnswer.__table__).values(
                    message_id=mid,
                    customer_id=cid,
                    survey=survey,
                    kind="csat" if survey == "csat_after_ticket" else "nps",
                    score=score,
                    answered_at=T0,
                    updated_at=T0,
                )
            )
    results = {r["survey"]: r for r in survey_results(engine)}
    csat_scores = [s for s in scores["csat_after_ticket"] if s is not None]
    expected_csat = sum(1 for s in csat_scores if s >= 4) / len(csat_scores)
    assert results["csat_after_ticket"]["csat"] == pytest.approx(expected_csat, abs=1e-4)
    assert results["csat_after_ticket"]["answers"] == len(scores["csat_after_ticket"])
    assert results["csat_after_ticket"]["csat_answers"] == len(csat_scores)
    assert results["csat_after_ticket"]["sent"] == 200
    nps = [s for s in scores["nps_quarterly"] if s is not None]
    expected_nps = 100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) / len(nps)
    assert results["nps_quarterly"]["nps"] == pytest.approx(expected_nps, abs=0.05)
    assert results["nps_quarterly"]["csat"] is None
    assert results["csat_after_ticket"]["nps"] is None


def _ask(engine: Engine, survey: str, kind: str, n: int, answers: list[dict]) -> None:
    """``n`` sent survey messages, the first ``len(answers)`` of them answered."""
    with engine.begin() as conn:
        for i in range(n):
            cid = conn.execute(
                insert(Customer.__table__)
                .values(external_id=f"{survey}{i}", locale="en", time_zone="UTC", created_at=T0)
                .returning(Customer.__table__.c.id)
            ).scalar_one()
            mid = conn.execute(
                insert(M)
                .values(
                    campaign=survey,
                    period=f"p{i}",
                    customer_id=cid,
                    channel="email",
                    kind=f"{kind}_survey",
                    status="sent",
                    sent_at=T0,
                    created_at=T0,
                )
                .returning(M.c.id)
            ).scalar_one()
            if i < len(answers):
                conn.execute(
                    insert(SurveyAnswer.__table__).values(
                        message_id=mid,
                        customer_id=cid,
                        survey=survey,
                        kind=kind,
                        answered_at=T0,
                        updated_at=T0,
                        **answers[i],
                    )
                )


def test_choice_surveys_get_a_breakdown_and_every_survey_its_kind(engine: Engine) -> None:
    rng = random.Random(11)
    picks = [rng.choice(["great", "great", "late", "damaged", "custom"]) for _ in range(60)]
    _ask(engine, "feedback_after_delivery", "feedback", 80, [{"choice": c} for c in picks])
    _ask(engine, "nps_quarterly", "nps", 10, [{"score": 9}, {"score": 3}])
    defined = {
        "feedback_after_delivery": SurveyDefinition("feedback", ("great", "as_expected", "late")),
        "csat_after_ticket": SurveyDefinition("csat"),
    }
    results = {r["survey"]: r for r in survey_results(engine, defined)}
    # Defined but never sent nor answered: listed, with its kind.
    ticket = results["csat_after_ticket"]
    assert (ticket["kind"], ticket["sent"], ticket["answers"]) == ("csat", 0, 0)
    assert ticket["response_rate"] is None and ticket["csat"] is None
    # Kind from the messages sent when there is no definition.
    nps = results["nps_quarterly"]
    assert nps["kind"] == "nps" and nps["nps"] is None and nps["response_rate"] is None
    assert f"10 sent messages, below the minimum base of {MIN_BASE}" in nps["note"]
    feedback = results["feedback_after_delivery"]
    assert feedback["response_rate"] == pytest.approx(60 / 80)
    counts = Counter(picks)
    # Defined choices first, in their order (unpicked ones with 0), then the others.
    expected = ["great", "as_expected", "late", *sorted(set(picks) - {"great", "late"})]
    assert [c["choice"] for c in feedback["choice_breakdown"]] == expected
    for row in feedback["choice_breakdown"]:
        assert row["answers"] == counts.get(row["choice"], 0)
        assert row["share"] == pytest.approx(counts.get(row["choice"], 0) / len(picks))
    assert feedback["choices"] == {c: counts.get(c, 0) for c in expected}


def test_results_command_shows_kinds_and_choices(engine: Engine) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    picks = ["great"] * 20 + ["late"] * 12
    _ask(engine, "feedback_after_delivery", "feedback", 40, [{"choice": c} for c in picks])
    runner = CliRunner()
    result = runner.invoke(app, ["surveys", "results", "--json"])
    assert result.exit_code == 0, result.output
    data = {s["survey"]: s for s in json.loads(result.stdout)["surveys"]}
    assert data["csat_after_ticket"]["kind"] == "csat"  # a built-in definition, no answers
    shares = {c["choice"]: c["share"] for c in data["feedback_after_delivery"]["choice_breakdown"]}
    assert shares["great"] == pytest.approx(20 / 32) and shares["damaged"] == 0
    table = runner.invoke(app, ["surveys", "results"])
    assert table.exit_code == 0, table.output
    assert "feedback_after_delivery: answers by choice" in " ".join(table.stdout.split())
    assert "62.5" in table.stdout  # 20 of 32, rounded once at display
