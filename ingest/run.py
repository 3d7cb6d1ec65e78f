"""``ingest_file``: one file into the database, all-or-nothing for file errors, row by row otherwise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from ingest import writers
from ingest.errors import IngestError, RowError
from ingest.formats import get_format
from ingest.records import (
    CustomerRecord,
    DeviceRecord,
    LineRecord,
    Record,
    ReturnRecord,
    ShipmentRecord,
    TicketRecord,
)
from ingest.source import file_sha256
from models.base import utcnow
from models.db import get_engine
from models.ingest import IngestRun, Quarantine
from models.settings import get_settings
from models.store import Order, OrderLine

KINDS = ("customers", "orders", "interactions", "shipments", "devices")
FORMATS = ("generic", "online-retail", "cdnow")
BATCH = 20_000


@dataclass
class IngestSummary:
    """What happened to every row read: ``read`` = loaded + guest lines + cancellations + quarantined + duplicates."""

    kind: str
    format: str
    source: str
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    guest_lines: int = 0
    cancellations: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["accounting"] = {
            "read": self.read,
            "equals": "loaded + guest_lines + cancellations + quarantined + duplicates",
            "sum": self.loaded
            + self.guest_lines
            + self.cancellations
            + self.quarantined
            + self.duplicates,
        }
        return data


class _Batch:
    """Records waiting to be written, and what the writers made of them."""

    def __init__(self, kind: str, *, creates_customers: bool, zone: str) -> None:
        self.kind = kind
        self.creates_customers = creates_customers
        self.zone = zone
        self.records: list[Record] = []

    def flush(self, conn: Connection) -> writers.BatchResult:
        recs, self.records = self.records, []
        if not recs:
            return writers.BatchResult()
        if self.kind == "customers":
            return writers.write_customers(conn, _only(recs, CustomerRecord), zone=self.zone)
        if self.kind == "orders":
            return writers.write_orders(
                conn,
                _only(recs, LineRecord),
                _only(recs, ReturnRecord),
                create_customers=self.creates_customers,
                zone=self.zone,
            )
        if self.kind == "interactions":
            return writers.write_tickets(conn, _only(recs, TicketRecord))
        if self.kind == "shipments":
            return writers.write_shipments(conn, _only(recs, ShipmentRecord))
        return writers.write_devices(conn, _only(recs, DeviceRecord))


def _only(records: list[Record], cls: type) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


def ingest_file(
    *,
    kind: str,
    path: Path,
    fmt: str = "generic",
    engine: Engine | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Load ``path`` as ``kind`` in format ``fmt``; bad rows go to quarantine, good rows load.

    Raises :class:`IngestError` (and loads nothing) when the file as a whole cannot be read.
    Re-running on the same file loads nothing new: every row counts as a duplicate.
    """
    if kind not in KINDS:
        raise IngestError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if fmt not in FORMATS:
        raise IngestError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    path = Path(path)
    settings = get_settings()
    spec = get_format(
        fmt,
        kind,
        default_currency=settings.default_currency,
        default_zone=settings.default_time_zone,
    )
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    engine = engine or get_engine()
    sha = file_sha256(path)
    summary = IngestSummary(kind=kind, format=fmt, source=path.name)
    with engine.begin() as conn:
        summary.run_id = conn.execute(
            IngestRun.__table__.insert().values(
                kind=kind, format=fmt, source=path.name, sha256=sha, started_at=utcnow()
            )
        ).inserted_primary_key[0]
    try:
        with engine.begin() as conn:
            _load(conn, spec, path, kind, sha, summary, on_progress, settings.default_time_zone)
    except IngestError:
        _finish(engine, summary, status="failed")
        raise
    except BaseException:
        _finish(engine, summary, status="failed")
        raise
    _finish(engine, summary, status="done")
    return summary


def _load(
    conn: Connection,
    spec: Any,
    path: Path,
    kind: str,
    sha: str,
    summary: IngestSummary,
    on_progress: Callable[[int], None] | None,
    zone: str,
) -> None:
    max_order = conn.execute(select(func.coalesce(func.max(Order.id), 0))).scalar_one()
    batch = _Batch(kind, creates_customers=spec.creates_customers, zone=zone)
    raws: dict[int, str] = {}
    quarantine: list[dict[str, Any]] = []

    def flush() -> None:
        result = batch.flush(conn)
        summary.loaded += result.loaded
        summary.guest_lines += result.guest_lines
        summary.cancellations += result.cancellations
        summary.duplicates += result.duplicates
        for line_no, fld, reason in result.rejects:
            quarantine.append(
                _quarantined(summary, sha, line_no, fld, reason, raws.get(line_no, ""))
            )
        _write_quarantine(conn, quarantine, summary)
        raws.clear()
        if on_progress:
            on_progress(summary.read)

    with spec.open_rows(path) as rows:
        for row in rows:
            try:
                record = spec.parse(row)
            except RowError as err:
                summary.read += 1
                quarantine.append(
                    _quarantined(summary, sha, row.line_no, err.field, err.reason, row.raw)
                )
                continue
            if record is None:
                continue
            summary.read += 1
            batch.records.append(record)
            raws[row.line_no] = row.raw
            if len(batch.records) >= BATCH:
                flush()
    flush()
    if kind == "orders":
        _recompute_totals(conn, after_id=max_order)


def _quarantined(
    summary: IngestSummary, sha: str, line_no: int, fld: str | None, reason: str, raw: str
) -> dict[str, Any]:
    return {
        "run_id": summary.run_id,
        "kind": summary.kind,
        "source": summary.source,
        "file_sha256": sha,
        "line_no": line_no,
        "field": fld,
        "reason": reason[:500],
        "raw": raw,
        "created_at": utcnow(),
    }


def _write_quarantine(conn: Connection, rows: list[dict[str, Any]], summary: IngestSummary) -> None:
    """Quarantine rows once per file and line: a re-run finds them again as duplicates."""
    if not rows:
        return
    existing = set(
        conn.execute(
            select(Quarantine.line_no).where(
                Quarantine.file_sha256 == rows[0]["file_sha256"],
                Quarantine.kind == summary.kind,
                Quarantine.line_no.in_([r["line_no"] for r in rows]),
            )
        ).scalars()
    )
    fresh = [r for r in rows if r["line_no"] not in existing]
    summary.quarantined += len(fresh)
    summary.duplicates += len(rows) - len(fresh)
    for r in fresh:
        key = r["field"] or "row"
        summary.quarantine_reasons[key] = summary.quarantine_reasons.get(key, 0) + 1
    writers.insert_ignore(conn, Quarantine, fresh)
    rows.clear()


def _recompute_totals(conn: Connection, *, after_id: int) -> None:
    """Order totals and item counts from their lines, for the orders this run may have touched."""
    lines = OrderLine.__table__
    orders = Order.__table__
    total = (
        select(func.coalesce(func.sum(lines.c.quantity * lines.c.unit_price), 0.0))
        .where(lines.c.order_id == orders.c.id)
        .scalar_subquery()
    )
    items = (
        select(func.coalesce(func.sum(lines.c.quantity), 0))
        .where(lines.c.order_id == orders.c.id)
        .scalar_subquery()
    )
    conn.execute(update(orders).where(orders.c.id > after_id).values(total=total, items=items))


def _finish(engine: Engine, summary: IngestSummary, *, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(IngestRun.__table__)
            .where(IngestRun.__table__.c.id == summary.run_id)
            .values(
                status=status,
                read=summary.read,
                loaded=summary.loaded,
                quarantined=summary.quarantined,
                duplicates=summary.duplicates,
                guest_lines=summary.guest_lines,
                cancellations=summary.cancellations,
                finished_at=utcnow(),
            )
        )
