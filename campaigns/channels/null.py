"""The null transport: takes every message and keeps none (for benchmarks and dry loads)."""

from __future__ import annotations

from campaigns.channels.base import Delivery, Outgoing


class NullTransport:
    name = "null"
    authoritative = True  # nothing is ever delivered, so resending is always harmless

    def __init__(self, *, channel: str) -> None:
        self.channel = channel

    def send(self, item: Outgoing) -> Delivery:
        return Delivery(f"null:{item.ledger_id}")

    def lookup(self, ledger_ids: list[int]) -> dict[int, str]:
        return {}

    def close(self) -> None:
        pass
