"""Input formats. Each one says which columns it needs and turns a row into a record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IngestError
from ingest.records import Record
from ingest.source import Row

FORMATS = ("generic", "online-retail", "cdnow")


@dataclass(frozen=True)
class Format:
    name: str
    open_rows: Callable[[Path], AbstractContextManager[Iterator[Row]]]
    parse: Callable[[Row], Record | None]
    # Orders name customers the file itself introduces (no customers file exists).
    creates_customers: bool = False


def get_format(fmt: str, kind: str, *, default_currency: str) -> Format:
    from ingest.formats import cdnow, generic, online_retail  # they import Format from here

    if fmt not in FORMATS:
        raise IngestError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "generic":
        return generic.format_for(kind, default_currency=default_currency)
    if kind != "orders":
        raise IngestError(
            f"format {fmt!r} holds orders only; use KIND orders (or --format generic)"
        )
    return online_retail.FORMAT if fmt == "online-retail" else cdnow.FORMAT
