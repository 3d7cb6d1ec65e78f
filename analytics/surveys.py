"""Survey results for operators: per survey, what was sent, what came back, and its score.

``homecoming surveys results`` and the demo print these. CSAT and NPS are those of the
reports (:func:`analytics.csat.scores` over ``models.surveys.score_counts``), here over
every answer of a survey at once, without a window.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, case, func, select

from analytics.connection import reading
from analytics.csat import scores
from models.base import table
from models.campaigns import SURVEY_KINDS, Message, MessageStatus
from models.surveys import SCORE_COUNTS, SurveyAnswer, score_counts

A = table(SurveyAnswer).c
M = table(Message).c


def survey_results(engine: Engine) -> list[dict[str, Any]]:
    """Per survey: messages sent, answers, the response rate, comments, and CSAT (share of
    4-5 among 1-5 answers, a fraction) or NPS (promoters minus detractors, per cent of
    0-10 answers); ``choices`` counts the one-click answers of feedback surveys."""
    counts = [c.label(name) for name, c in score_counts().items()]
    with reading(engine) as conn:
        answered = {
            r.survey: r
            for r in conn.execute(
                select(
                    A.survey,
                    func.min(A.kind).label("kind"),
                    func.count().label("answers"),
                    func.sum(case((A.comment.is_not(None), 1), else_=0)).label("comments"),
                    *counts,
                ).group_by(A.survey)
            )
        }
        sent: dict[str, int] = dict(
            conn.execute(
                select(M.campaign, func.count())
                .where(M.status == MessageStatus.sent, M.kind.in_(SURVEY_KINDS))
                .group_by(M.campaign)
            )
            .tuples()
            .all()
        )
        choices: dict[str, dict[str, int]] = {}
        for survey, choice, n in conn.execute(
            select(A.survey, A.choice, func.count())
            .where(A.choice.is_not(None))
            .group_by(A.survey, A.choice)
        ):
            choices.setdefault(survey, {})[choice] = n
    results = []
    for name in sorted(set(answered) | set(sent)):
        row = answered.get(name)
        count = int(row.answers) if row else 0
        score = scores(row._mapping if row else dict.fromkeys(SCORE_COUNTS))
        entry: dict[str, Any] = {
            "survey": name,
            "kind": row.kind if row else None,
            "sent": int(sent.get(name, 0)),
            "answers": count,
            "response_rate": round(count / sent[name], 4) if sent.get(name) else None,
            "comments": int(row.comments or 0) if row else 0,
            "csat_answers": score["csat_answers"],
            "csat": score["csat"],
            "nps_answers": score["nps_answers"],
            "nps": score["nps"],
        }
        if name in choices:
            entry["choices"] = dict(sorted(choices[name].items()))
        results.append(entry)
    return results
