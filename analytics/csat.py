"""CSAT and NPS from recorded survey answers."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, case, func, select

from analytics.orders import instant
from analytics.report import Report
from models.segments import SegmentMember, SegmentSnapshot
from models.sqltime import epoch_month
from models.surveys import SurveyAnswer

A = SurveyAnswer.__table__.c
TEXT = (
    "CSAT: the share of 4 and 5 answers among all answers on the 1-5 scale. "
    "NPS: the percentage of promoters (9-10) minus the percentage of detractors (0-6) on the 0-10 scale."
)


def _month_label(m: int) -> str:
    return f"{1970 + m // 12:04d}-{m % 12 + 1:02d}"


def csat_table(
    engine: Engine, *, by: str = "survey", start: date | None = None, end: date | None = None
) -> list[dict]:
    if by == "month":
        key = epoch_month(A.answered_at)
    elif by == "segment":
        key = SegmentMember.segment
    else:
        key = A.survey
    csat = (A.kind == "csat") & A.score.between(1, 5)
    nps = (A.kind == "nps") & A.score.between(0, 10)
    query = select(
        key.label("key"),
        func.sum(case((csat, 1), else_=0)),
        func.sum(case((csat & (A.score >= 4), 1), else_=0)),
        func.sum(case((nps, 1), else_=0)),
        func.sum(case((nps & (A.score >= 9), 1), else_=0)),
        func.sum(case((nps & (A.score <= 6), 1), else_=0)),
    ).where(A.score.is_not(None))
    if by == "segment":
        latest = select(func.max(SegmentSnapshot.as_of)).scalar_subquery()
        query = query.join(
            SegmentMember,
            (SegmentMember.customer_id == A.customer_id) & (SegmentMember.as_of == latest),
        )
    if start:
        query = query.where(A.answered_at >= instant(start))
    if end:
        query = query.where(A.answered_at < instant(end))
    with engine.connect() as conn:
        rows = conn.execute(query.group_by(key).order_by(key)).all()
    out = []
    for k, n_csat, satisfied, n_nps, promoters, detractors in rows:
        out.append(
            {
                by: _month_label(int(k)) if by == "month" else k,
                "csat_answers": int(n_csat or 0),
                "csat": round(satisfied / n_csat, 4) if n_csat else None,
                "nps_answers": int(n_nps or 0),
                "nps": round(100 * (promoters - detractors) / n_nps, 1) if n_nps else None,
            }
        )
    return out


def csat_report(
    engine: Engine, *, by: str = "survey", start: date | None = None, end: date | None = None
) -> Report:
    rows = csat_table(engine, by=by, start=start, end=end)
    monthly = rows if by == "month" else csat_table(engine, by="month", start=start, end=end)
    return Report(
        "csat",
        f"CSAT and NPS by {by}",
        [by, "csat_answers", "csat", "nps_answers", "nps"],
        rows,
        TEXT,
        extra={"monthly": monthly},
    )
