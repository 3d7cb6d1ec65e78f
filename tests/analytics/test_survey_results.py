"""Survey results (``homecoming surveys results``): sent, answered, CSAT and NPS per survey,
against the definitions computed in plain Python."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert

from analytics.surveys import survey_results
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
