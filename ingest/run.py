"""``ingest_file``: one file into the database, all-or-nothing for file errors, row by row otherwise."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from sqlalchemy import Connection, Engine, select, update

from ingest import bulk, writers
from ingest.errors import DATABASE_ERRORS, IngestError, RowError, StoreError, store_error
from ingest.formats import FORMATS, Format, get_format
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
from models.base import table, utcnow
from models.db import get_engine
from models.ingest import IngestRun, Quarantine
from models.settings import get_settings

R = TypeVar("R")


class QuarantineRow(TypedDict):
    """One ``quarantine`` row, as :meth:`_Run._quarantine` builds it."""

    run_id: int | None
    kind: str
    source: str
    file_sha256: str
    line_no: int
    field: str | None
    reason: str
    raw: str
    created_at: datetime


log = logging.getLogger(__name__)
KINDS = ("customers", "orders", "interactions", "shipments", "devices")
BATCH = 20_000
PARTS = ("loaded", "guest_lines", "cancellations", "quarantined", "duplicates")
_STORE_FAILURES: tuple[type[Exception], ...] = (StoreError, *DATABASE_ERRORS)


@dataclass
class IngestSummary:
    """What happened to every row read.

    ``read`` = ``loaded`` + ``guest_lines`` + ``cancellations`` + ``quarantined`` +
    ``duplicates``: every data row of the file lands in exactly one of these (blank lines
    and a CDNOW header are not rows). ``loaded`` counts new rows: customers, a customer's
    order lines, returns, tickets, shipment events, devices; guest order lines and
    cancellations are counted apart; ``duplicates`` were already in the
    database (a re-run) or repeat an earlier row of the file. ``created`` counts the new
    database rows by table, which group lines into orders and add customers and products.
    """

    kind: str
    format: str
    source: str
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    guest_lines: int = 0
    cancellations: int = 0
    created: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.read == sum(getattr(self, p) for p in PARTS)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["accounting"] = {
            "read": self.read,
            "equals": " + ".join(PARTS),
            "sum": sum(getattr(self, p) for p in PARTS),
            "balanced": self.balanced,
        }
        return data


def ingest_file(
    *,
    kind: str,
    path: Path,
    fmt: str = "generic",
    engine: Engine | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Load ``path`` as ``kind`` in format ``fmt``; bad rows go to quarantine, good rows load.

    The whole file loads in one transaction, so :class:`IngestError` (the file as a
    whole cannot be read: missing, empty, truncated, wrong encoding, missing column)
    leaves the database untouched apart from a failed ``ingest_run`` row. Re-running on
    the same file loads nothing new: every row counts as a duplicate.
    ``on_progress`` receives the number of rows read so far, once per batch.
    """
    if kind not in KINDS:
        raise IngestError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if fmt not in FORMATS:
        raise IngestError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    path = Path(path)
    settings = get_settings()
    spec = get_format(fmt, kind, default_currency=settings.default_currency)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    engine = engine or get_engine()
    started = time.perf_counter()
    sha = file_sha256(path)
    summary = IngestSummary(kind=kind, format=fmt, source=path.name[:255])
    with engine.begin() as conn:
        key = conn.execute(
            table(IngestRun)
            .insert()
            .values(kind=kind, format=fmt, source=summary.source, sha256=sha, started_at=utcnow())
        ).inserted_primary_key
        assert key is not None  # a single-row INSERT always has one
        summary.run_id = key[0]
    try:
        with engine.begin() as conn:
            _Run(conn, spec, summary, sha, zone=settings.default_time_zone).load(path, on_progress)
    except _STORE_FAILURES as exc:
        _finish(engine, summary, status="failed")
        clean = store_error(exc).at(summary.source, None)
        log.warning("ingest run %s failed: %s", summary.run_id, clean)
        raise clean from None
    except BaseException:
        _finish(engine, summary, status="failed")
        raise
    summary.seconds = time.perf_counter() - started
    _finish(engine, summary, status="done")
    return summary


class _Run:
    """One pass over a file: parse rows, number order lines, write batches, keep the books."""

    def __init__(
        self, conn: Connection, spec: Format, summary: IngestSummary, sha: str, *, zone: str
    ) -> None:
        self.conn = conn
        self.spec = spec
        self.summary = summary
        self.sha = sha
        self.zone = zone
        self.records: list[Record] = []
        self.raws: dict[int, str] = {}
        self.quarantine: list[QuarantineRow] = []
        self.created: Counter[str] = Counter()
        # Lines seen so far per order (and rows per return), to number them in file order.
        self.positions: dict[str, int] = {}
        self.return_positions: dict[str, int] = {}

    def load(self, path: Path, on_progress: Callable[[int], None] | None) -> None:
        summary = self.summary
        with self.spec.open_rows(path) as rows:
            for row in rows:
                try:
                    record = self.spec.parse(row)
                except RowError as err:
                    summary.read += 1
                    self._quarantine(row.line_no, err.field, err.reason, row.raw)
                    continue
                if record is None:
                    continue
                summary.read += 1
                self._number(record)
                self.records.append(record)
                self.raws[row.line_no] = row.raw
                if len(self.records) >= BATCH:
                    self.flush()
                    if on_progress:
                        on_progress(summary.read)
        self.flush()
        summary.created = {k: n for k, n in sorted(self.created.items()) if n}
        if on_progress:
            on_progress(summary.read)

    def _number(self, record: Record) -> None:
        if isinstance(record, LineRecord):
            record.position = self.positions[record.order_id] = (
                self.positions.get(record.order_id, 0) + 1
            )
        elif isinstance(record, ReturnRecord):
            record.position = self.return_positions[record.return_id] = (
                self.return_positions.get(record.return_id, 0) + 1
            )

    def flush(self) -> None:
        records, self.records = self.records, []
        if records:
            try:
                result = self._write(records)
            except _STORE_FAILURES as exc:  # where it happened; the values stay out of it
                lines = (records[0].line_no, records[-1].line_no)
                raise store_error(exc).at(self.summary.source, lines) from None
            summary = self.summary
            summary.loaded += result.loaded
            summary.guest_lines += result.guest_lines
            summary.cancellations += result.cancellations
            summary.duplicates += result.duplicates
            self.created.update(result.created)
            for line_no, fld, reason in result.rejects:
                self._quarantine(line_no, fld, reason, self.raws.get(line_no, ""))
        self.raws.clear()
        self._write_quarantine()

    def _write(self, records: list[Record]) -> writers.BatchResult:
        kind, conn, zone = self.summary.kind, self.conn, self.zone
        if kind == "customers":
            return writers.write_customers(conn, _only(records, CustomerRecord), zone=zone)
        if kind == "orders":
            return writers.write_orders(
                conn,
                _only(records, LineRecord),
                _only(records, ReturnRecord),
                create_customers=self.spec.creates_customers,
                zone=zone,
            )
        if kind == "interactions":
            return writers.write_tickets(conn, _only(records, TicketRecord), zone=zone)
        if kind == "shipments":
            return writers.write_shipments(conn, _only(records, ShipmentRecord), zone=zone)
        return writers.write_devices(conn, _only(records, DeviceRecord), zone=zone)

    def _quarantine(self, line_no: int, fld: str | None, reason: str, raw: str) -> None:
        s = self.summary
        self.quarantine.append(
            {
                "run_id": s.run_id,
                "kind": s.kind,
                "source": s.source,
                "file_sha256": self.sha,
                "line_no": line_no,
                "field": fld[:64] if fld else None,
                "reason": reason[:500],
                "raw": raw.replace("\x00", ""),
                "created_at": utcnow(),
            }
        )
        if len(self.quarantine) >= BATCH:
            self._write_quarantine()

    def _write_quarantine(self) -> None:
        """Quarantine rows once per file and line: a re-run finds them again as duplicates."""
        rows, self.quarantine = self.quarantine, []
        if not rows:
            return
        q = table(Quarantine).c
        existing: set[int] = set()
        for part in bulk.chunks([r["line_no"] for r in rows], self.conn):
            existing.update(
                self.conn.execute(
                    select(q.line_no).where(
                        q.file_sha256 == self.sha,
                        q.kind == self.summary.kind,
                        bulk.key_in(self.conn, q.line_no, part),
                    )
                ).scalars()
            )
        fresh = [r for r in rows if r["line_no"] not in existing]
        summary = self.summary
        summary.quarantined += len(fresh)
        summary.duplicates += len(rows) - len(fresh)
        for r in fresh:
            key = r["field"] or "row"
            summary.quarantine_reasons[key] = summary.quarantine_reasons.get(key, 0) + 1
        bulk.insert_ignore(self.conn, Quarantine, fresh)


def _only(records: list[Record], cls: type[R]) -> list[R]:
    return [r for r in records if isinstance(r, cls)]


def _finish(engine: Engine, summary: IngestSummary, *, status: str) -> None:
    """Record the outcome; a failed run loaded nothing, so only its status changes."""
    runs = table(IngestRun)
    counts = {} if status == "failed" else {p: getattr(summary, p) for p in ("read", *PARTS)}
    with engine.begin() as conn:
        conn.execute(
            update(runs)
            .where(runs.c.id == summary.run_id)
            .values(status=status, finished_at=utcnow(), **counts)
        )
