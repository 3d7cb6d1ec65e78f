"""Segment retention: of the members of a segment on a snapshot date, the share who order
within 30, 60 and 90 days after it, and the revenue per member."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Engine, and_, case, func, select

from analytics.connection import reading
from analytics.localtime import LocalTime, local_midnight
from analytics.orders import DEFINITION, ORD, Window, counted, last_order_day
from analytics.report import MIN_BASE, Report, Table, join_notes, share, small_base
from models.base import table
from models.dialect import date_day
from models.segments import SegmentMember

M = table(SegmentMember).c
DAYS = (30, 60, 90)
HORIZON = max(DAYS)
BY = ("snapshot", "segment")
TEXT = (
    "Segment retention: the members of a segment on a snapshot date; ordered within N days is "
    "the share of them with an order on one of the N days after the snapshot date (days in the "
    "store's time zone; the snapshot day itself is not counted), and revenue per member is the "
    "value of those orders over all members. observed_days says how far the data reaches. By segment: "
    "all snapshot dates of a segment pooled, each member counted once per snapshot. "
    f"n/a: a window not fully observed, or fewer than {MIN_BASE} members (see note)."
)


@dataclass
class Outcome:
    """One segment on one snapshot date (or pooled): members and when they ordered again."""

    members: int = 0
    first_day: dict[int, int] = field(default_factory=dict)  # day after snapshot -> members
    revenue: dict[int, float] = field(default_factory=lambda: dict.fromkeys(DAYS, 0.0))
    observed: int = HORIZON

    def ordered_within(self, days: int) -> int:
        return sum(n for d, n in self.first_day.items() if d <= days)

    def curve(self) -> list[float]:
        """Share who ordered within d days, for d = 0 .. observed days."""
        return [self.ordered_within(d) / self.members for d in range(self.observed + 1)]


def segment_outcomes(engine: Engine, *, window: Window) -> dict[tuple[str, date], Outcome]:
    span = select(func.min(M.as_of), func.max(M.as_of))
    if window.start:
        span = span.where(M.as_of >= window.start)
    if window.end:
        span = span.where(M.as_of <= window.end)
    with reading(engine) as conn:
        first_as_of, last_as_of = conn.execute(span).one()
        if first_as_of is None:
            return {}
        first_as_of, last_as_of = _date(first_as_of), _date(last_as_of)
        lt = LocalTime.over(conn, window.zone, ORD.ordered_at)
        # Only orders that can fall in some window: the day after the first snapshot to
        # HORIZON days after the last one. Each order's local day is computed once.
        lo = local_midnight(first_as_of + timedelta(days=1), window.zone)
        hi = local_midnight(last_as_of + timedelta(days=HORIZON + 1), window.zone)
        o = (
            select(ORD.customer_id, lt.day(ORD.ordered_at).label("d"), ORD.total)
            .where(counted(lo, hi))
            .subquery()
        )
        members = select(M.segment, M.as_of, M.customer_id, date_day(M.as_of).label("s"))
        if window.start:
            members = members.where(M.as_of >= window.start)
        if window.end:
            members = members.where(M.as_of <= window.end)
        m = members.subquery()
        after = o.c.d - m.c.s

        def revenue(days: int) -> ColumnElement[float]:
            return func.coalesce(func.sum(case((after <= days, o.c.total), else_=0.0)), 0.0)

        per_member = (
            select(
                m.c.segment,
                m.c.as_of,
                func.min(after).label("first"),
                *[revenue(d).label(f"r{d}") for d in DAYS],
            )
            .select_from(m)
            .outerjoin(o, and_(o.c.customer_id == m.c.customer_id, after >= 1, after <= HORIZON))
            .group_by(m.c.segment, m.c.as_of, m.c.customer_id)
            .subquery()
        )
        p = per_member.c
        query = select(
            p.segment, p.as_of, p.first, func.count(), *[func.sum(p[f"r{d}"]) for d in DAYS]
        ).group_by(p.segment, p.as_of, p.first)
        rows = conn.execute(query).all()
    # The last local day the data reaches: windows ending after it are not fully observed.
    last_day = last_order_day(engine, window.zone)
    data_end = _day_number(last_day) if last_day else None
    out: dict[tuple[str, date], Outcome] = {}
    for segment, as_of, first, n, *revenues in rows:
        as_of = _date(as_of)
        got = out.setdefault((segment, as_of), Outcome())
        got.members += int(n)
        if first is not None:
            got.first_day[int(first)] = got.first_day.get(int(first), 0) + int(n)
        for d, value in zip(DAYS, revenues, strict=True):
            got.revenue[d] += float(value or 0.0)
        elapsed = (data_end - _day_number(as_of)) if data_end is not None else 0
        got.observed = max(0, min(HORIZON, elapsed))
    return out


def check_by(by: str) -> None:
    if by not in BY:
        raise ValueError(f"--by {by!r} does not apply to segments; expected one of {', '.join(BY)}")


def segment_rows(outcomes: dict[tuple[str, date], Outcome], *, by: str = "snapshot") -> list[dict]:
    check_by(by)
    rows = []
    if by == "segment":
        # A pooled window uses only the snapshots that have observed it fully.
        for segment in sorted({s for s, _ in outcomes}):
            snaps = [o for (s, _), o in outcomes.items() if s == segment]
            rows.append(_pooled_row(segment, snaps))
        return rows
    for (segment, as_of), o in sorted(outcomes.items()):
        row: dict = {"segment": segment, "as_of": as_of.isoformat(), "members": o.members}
        for d in DAYS:
            row[f"ordered_{d}d"] = share(o.ordered_within(d), o.members, observed=o.observed >= d)
        for d in DAYS:
            row[f"revenue_per_member_{d}d"] = (
                o.revenue[d] / o.members if o.observed >= d and o.members else None
            )
        row["observed_days"] = o.observed
        row["note"] = join_notes(small_base(o.members, "members"), _unobserved(o.observed))
        rows.append(row)
    return rows


def _unobserved(observed: int) -> str:
    waiting = [f"{d}" for d in DAYS if observed < d]
    if not waiting:
        return ""
    return f"only {observed} days observed: {', '.join(waiting)}-day figures not shown"


def _pooled_row(segment: str, snaps: list[Outcome]) -> dict:
    row: dict = {
        "segment": segment,
        "snapshots": len(snaps),
        "members": sum(o.members for o in snaps),
    }
    notes = []
    for d in DAYS:
        seen = [o for o in snaps if o.observed >= d]
        n = sum(o.members for o in seen)
        row[f"ordered_{d}d"] = share(sum(o.ordered_within(d) for o in seen), n)
        if n < MIN_BASE:
            notes.append(f"{d} days: {n:,} members observed, below the minimum base of {MIN_BASE}")
    for d in DAYS:
        seen = [o for o in snaps if o.observed >= d]
        n = sum(o.members for o in seen)
        row[f"revenue_per_member_{d}d"] = sum(o.revenue[d] for o in seen) / n if n else None
    row["note"] = join_notes(*notes)
    return row


def segment_report(engine: Engine, *, window: Window, by: str = "snapshot") -> Report:
    check_by(by)
    outcomes = segment_outcomes(engine, window=window)
    rows = segment_rows(outcomes, by=by)
    shares = tuple(f"ordered_{d}d" for d in DAYS)
    money = [f"revenue_per_member_{d}d" for d in DAYS]
    if by == "segment":
        columns = ["segment", "snapshots", "members", *shares, *money, "note"]
    else:
        columns = ["segment", "as_of", "members", *shares, *money, "observed_days", "note"]
    return Report(
        kind="segments",
        title="Segment retention after each snapshot"
        if by == "snapshot"
        else "Segment retention, snapshots pooled",
        tables=[Table("segment-retention", "Segment retention", columns, rows, shares)],
        definitions=[TEXT, DEFINITION],
        window=window.describe() + "; --from/--to select snapshot dates",
        data={
            "curves": _curves(outcomes),
            "over_time": _over_time(outcomes),
            "segments": sorted({s for s, _ in outcomes}),
        },
    )


def _curves(outcomes: dict[tuple[str, date], Outcome]) -> dict[str, dict]:
    """Each segment's latest snapshot whose whole 90-day horizon is observed, with at least
    ``MIN_BASE`` members: its retention curve (share who ordered within d days)."""
    latest: dict[str, tuple[date, Outcome]] = {}
    for (segment, as_of), o in outcomes.items():
        if o.observed < HORIZON or o.members < MIN_BASE:
            continue
        if segment not in latest or as_of > latest[segment][0]:
            latest[segment] = (as_of, o)
    return {
        s: {"as_of": a.isoformat(), "members": o.members, "curve": o.curve()}
        for s, (a, o) in sorted(latest.items())
    }


def _over_time(outcomes: dict[tuple[str, date], Outcome]) -> dict[str, list[tuple[str, float]]]:
    """The 30-day share per segment over snapshot dates (observed windows, enough members)."""
    out: dict[str, list[tuple[str, float]]] = {}
    for (segment, as_of), o in sorted(outcomes.items()):
        value = share(o.ordered_within(DAYS[0]), o.members, observed=o.observed >= DAYS[0])
        if value is not None:
            out.setdefault(segment, []).append((as_of.isoformat(), value))
    return out


def _date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days
