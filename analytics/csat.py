"""CSAT and NPS from recorded survey answers, by survey, segment or month: the one definition.

Which answers count as what (the scales) is ``models.surveys.score_counts``, shared with
the ``v_survey_scores`` view; :func:`scores` turns those counts into CSAT and NPS for the
reports and for the survey results (``analytics.surveys``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from sqlalchemy import Engine, FromClause, RowMapping, select

from analytics.connection import reading
from analytics.localtime import LocalTime, month_label
from analytics.orders import Window
from analytics.report import MIN_BASE, Report, Table, join_notes, share, small_base
from models.base import table
from models.segments import latest_members
from models.surveys import SCORE_COUNTS, SurveyAnswer, score_counts

A = table(SurveyAnswer).c
BY = ("survey", "segment", "month")


class Scores(TypedDict):
    """The counts behind CSAT and NPS, and the two scores (None without answers)."""

    csat_answers: int
    satisfied: int
    csat: float | None
    nps_answers: int
    promoters: int
    detractors: int
    nps: float | None
    note: str  # why a score is not available, empty when both are


TEXT = (
    "CSAT: the share of 4 and 5 answers among all CSAT answers on the 1–5 scale. NPS: the "
    "percentage of promoters (9–10) minus the percentage of detractors (0–6) among all NPS "
    "answers on the 0–10 scale, from −100 to 100. A customer's current answer counts (a changed "
    "score replaces the first), dated when first given; months are calendar months in the "
    "store's time zone. By segment: membership in each segment's latest snapshot on or before "
    "the end of the window. n/a: fewer than "
    f"{MIN_BASE} answers of the kind in the group (see note)."
)


def scores(counts: Mapping[str, int | None] | RowMapping) -> Scores:
    """CSAT (share of satisfied among CSAT answers, a fraction) and NPS (promoters minus
    detractors, per cent of NPS answers) from the ``SCORE_COUNTS``, unrounded; None (n/a)
    with fewer than ``MIN_BASE`` answers of the kind, the reason in ``note``."""
    n_csat, satisfied, n_nps, promoters, detractors = (int(counts[k] or 0) for k in SCORE_COUNTS)
    nps = share(promoters - detractors, n_nps)
    return {
        "csat_answers": n_csat,
        "satisfied": satisfied,
        "csat": share(satisfied, n_csat),
        "nps_answers": n_nps,
        "promoters": promoters,
        "detractors": detractors,
        "nps": None if nps is None else 100 * nps,
        "note": join_notes(
            small_base(n_csat, "CSAT answers", "CSAT") if n_csat else "",
            small_base(n_nps, "NPS answers", "NPS") if n_nps else "",
        ),
    }


def csat_rows(engine: Engine, *, window: Window, by: str = "survey") -> list[dict]:
    """One row per key of ``by`` (``survey``, ``segment`` or ``month``)."""
    return [r for r in _grouped(engine, window=window, keys=(by,))]


def csat_by_survey_month(engine: Engine, *, window: Window) -> list[dict]:
    return _grouped(engine, window=window, keys=("survey", "month"))


def _grouped(engine: Engine, *, window: Window, keys: tuple[str, ...]) -> list[dict]:
    for key in keys:
        if key not in BY:
            raise ValueError(
                f"--by {key!r} does not apply to csat; expected one of {', '.join(BY)}"
            )
    with reading(engine) as conn:
        lt = LocalTime.over(conn, window.zone, A.answered_at)
        answers = select(
            A.customer_id, A.survey, A.kind, A.score, lt.month(A.answered_at).label("month")
        ).where(A.score.is_not(None), A.kind.in_(("csat", "nps")))
        if window.start_at:
            answers = answers.where(A.answered_at >= window.start_at)
        if window.end_at:
            answers = answers.where(A.answered_at < window.end_at)
        a = answers.subquery()
        source: FromClause = a
        columns = {"survey": a.c.survey, "month": a.c.month}
        if "segment" in keys:
            members = latest_members(on_or_before=window.end).subquery()
            source = a.join(members, members.c.customer_id == a.c.customer_id)
            columns["segment"] = members.c.segment
        group = [columns[k] for k in keys]
        counts = [c.label(name) for name, c in score_counts(a.c).items()]
        query = (
            select(*(c.label(k) for k, c in zip(keys, group, strict=True)), *counts)
            .select_from(source)
            .group_by(*group)
            .order_by(*group)
        )
        rows = conn.execute(query).all()
    out = []
    for row in rows:
        values = row._mapping
        record = {k: month_label(int(values[k])) if k == "month" else values[k] for k in keys}
        record.update(scores(values))
        if record["csat_answers"] or record["nps_answers"]:
            out.append(record)
    return out


NPS = {"nps": 1}
COLUMNS = ["csat_answers", "satisfied", "csat", "nps_answers", "promoters", "detractors", "nps",
           "note"]  # fmt: skip


def csat_report(engine: Engine, *, window: Window, by: str = "survey") -> Report:
    rows = csat_rows(engine, window=window, by=by)
    over_time = csat_by_survey_month(engine, window=window)
    return Report(
        kind="csat",
        title=f"CSAT and NPS by {by}",
        tables=[
            Table("csat", f"CSAT and NPS by {by}", [by, *COLUMNS], rows, ("csat",), decimals=NPS),
            Table(
                "csat-by-month",
                "CSAT and NPS by survey and month",
                ["survey", "month", *COLUMNS],
                over_time,
                ("csat",),
                decimals=NPS,
            ),
        ],
        definitions=[TEXT],
        window=window.describe(),
    )
