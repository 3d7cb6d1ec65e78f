"""Reading input files as a stream of (line number, fields, raw text), with file-level checks."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IngestError, RowError


@dataclass(frozen=True)
class Row:
    line_no: int
    values: dict[str, str]
    raw: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open_bytes(path: Path) -> io.BufferedIOBase:
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if path.is_dir():
        raise IngestError(f"{path}: is a folder, expected a CSV file")
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # type: ignore[return-value]


class _Lines:
    """Text lines from a byte stream, decoded as UTF-8, remembering what was read for ``raw``."""

    def __init__(self, stream: io.BufferedIOBase, name: str) -> None:
        self._stream = stream
        self._name = name
        self.line_no = 0
        self.taken: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        try:
            data = self._stream.readline()
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise IngestError(
                f"{self._name}: the file is truncated or corrupt after line {self.line_no} "
                f"({exc}); nothing was loaded — export it again"
            ) from None
        if not data:
            raise StopIteration
        self.line_no += 1
        if self.line_no == 1:
            if data.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise IngestError(
                    f"{self._name}: the file is UTF-16; save it as UTF-8 (nothing was loaded)"
                )
            data = data.removeprefix(b"\xef\xbb\xbf")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IngestError(
                f"{self._name}: line {self.line_no} is not UTF-8 (byte 0x{data[exc.start]:02x} at "
                f"column {exc.start + 1}); save the file as UTF-8 (nothing was loaded)"
            ) from None
        self.taken.append(text)
        return text


@contextmanager
def csv_rows(
    path: Path, *, required: Sequence[str], aliases: dict[str, str] | None = None
) -> Iterator[Iterator[Row]]:
    """Rows of a CSV file as dicts keyed by canonical column names.

    ``aliases`` maps other spellings of a column (another export's header) to the
    canonical name. A missing required column is an :class:`IngestError`.
    """
    aliases = aliases or {}
    with _open_bytes(path) as stream:
        lines = _Lines(stream, path.name)
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            raise IngestError(f"{path.name}: the file is empty; expected a header row") from None
        names = [aliases.get(h.strip(), h.strip()) for h in header]
        missing = [c for c in required if c not in names]
        if missing:
            raise IngestError(
                f"{path.name}: missing required column(s) {', '.join(missing)}; "
                f"required: {', '.join(required)}; found: {', '.join(h.strip() for h in header)}"
            )
        lines.taken.clear()

        def rows() -> Iterator[Row]:
            for fields in reader:
                raw = "".join(lines.taken).rstrip("\r\n")
                lines.taken.clear()
                line_no = lines.line_no
                if not fields or all(not f.strip() for f in fields):
                    continue
                if len(fields) != len(names):
                    values = {"__error__": f"has {len(fields)} of {len(names)} fields"}
                else:
                    values = dict(zip(names, (f.strip() for f in fields), strict=True))
                yield Row(line_no, values, raw)

        yield rows()


@contextmanager
def whitespace_rows(path: Path) -> Iterator[Iterator[Row]]:
    """Rows of a whitespace-separated file (CDNOW), values keyed by position."""
    with _open_bytes(path) as stream:
        lines = _Lines(stream, path.name)

        def rows() -> Iterator[Row]:
            for text in lines:
                lines.taken.clear()
                parts = text.split()
                if parts:
                    yield Row(
                        lines.line_no, {str(i): p for i, p in enumerate(parts)}, text.rstrip()
                    )

        yield rows()


def check_fields(row: Row) -> None:
    if "__error__" in row.values:
        raise RowError(
            None, f"line {row.values['__error__']}; the file may be truncated or the row malformed"
        )
