"""Input formats. Each one says which columns it needs and turns a row into a record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from ingest.records import Record
from ingest.source import Row


@dataclass(frozen=True)
class Format:
    name: str
    open_rows: Callable[[Path], AbstractContextManager[Iterator[Row]]]
    parse: Callable[[Row], Record | None]
    creates_customers: bool = False  # orders name customers the file itself introduces


def get_format(fmt: str, kind: str, *, default_currency: str, default_zone: str) -> Format:
    from ingest.errors import IngestError
    from ingest.formats import cdnow, generic, online_retail

    if fmt == "generic":
        return generic.format_for(
            kind, default_currency=default_currency, default_zone=default_zone
        )
    if kind != "orders":
        raise IngestError(
            f"format {fmt!r} holds orders only; use KIND orders (or --format generic)"
        )
    if fmt == "online-retail":
        return online_retail.FORMAT
    if fmt == "cdnow":
        return cdnow.FORMAT
    raise IngestError(f"unknown format {fmt!r}; expected generic, online-retail or cdnow")
