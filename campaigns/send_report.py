"""What a send comes to: counts per outcome and reason, added up batch by batch and step
by step.

Kept apart from ``campaigns.send`` (the sending itself) so the run, the flow and the
reports can read a :class:`SendReport` without depending on how batches are sent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from campaigns.ledger import BatchResult


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    released: int = 0
    uncertain: int = 0
    batches: int = 0
    reconciled: int = 0  # rows an earlier try left mid-send, settled before this step sent
    suppressed: Counter[str] = field(default_factory=Counter)  # skipped at send, by reason
    deferred: Counter[str] = field(default_factory=Counter)  # moved to a later moment
    failures: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None

    def add(self, result: BatchResult) -> None:
        self.batches += 1
        self.sent += len(result.sent)
        self.failed += len(result.failed)
        self.released += len(result.released)
        self.uncertain += len(result.uncertain)
        self.suppressed.update(reason for _, reason in result.suppressed)
        self.deferred.update(reason for _, _, reason in result.deferred)
        for _, reason in result.failed:
            self.failures[reason.split(":", 1)[0][:60]] += 1

    def merge(self, other: SendReport) -> None:
        """Add another step's report to this one (a run sends in several steps)."""
        self.sent += other.sent
        self.failed += other.failed
        self.released += other.released
        self.uncertain += other.uncertain
        self.batches += other.batches
        self.reconciled += other.reconciled
        self.suppressed.update(other.suppressed)
        self.deferred.update(other.deferred)
        self.failures.update(other.failures)
        self.stopped = other.stopped or self.stopped

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "suppressed_at_send": dict(self.suppressed),
            "deferred": dict(self.deferred),
            "released": self.released,
            "uncertain": self.uncertain,
            "batches": self.batches,
            "reconciled": self.reconciled,
            "failure_reasons": dict(self.failures),
            "stopped": self.stopped,
        }
