"""Survey results for operators: per survey, what was sent, what came back, and its score.

``homecoming surveys results`` and the demo print these. CSAT and NPS are those of the
reports (:func:`analytics.csat.scores` over ``models.surveys.score_counts``), here over
every answer of a survey at once, without a window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, case, func, select

from analytics.connection import reading
from analytics.csat import scores
from analytics.report import join_notes, share, small_base
from models.base import table
from models.campaigns import ANSWER_KINDS, SURVEY_KINDS, Message, MessageStatus
from models.surveys import SCORE_COUNTS, SurveyAnswer, score_counts

A = table(SurveyAnswer).c
M = table(Message).c


@dataclass(frozen=True)
class SurveyDefinition:
    """What a survey's campaign definition says, known before any answer arrives."""

    kind: str  # the answer kind: csat, nps or feedback
    choices: tuple[str, ...] = ()  # the one-click choices of a feedback survey


def survey_results(
    engine: Engine, definitions: Mapping[str, SurveyDefinition] | None = None
) -> list[dict[str, Any]]:
    """Per survey (defined, sent or answered): messages sent, answers, the response rate,
    comments, CSAT (share of 4-5 among 1-5 answers, a fraction) or NPS (promoters minus
    detractors, per cent of 0-10 answers), unrounded and None below the minimum base (see
    ``note``). ``kind`` comes from the definition, else from the messages sent, else from
    the answers. Choice surveys get ``choices`` ({choice: answers}, every defined choice
    included) and ``choice_breakdown`` ([{choice, answers, share}], share of the answers
    with a choice)."""
    definitions = definitions or {}
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
        sent: dict[str, tuple[str, int]] = {
            campaign: (kind, int(n))
            for campaign, kind, n in conn.execute(
                select(M.campaign, func.min(M.kind), func.count())
                .where(M.status == MessageStatus.sent, M.kind.in_(SURVEY_KINDS))
                .group_by(M.campaign)
            )
        }
        choices: dict[str, dict[str, int]] = {}
        for survey, choice, n in conn.execute(
            select(A.survey, A.choice, func.count())
            .where(A.choice.is_not(None))
            .group_by(A.survey, A.choice)
        ):
            choices.setdefault(survey, {})[choice] = int(n)
    results = []
    for name in sorted(set(answered) | set(sent) | set(definitions)):
        row = answered.get(name)
        count = int(row.answers) if row else 0
        n_sent = sent[name][1] if name in sent else 0
        score = scores(row._mapping if row else dict.fromkeys(SCORE_COUNTS))
        defined = definitions.get(name)
        kind = (
            defined.kind
            if defined
            else ANSWER_KINDS.get(sent[name][0])
            if name in sent
            else (row.kind if row else None)
        )
        impossible = count > n_sent
        entry: dict[str, Any] = {
            "survey": name,
            "kind": kind,
            "sent": n_sent,
            "answers": count,
            "response_rate": None if impossible else share(count, n_sent),
            "comments": int(row.comments or 0) if row else 0,
            "csat_answers": score["csat_answers"],
            "csat": score["csat"],
            "nps_answers": score["nps_answers"],
            "nps": score["nps"],
            "note": join_notes(
                f"{count:,} answers to {n_sent:,} sent messages: response rate not shown"
                if impossible
                else small_base(n_sent, "sent messages", "response rate")
                if n_sent
                else "",
                score["note"],
            ),
        }
        recorded = dict(sorted(choices.get(name, {}).items()))
        picked = {**dict.fromkeys(defined.choices if defined else (), 0), **recorded}
        if picked or kind == "feedback":
            entry["choices"] = picked
            entry["choice_breakdown"], note = breakdown(picked)
            entry["note"] = join_notes(entry["note"], note)
        results.append(entry)
    return results


def breakdown(picked: Mapping[str, int]) -> tuple[list[dict[str, Any]], str]:
    """Each choice's answers and share of all answers with a choice (in the definition's
    order, then any other choice recorded), and the note when the shares are not shown."""
    total = sum(picked.values())
    rows = [{"choice": c, "answers": n, "share": share(n, total)} for c, n in picked.items()]
    return rows, small_base(total, "answers with a choice", "choice shares") if total else ""
