"""Reading input files as a stream of (line number, fields, raw text), with file-level checks.

Problems that make the file as a whole untrustworthy raise :class:`IngestError`: it is
missing, empty, compressed and cut short, not UTF-8 (a wrong encoding would garble every
name in it), a spreadsheet rather than CSV, or lacks a required column. Because the run
loads everything in one transaction, such an error leaves the database as it was.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from ingest.errors import IngestError, RowError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


class Row(NamedTuple):
    """One input row: where it starts, its values by column, and its text for quarantine."""

    line_no: int
    values: dict[str, str]
    raw: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return digest.hexdigest()


def _open_bytes(path: Path) -> io.BufferedIOBase:
    """The file's bytes, gunzipped when it is gzip (by its first bytes, whatever its name)."""
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if path.is_dir():
        raise IngestError(f"{path}: is a folder, expected a CSV file")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic.startswith(ZIP_MAGIC):
            raise IngestError(
                f"{path.name}: is a zip archive or a spreadsheet (.xlsx); export it as CSV "
                "(nothing was loaded)"
            )
        if magic.startswith(GZIP_MAGIC):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return path.open("rb")
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read ({exc.strerror or exc})") from None


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
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise IngestError(
                f"{self._name}: the file is truncated or corrupt after line {self.line_no} "
                f"({exc}); nothing was loaded — export or download it again"
            ) from None
        if not data:
            raise StopIteration
        self.line_no += 1
        if self.line_no == 1:
            if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
                raise IngestError(
                    f"{self._name}: the file is UTF-16 (or binary); save it as UTF-8 CSV "
                    "(nothing was loaded)"
                )
            data = data.removeprefix(b"\xef\xbb\xbf")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IngestError(
                f"{self._name}: line {self.line_no} is not UTF-8 (byte 0x{data[exc.start]:02x} at "
                f"column {exc.start + 1}, perhaps Latin-1 or Windows-1252); save the file as "
                "UTF-8 (nothing was loaded)"
            ) from None
        self.taken.append(text)
        return text


@contextmanager
def csv_rows(
    path: Path, *, required: Sequence[str], aliases: dict[str, str] | None = None
) -> Iterator[Iterator[Row]]:
    """Rows of a CSV file as dicts keyed by canonical column names.

    ``aliases`` maps other spellings of a column (another export's header) to the
    canonical name. A missing required column is an :class:`IngestError`. A row with
    the wrong number of fields (a line cut short) comes back with an ``__error__`` value
    for the parser to quarantine.
    """
    aliases = aliases or {}
    with _open_bytes(path) as stream:
        lines = _Lines(stream, path.name)
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            raise IngestError(f"{path.name}: the file is empty; expected a header row") from None
        except csv.Error as exc:
            raise IngestError(f"{path.name}: line 1 is not CSV ({exc})") from None
        names = [aliases.get(h.strip(), h.strip()) for h in header]
        missing = [c for c in required if c not in names]
        if missing:
            raise IngestError(
                f"{path.name}: missing required column(s) {', '.join(missing)}; "
                f"required: {', '.join(required)}; found: {', '.join(h.strip() for h in header)}"
            )
        lines.taken.clear()
        width = len(names)

        def rows() -> Iterator[Row]:
            taken = lines.taken
            try:
                for fields in reader:
                    raw = taken[0] if len(taken) == 1 else "".join(taken)
                    line_no = lines.line_no - len(taken) + 1
                    taken.clear()
                    raw = raw.rstrip("\r\n")
                    if not any(fields) or not raw.strip():
                        continue  # a blank line, or only separators: nothing to load or lose
                    if len(fields) == width:
                        values = dict(zip(names, map(str.strip, fields)))  # noqa: B905 (width checked)
                    else:
                        values = {"__error__": f"has {len(fields)} of {width} fields"}
                    yield Row(line_no, values, raw)
            except csv.Error as exc:
                raise IngestError(
                    f"{path.name}: line {lines.line_no} is not valid CSV ({exc}); "
                    "nothing was loaded"
                ) from None

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
