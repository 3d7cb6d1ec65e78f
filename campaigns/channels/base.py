"""What every transport takes and gives back, and how it says something went wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from templates.mime import wire_bytes

# failed: refused for good (the row fails with the reason); retry: definitely not sent, try
# again later (the row goes back to planned); uncertain: the provider may have it (the row
# stays 'sending' until reconciled); stop: the account or configuration is wrong, nothing
# more can be sent (this row and the rest of the batch go back to planned).
Outcome = Literal["failed", "retry", "uncertain", "stop"]


class SendError(Exception):
    def __init__(self, reason: str, *, outcome: Outcome, disable_device: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome
        self.disable_device = disable_device


@dataclass(frozen=True)
class Delivery:
    provider_id: str
    endpoint_arn: str | None = None  # a push endpoint created on the way


@dataclass
class Outgoing:
    """One rendered message for one ledger row."""

    ledger_id: int
    customer_id: int
    campaign: str
    kind: str
    channel: str
    sender: str | None = None
    to: str | None = None  # "Name <address>"
    address: str | None = None  # the bare address
    headers: dict[str, str] = field(default_factory=dict)
    email: Any = None  # templates.RenderedEmail
    push: Any = None  # templates.RenderedPush
    device_id: int | None = None
    platform: str | None = None
    token: str | None = None
    endpoint_arn: str | None = None
    _wire: bytes | None = field(default=None, repr=False)

    def mime(self) -> bytes:
        """The complete message, CRLF line ends, headers as homecoming set them.

        Written once: the sender writes it before the provider call (a header it refuses
        fails the row there, instead of an uncertain answer from inside the transport).
        """
        if self._wire is None:
            self._wire = wire_bytes(
                self.email, sender=self.sender or "", to=self.to or "", headers=self.headers
            )
        return self._wire

    def push_fields(self) -> dict[str, str]:
        return {
            "title": self.push.title,
            "body": self.push.body,
            "deep_link": self.push.deep_link or "",
        }


class Transport(Protocol):
    name: str
    channel: str
    # True when lookup() sees every message the transport ever took, so a miss proves a
    # message was never sent (the outbox); False when only the journal and provider events
    # can tell (SES, SNS).
    authoritative: bool

    def send(self, item: Outgoing) -> Delivery: ...

    def lookup(self, ledger_ids: list[int]) -> dict[int, str]:
        """Provider ids of the messages among ``ledger_ids`` the provider is known to hold."""
        ...

    def close(self) -> None: ...
