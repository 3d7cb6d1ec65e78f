"""What one input row becomes, whatever the file format, and what became of a batch of them.

Timestamps may still be naive here: a generic file may give local times without an
offset, and only the writer knows the customer (and so the time zone) they belong to.
Writers read these records and never change them; each batch gives back a
:class:`BatchResult` that accounts for every row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple


@dataclass(slots=True)
class CustomerRecord:
    line_no: int
    external_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str = "en"
    time_zone: str = "UTC"
    country: str | None = None
    birthday: date | None = None
    created_at: datetime | None = None
    consents: dict[str, str] = field(default_factory=dict)
    consent_source: str = "import"


@dataclass(slots=True)
class LineRecord:
    """An order line. ``line_no`` is the file line (for quarantine); ``position`` its rank in the order.

    The run numbers lines 1, 2, … per order in file order, so the same order read again
    (the same file, or a later export that overlaps) finds its lines under the same keys.
    """

    line_no: int
    order_id: str
    customer_id: str | None
    ordered_at: datetime
    sku: str
    quantity: int
    unit_price: float
    currency: str
    product_name: str | None = None
    category: str | None = None
    country: str | None = None
    position: int = 0


@dataclass(slots=True)
class ReturnRecord:
    """A return or cancellation row; several rows may share one ``return_id``."""

    line_no: int
    return_id: str
    kind: str  # "return" or "cancellation"
    returned_at: datetime
    order_id: str | None
    customer_id: str | None
    sku: str | None
    quantity: int
    amount: float
    country: str | None = None
    position: int = 0

    @property
    def external_id(self) -> str:
        """``R1`` for the first row of return ``R1``, then ``R1:2``, ``R1:3`` … in file order."""
        return self.return_id if self.position <= 1 else f"{self.return_id}:{self.position}"


@dataclass(slots=True)
class TicketRecord:
    line_no: int
    ticket_id: str
    customer_id: str
    channel: str
    topic: str | None
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    touches: int


@dataclass(slots=True)
class ShipmentRecord:
    line_no: int
    order_id: str
    status: str
    occurred_at: datetime
    eta: datetime | None
    carrier: str | None


@dataclass(slots=True)
class DeviceRecord:
    line_no: int
    customer_id: str
    platform: str
    token: str
    created_at: datetime | None


Record = CustomerRecord | LineRecord | ReturnRecord | TicketRecord | ShipmentRecord | DeviceRecord


class Reject(NamedTuple):
    """A row a writer refused: its file line, the field at fault (None: the row), and why."""

    line_no: int
    field: str | None
    reason: str


@dataclass
class BatchResult:
    """What one batch write did: rows loaded, counted apart, already there, or rejected.

    ``created`` counts the new database rows by table (orders, products, consents …).
    """

    loaded: int = 0
    guest_lines: int = 0
    cancellations: int = 0
    duplicates: int = 0
    rejects: list[Reject] = field(default_factory=list)
    created: Counter[str] = field(default_factory=Counter)

    def add(self, other: BatchResult) -> None:
        self.loaded += other.loaded
        self.guest_lines += other.guest_lines
        self.cancellations += other.cancellations
        self.duplicates += other.duplicates
        self.rejects.extend(other.rejects)
        self.created.update(other.created)
