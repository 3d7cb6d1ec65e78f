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
from collections import deque
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
            return gzip.open(path, "rb")
        return path.open("rb")
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read ({exc.strerror or exc})") from None


class _Lines:
    """Text lines from a byte stream, decoded as UTF-8, remembering what was read for ``raw``.

    Lines read for a record are kept in ``taken`` with their numbers; lines a broken record
    swallowed can be given back (:meth:`give_back`) to be read again as rows of their own.
    """

    def __init__(self, stream: io.BufferedIOBase, name: str) -> None:
        self._stream = stream
        self._name = name
        self._read = 0  # lines read from the stream
        self._again: deque[tuple[int, str]] = deque()
        self.line_no = 0  # the number of the last line handed out
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            self.line_no, text = self._again.popleft()
        else:
            text = self._next_from_stream()
            self.line_no = self._read
        self.taken.append((self.line_no, text))
        return text

    def give_back(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))

    def take(self) -> list[tuple[int, str]]:
        taken, self.taken = self.taken, []
        return taken

    def _next_from_stream(self) -> str:
        try:
            data = self._stream.readline()
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise IngestError(
                f"{self._name}: the file is truncated or corrupt after line {self._read} "
                f"({exc}); nothing was loaded — export or download it again"
            ) from None
        if not data:
            raise StopIteration
        self._read += 1
        if self._read == 1:
            if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
                raise IngestError(
                    f"{self._name}: the file is UTF-16 (or binary); save it as UTF-8 CSV "
                    "(nothing was loaded)"
                )
            data = data.removeprefix(b"\xef\xbb\xbf")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IngestError(
                f"{self._name}: line {self._read} is not UTF-8 (byte 0x{data[exc.start]:02x} at "
                f"column {exc.start + 1}, perhaps Latin-1 or Windows-1252); save the file as "
                "UTF-8 (nothing was loaded)"
            ) from None


def _raw(lines: list[tuple[int, str]]) -> str:
    return "".join(text for _, text in lines).rstrip("\r\n")


def _header(path: Path, header: list[str], aliases: dict[str, str]) -> list[str]:
    """Canonical column names; a column named twice (or in two spellings) stops the file."""
    names = [aliases.get(h.strip(), h.strip()) for h in header]
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            continue  # an unnamed column (a trailing separator) is never read
        if name in first:
            j = first[name]
            both = f"columns {j + 1} ({header[j].strip()!r}) and {i + 1} ({header[i].strip()!r})"
            raise IngestError(
                f"{path.name}: {both} both hold {name!r}; keep one of them (nothing was loaded)"
            )
        first[name] = i
    return names


def _open_quote_field(text: str, names: list[str]) -> str | None:
    """The column whose quoted value starts on this line and does not end on it."""
    fields = next(csv.reader([text.rstrip("\r\n")]), [])
    index = len(fields) - 1
    return names[index] if 0 <= index < len(names) and names[index] else None


def _swallows_rows(taken: list[tuple[int, str]], width: int) -> bool:
    """Whether a record spanning lines took in lines that are complete rows of their own.

    A value legitimately spanning lines (an address) leaves free text on the lines after
    the first. Lines that read alone as a whole row mean a quote was left open; the last
    line counts only when the quote closes at its very end (else a legitimate value in the
    first column, whose last line holds the other columns, would look like a row).
    """
    *middle, (_, last) = taken[1:]
    rows = [text.rstrip("\r\n") for _, text in middle]
    if last.rstrip("\r\n").endswith('"'):
        rows.append(last.rstrip("\r\n"))
    return any(_whole_row(text, width) for text in rows)


def _whole_row(text: str, width: int) -> bool:
    """One line that reads alone, quotes paired, as ``width`` fields."""
    try:
        return bool(text.strip()) and len(next(csv.reader([text], strict=True), [])) == width
    except csv.Error:
        return False


def _broken_record(taken: list[tuple[int, str]], names: list[str], problem: str) -> Row:
    line_no, text = taken[0]
    if len(taken) == 1:
        reason = f"the quotes on this line do not pair up ({problem})"
    else:
        reason = (
            f"a quoted value starts on this line and is not closed ({problem}); the "
            f"{len(taken) - 1} line(s) after it are read again as rows of their own"
        )
    reason += '; quote whole values, and write a quote inside a value as two ("")'
    field = _open_quote_field(text, names)
    return Row(line_no, {"__error__": reason, "__field__": field or ""}, text.rstrip("\r\n"))


@contextmanager
def csv_rows(
    path: Path, *, required: Sequence[str], aliases: dict[str, str] | None = None
) -> Iterator[Iterator[Row]]:
    """Rows of a CSV file as dicts keyed by canonical column names.

    ``aliases`` maps other spellings of a column (another export's header) to the
    canonical name. A missing or repeated column is an :class:`IngestError`. A bad row
    comes back with an ``__error__`` value (and ``__field__`` when one column is to blame)
    for the parser to quarantine: the wrong number of fields (a line cut short), a NUL
    byte, or an unterminated quote. A quote that is never closed, or that swallows lines
    which are rows of their own, is blamed on the line where it opens; the lines after it
    are read again, so the rows around it still load.
    """
    aliases = aliases or {}
    with _open_bytes(path) as stream:
        lines = _Lines(stream, path.name)
        reader = csv.reader(lines, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise IngestError(f"{path.name}: the file is empty; expected a header row") from None
        except csv.Error as exc:
            raise IngestError(f"{path.name}: line 1 is not CSV ({exc})") from None
        names = _header(path, header, aliases)
        missing = [c for c in required if c not in names]
        if missing:
            raise IngestError(
                f"{path.name}: missing required column(s) {', '.join(missing)}; "
                f"required: {', '.join(required)}; found: {', '.join(h.strip() for h in header)}"
            )
        lines.take()
        width = len(names)

        def rows() -> Iterator[Row]:
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:  # a quote closed in the wrong place, or never
                    taken = lines.take()
                    lines.give_back(taken[1:])
                    yield _broken_record(taken, names, str(exc))
                    continue
                taken = lines.take()
                if len(taken) > 1 and _swallows_rows(taken, width):
                    lines.give_back(taken[1:])
                    yield _broken_record(taken, names, "it swallows whole rows")
                    continue
                raw = _raw(taken)
                if not any(fields) or not raw.strip():
                    continue  # a blank line, or only separators: nothing to load or lose
                yield Row(taken[0][0], _values(names, fields, width, raw), raw)

        yield rows()


def _values(names: list[str], fields: list[str], width: int, raw: str) -> dict[str, str]:
    if len(fields) != width:
        return {
            "__error__": f"line has {len(fields)} of {width} fields; the file may be "
            "truncated or the row malformed"
        }
    values = dict(zip(names, map(str.strip, fields)))  # noqa: B905 (width checked)
    nul = "\x00" in raw and next((n for n, value in values.items() if "\x00" in value and n), None)
    if nul:
        return {
            "__error__": f"{nul} contains a NUL byte (\\x00); remove it from the export",
            "__field__": nul,
        }
    return values


@contextmanager
def whitespace_rows(path: Path) -> Iterator[Iterator[Row]]:
    """Rows of a whitespace-separated file (CDNOW), values keyed by position."""
    with _open_bytes(path) as stream:
        lines = _Lines(stream, path.name)

        def rows() -> Iterator[Row]:
            for text in lines:
                lines.take()
                parts = text.split()
                if parts:
                    yield Row(
                        lines.line_no, {str(i): p for i, p in enumerate(parts)}, text.rstrip()
                    )

        yield rows()


def check_fields(row: Row) -> None:
    """Quarantine a row the reader already found bad (see :func:`csv_rows`)."""
    if "__error__" in row.values:
        raise RowError(row.values.get("__field__") or None, row.values["__error__"])
