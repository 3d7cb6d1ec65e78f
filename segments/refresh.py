"""A full segment refresh as of a date, and the membership snapshot it leaves behind.

Order: features -> RFM -> model segments (predictions, clusters) -> rule segments in
dependency order (so ``in_segment`` sees the same day's members) -> one snapshot row per
segment with its size and who entered and left since that segment's previous refresh.

Readers find members through the snapshot rows (``segments.membership``). Features and
RFM scores are committed first (the models read them); then one transaction replaces the
day's members and snapshot rows, so readers see the previous complete snapshot (of that
day, on a re-run) until the new one is whole. Re-running a date replaces its snapshot.
Every membership and snapshot row is written by the database (INSERT ... SELECT), except
the members of model segments, which arrive as id lists and are bulk loaded (COPY on
PostgreSQL).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    union_all,
)

from models.base import UTCDateTime, table, utcnow
from models.dialect import load_rows
from models.segments import CustomerFeatures, SegmentMember, SegmentSnapshot, latest_snapshots
from segments import rfm
from segments.compile import to_sql
from segments.definitions import load_all
from segments.errors import PredictionError
from segments.features import stage_features, store_features

log = logging.getLogger(__name__)
F = table(CustomerFeatures).c
M = table(SegmentMember)
S = table(SegmentSnapshot)


@dataclass
class RefreshResult:
    """What a refresh did: sizes, movement since the previous refresh, warnings and timings."""

    as_of: date
    customers: int = 0
    sizes: dict[str, int] = field(default_factory=dict)
    entered: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def rows(self) -> list[dict[str, Any]]:
        """One row per segment, for tables and artifacts."""
        return [
            {"segment": name, "size": size, "entered": self.entered[name], "left": self.left[name]}
            for name, size in sorted(self.sizes.items())
        ]

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 3)

    def warn(self, message: str) -> None:
        log.warning("segment refresh as of %s: %s", self.as_of, message)
        self.warnings.append(message)


def refresh(
    engine: Engine, *, as_of: date, with_models: bool = True, seed: int = 0
) -> RefreshResult:
    """Recompute every segment as of ``as_of`` and snapshot its members."""
    result = RefreshResult(as_of=as_of)
    definitions, errors = load_all()
    for error in errors:
        result.warn(f"definition skipped: {error}")
    with engine.begin() as conn:
        with result.step("features"):
            stage = stage_features(conn, as_of=as_of)
        with result.step("rfm"):  # scores, and the features table written with them
            result.customers = store_features(conn, stage)
    found = _model_segments(engine, as_of=as_of, seed=seed, result=result) if with_models else {}
    names = [f"rfm:{s}" for s in rfm.SEGMENTS]
    # One transaction from here: readers see the previous snapshot until this one is whole.
    with engine.begin() as conn:
        conn.execute(delete(S).where(S.c.as_of == as_of))
        conn.execute(delete(M).where(M.c.as_of == as_of))
        with result.step("members"):
            conn.execute(
                insert(SegmentMember).from_select(
                    ["segment", "as_of", "customer_id"],
                    select(literal("rfm:") + F.rfm_segment, literal(as_of), F.customer_id).where(
                        F.rfm_segment.is_not(None)
                    ),
                )
            )
            for segment, ids in found.items():
                write_members(conn, segment=segment, as_of=as_of, customer_ids=ids)
                names.append(segment)
        with result.step("rules"):
            for d in definitions:
                query = select(literal(d.name), literal(as_of), F.customer_id).where(
                    to_sql(d.rule, as_of=as_of, written=set(names))
                )
                conn.execute(
                    insert(SegmentMember).from_select(["segment", "as_of", "customer_id"], query)
                )
                names.append(d.name)
        with result.step("snapshots"):
            snapshot(conn, as_of=as_of, segments=names)
            for name, size, entered, left in conn.execute(
                select(S.c.segment, S.c.size, S.c.entered, S.c.left).where(S.c.as_of == as_of)
            ):
                result.sizes[name], result.entered[name], result.left[name] = size, entered, left
    return result


def _model_segments(
    engine: Engine, *, as_of: date, seed: int, result: RefreshResult
) -> dict[str, list[int]]:
    """Predicted and cluster segments, when their modules are installed and the data allows."""
    found: dict[str, list[int]] = {}
    for step in ("predictions", "clusters"):
        with result.step(step):
            try:
                # imported here: optional modules (scikit-learn, SciPy); ImportError skips
                if step == "predictions":
                    from segments.predictions import predicted_segments

                    found |= predicted_segments(engine, as_of=as_of)
                else:
                    from segments.clustering import cluster_segments

                    found |= cluster_segments(engine, as_of=as_of, seed=seed)
            except ImportError as exc:
                result.warn(f"{step} skipped: not available ({exc})")
            except PredictionError as exc:
                result.warn(f"{step} skipped: {exc}")
    return found


def write_members(conn: Connection, *, segment: str, as_of: date, customer_ids: list[int]) -> None:
    """Bulk-load a list of members (a model segment's: millions of rows at scale)."""
    rows = ((segment, as_of, int(c)) for c in customer_ids)
    load_rows(conn, M, ("segment", "as_of", "customer_id"), rows)


def snapshot(conn: Connection, *, as_of: date, segments: list[str]) -> None:
    """One ``segment_snapshot`` row per segment for ``as_of``, computed by the database.

    ``entered``: members now who were not members at the segment's previous snapshot;
    ``left``: the reverse. At a segment's first snapshot everyone has entered.
    """
    conn.execute(delete(S).where(S.c.as_of == as_of))
    if not segments:
        return
    names = union_all(
        *(select(literal(name).label("segment")) for name in dict.fromkeys(segments))
    ).subquery("names")
    now = (
        select(M.c.segment, func.count().label("n"))
        .where(M.c.as_of == as_of)
        .group_by(M.c.segment)
        .subquery("now")
    )
    prev = latest_snapshots(before=as_of).subquery("prev")
    today, before = M.alias("today"), M.alias("before")
    entered = (
        select(today.c.segment, func.count().label("n"))
        .join(prev, prev.c.segment == today.c.segment)
        .where(
            today.c.as_of == as_of,
            ~exists().where(
                and_(
                    before.c.segment == today.c.segment,
                    before.c.as_of == prev.c.as_of,
                    before.c.customer_id == today.c.customer_id,
                )
            ),
        )
        .group_by(today.c.segment)
        .subquery("entered")
    )
    today2, before2 = M.alias("today2"), M.alias("before2")
    left = (
        select(before2.c.segment, func.count().label("n"))
        .join(prev, and_(prev.c.segment == before2.c.segment, prev.c.as_of == before2.c.as_of))
        .where(
            ~exists().where(
                and_(
                    today2.c.segment == before2.c.segment,
                    today2.c.as_of == as_of,
                    today2.c.customer_id == before2.c.customer_id,
                )
            )
        )
        .group_by(before2.c.segment)
        .subquery("left")
    )
    size = func.coalesce(now.c.n, 0)
    rows = (
        select(
            names.c.segment,
            literal(as_of),
            size,
            # at a segment's first snapshot, every member has entered
            case((prev.c.as_of.is_(None), size), else_=func.coalesce(entered.c.n, 0)),
            func.coalesce(left.c.n, 0),
            literal(utcnow(), UTCDateTime()),
        )
        .select_from(names)
        .outerjoin(now, now.c.segment == names.c.segment)
        .outerjoin(prev, prev.c.segment == names.c.segment)
        .outerjoin(entered, entered.c.segment == names.c.segment)
        .outerjoin(left, left.c.segment == names.c.segment)
    )
    conn.execute(
        insert(SegmentSnapshot).from_select(
            ["segment", "as_of", "size", "entered", "left", "created_at"], rows
        )
    )


__all__ = ["RefreshResult", "refresh", "snapshot", "write_members"]
