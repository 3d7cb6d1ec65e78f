"""The CSV files of the synthetic store: their headers, and one writer per file.

The headers are the generic layout of docs/formats.md, so ``homecoming ingest`` reads the
files as they are. Rows arrive chunk by chunk as iterables of tuples in header order.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

HEADERS: dict[str, tuple[str, ...]] = {
    "customers": (
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "locale",
        "time_zone",
        "country",
        "birthday",
        "email_consent",
        "push_consent",
        "consent_source",
        "created_at",
    ),
    "orders": (
        "order_id",
        "customer_id",
        "ordered_at",
        "sku",
        "product_name",
        "category",
        "quantity",
        "unit_price",
        "currency",
        "type",
        "return_id",
    ),
    "interactions": (
        "ticket_id",
        "customer_id",
        "channel",
        "topic",
        "opened_at",
        "first_response_at",
        "resolved_at",
        "touches",
    ),
    "shipments": ("order_id", "status", "occurred_at", "eta", "carrier"),
    "devices": ("customer_id", "platform", "token", "created_at"),
}


class CsvFiles:
    """One CSV writer per file of ``HEADERS`` in ``out``, counting the data rows written."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, IO[str]] = {
            k: (out / f"{k}.csv").open("w", newline="", encoding="utf-8") for k in HEADERS
        }
        self.csv = {k: csv.writer(f, lineterminator="\n") for k, f in self.files.items()}
        self.counts: Counter[str] = Counter({k: 0 for k in HEADERS})
        for kind, header in HEADERS.items():
            self.csv[kind].writerow(header)

    def __enter__(self) -> CsvFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        for f in self.files.values():
            f.close()

    def rows(self, kind: str, rows: Iterable[tuple[Any, ...]]) -> None:
        rows = list(rows)
        self.csv[kind].writerows(rows)
        self.counts[kind] += len(rows)
