"""A full segment refresh as of a date, and the membership snapshot it leaves behind.

Order: features -> RFM -> model segments (predictions, clusters) -> rule segments in
dependency order (so ``in_segment`` sees today's members) -> snapshot sizes with who
entered and left since the previous refresh. Re-running a date replaces its snapshot.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, Engine, and_, delete, exists, func, insert, literal, select

from models.segments import CustomerFeatures, SegmentMember, SegmentSnapshot
from segments import rfm
from segments.compile import to_sql
from segments.definitions import load_all
from segments.errors import PredictionError
from segments.features import refresh_features
from segments.rules import DefinitionError

log = logging.getLogger(__name__)
F = CustomerFeatures.__table__.c
M = SegmentMember.__table__
BATCH = 10_000


@dataclass
class RefreshResult:
    as_of: date
    customers: int = 0
    sizes: dict[str, int] = field(default_factory=dict)
    entered: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class _Timer:
    def __init__(self, result: RefreshResult) -> None:
        self.result = result

    def step(self, name: str) -> _Step:
        return _Step(self.result, name)


class _Step:
    def __init__(self, result: RefreshResult, name: str) -> None:
        self.result, self.name = result, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.result.seconds[self.name] = round(time.perf_counter() - self.started, 3)


def write_members(conn: Connection, segment: str, as_of: date, customer_ids: list[int]) -> None:
    for i in range(0, len(customer_ids), BATCH):
        part = customer_ids[i : i + BATCH]
        conn.execute(
            insert(SegmentMember),
            [{"segment": segment, "as_of": as_of, "customer_id": c} for c in part],
        )


def refresh(
    engine: Engine, *, as_of: date, with_models: bool = True, seed: int = 0
) -> RefreshResult:
    result = RefreshResult(as_of=as_of)
    timer = _Timer(result)
    with engine.begin() as conn:
        with timer.step("features"):
            result.customers = refresh_features(conn, as_of=as_of)
        with timer.step("rfm"):
            rfm.score(conn)
        conn.execute(delete(SegmentMember).where(SegmentMember.as_of == as_of))
        conn.execute(
            insert(SegmentMember).from_select(
                ["segment", "as_of", "customer_id"],
                select(literal("rfm:") + F.rfm_segment, literal(as_of), F.customer_id).where(
                    F.rfm_segment.is_not(None)
                ),
            )
        )
    if with_models:
        _model_segments(engine, as_of, seed, timer, result)
    definitions, errors = load_all()
    result.warnings += [f"skipped: {e}" for e in errors]
    with engine.begin() as conn, timer.step("rules"):
        for d in definitions:
            query = select(literal(d.name), literal(as_of), F.customer_id).where(
                to_sql(d.rule, as_of=as_of)
            )
            conn.execute(
                insert(SegmentMember).from_select(["segment", "as_of", "customer_id"], query)
            )
    with engine.begin() as conn, timer.step("snapshots"):
        _snapshot(conn, as_of, result)
    return result


def _model_segments(
    engine: Engine, as_of: date, seed: int, timer: _Timer, result: RefreshResult
) -> None:
    from segments.clustering import cluster_segments
    from segments.predictions import predicted_segments

    for name, build in (("predictions", predicted_segments), ("clusters", cluster_segments)):
        with timer.step(name):
            try:
                segments = (
                    build(engine, as_of=as_of)
                    if name == "predictions"
                    else build(engine, as_of=as_of, seed=seed)
                )
            except PredictionError as exc:
                result.warnings.append(f"{name} skipped: {exc}")
                log.warning("%s skipped: %s", name, exc)
                continue
            with engine.begin() as conn:
                for segment, ids in segments.items():
                    write_members(conn, segment, as_of, ids)


def _snapshot(conn: Connection, as_of: date, result: RefreshResult) -> None:
    conn.execute(delete(SegmentSnapshot).where(SegmentSnapshot.as_of == as_of))
    sizes = dict(
        conn.execute(
            select(M.c.segment, func.count()).where(M.c.as_of == as_of).group_by(M.c.segment)
        ).all()
    )
    definitions, _ = load_all()
    for name in [d.name for d in definitions] + [f"rfm:{s}" for s in rfm.SEGMENTS]:
        sizes.setdefault(name, 0)  # an empty segment is still a segment
    previous = dict(
        conn.execute(
            select(SegmentSnapshot.segment, func.max(SegmentSnapshot.as_of))
            .where(SegmentSnapshot.as_of < as_of)
            .group_by(SegmentSnapshot.segment)
        ).all()
    )
    now, before = M.alias("now"), M.alias("before")
    for segment, size in sorted(sizes.items()):
        prev = previous.get(segment)
        entered = left = size if prev is None else 0
        if prev is None:
            left = 0
        else:
            entered = _moved(conn, now, before, segment, as_of, prev)
            left = _moved(conn, before, now, segment, prev, as_of)
        conn.execute(
            insert(SegmentSnapshot).values(
                segment=segment, as_of=as_of, size=size, entered=entered, left=left
            )
        )
        result.sizes[segment], result.entered[segment], result.left[segment] = size, entered, left


def _moved(conn: Connection, here, there, segment: str, here_day: date, there_day: date) -> int:  # type: ignore[no-untyped-def]
    """Members of ``segment`` on ``here_day`` who were not members on ``there_day``."""
    other = select(there.c.customer_id).where(
        and_(
            there.c.segment == segment,
            there.c.as_of == there_day,
            there.c.customer_id == here.c.customer_id,
        )
    )
    return conn.execute(
        select(func.count())
        .select_from(here)
        .where(here.c.segment == segment, here.c.as_of == here_day, ~exists(other))
    ).scalar_one()


__all__ = ["DefinitionError", "RefreshResult", "refresh", "write_members"]
