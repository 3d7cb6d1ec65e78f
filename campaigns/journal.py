"""The send journal: what a sender process told the provider, noted as it happened.

One append-only file per claim session (``<host>_<pid>_<token>.log``), created before the
first claim, with one line per step::

    A 123            about to call the provider for ledger row 123
    S 123 <id>       the provider accepted it, with its message id
    F 123 <reason>   the provider refused it for good
    N 123            the provider definitely did not take it (throttled, paused)

Each line is a single ``write`` to a file opened with ``O_APPEND``, so it survives the
process being killed (the operating system holds it), though not a power cut. After a
crash it answers the question the database cannot: for a row left in ``sending``, no ``A``
line proves the provider was never called, an ``S`` line proves it was sent; only an ``A``
alone leaves the answer to the provider's own record (see ``campaigns/reconcile.py``).
Transports whose lookup is authoritative (the file outbox) need no journal.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def journal_path(directory: Path, claimer: str) -> Path:
    return directory / (SAFE.sub("_", claimer) + ".log")


class Journal:
    def __init__(self, directory: Path, claimer: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = journal_path(directory, claimer)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def _write(self, line: str) -> None:
        os.write(self._fd, (line.replace("\n", " ") + "\n").encode("utf-8", "replace"))

    def attempt(self, ledger_id: int) -> None:
        self._write(f"A {ledger_id}")

    def accepted(self, ledger_id: int, provider_id: str) -> None:
        self._write(f"S {ledger_id} {provider_id}")

    def refused(self, ledger_id: int, reason: str) -> None:
        """Only the provider's error code: its message may quote the address."""
        self._write(f"F {ledger_id} {reason.split(':', 1)[0][:100]}")

    def not_sent(self, ledger_id: int) -> None:
        self._write(f"N {ledger_id}")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@dataclass(frozen=True)
class Entry:
    state: str  # attempted, accepted, refused, not_sent
    detail: str | None = None


def read(directory: Path, claimer: str) -> dict[int, Entry] | None:
    """The last state of every row in a claim session's journal; None if there is none."""
    path = journal_path(directory, claimer)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    states = {"A": "attempted", "S": "accepted", "F": "refused", "N": "not_sent"}
    found: dict[int, Entry] = {}
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) < 2 or parts[0] not in states or not parts[1].isdigit():
            continue  # a torn last line
        found[int(parts[1])] = Entry(states[parts[0]], parts[2] if len(parts) > 2 else None)
    return found


def prune(directory: Path, *, older_than_days: float = 30) -> int:
    """Delete journals untouched for longer than any lease and grace period; how many."""
    if not directory.is_dir():
        return 0
    limit = time.time() - older_than_days * 86400
    removed = 0
    for path in directory.glob("*.log"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
