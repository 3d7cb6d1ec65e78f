"""Errors that stop a whole file (row problems are quarantined instead)."""


class IngestError(Exception):
    """The file cannot be ingested at all; the message names the file and what to fix."""


class RowError(ValueError):
    """One row is bad: which field, and what would be valid."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason
