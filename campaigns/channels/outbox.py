"""The file outbox: each email a ``<ledger id>.eml`` (real MIME, HTML and text parts), each
push a ``<ledger id>.json``, in ``HOMECOMING_OUTBOX_DIR``.

A file is written under a temporary name and hard-linked to its final name, which fails if
the name exists: a message is there whole or not at all, and never written twice, even by
two workers at once. Because the file name is the ledger id, the outbox is its own record:
after a crash, a file present proves a send, a file absent proves none.

Messages hold addresses and names: files are created readable by their owner only (0600),
and a folder the outbox creates is 0700.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from campaigns.channels.base import Delivery, Outgoing, SendError
from campaigns.channels.sns import payload
from models.store import Channel
from templates.errors import RenderError

FILE_MODE = 0o600
DIR_MODE = 0o700


def push_document(item: Outgoing) -> dict[str, object]:
    """The push as the outbox keeps it: the fields and the payload SNS would carry."""
    fields = item.push_fields()
    return {
        "ledger_id": item.ledger_id,
        "customer_id": item.customer_id,
        "campaign": item.campaign,
        "kind": item.kind,
        "device_id": item.device_id,
        "platform": item.platform,
        **fields,
        "payload": payload(ledger_id=item.ledger_id, **fields),
    }


class OutboxTransport:
    name = "outbox"
    authoritative = True

    def __init__(self, directory: Path, *, channel: str) -> None:
        self.directory = Path(directory)
        self.channel = channel
        self.directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)

    def path(self, ledger_id: int) -> Path:
        return self.directory / f"{ledger_id}.{'eml' if self.channel == Channel.email else 'json'}"

    def send(self, item: Outgoing) -> Delivery:
        try:
            if self.channel == Channel.email:
                data = item.mime()
            else:
                data = json.dumps(push_document(item), ensure_ascii=False, indent=1).encode()
        except RenderError as exc:  # e.g. a header with a line break: this message only
            raise SendError(f"render: {exc}"[:500], outcome="failed") from None
        final = self.path(item.ledger_id)
        temporary = self.directory / f".{item.ledger_id}.{uuid.uuid4().hex}.tmp"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            with os.fdopen(os.open(temporary, flags, FILE_MODE), "wb") as handle:
                handle.write(data)
            os.link(temporary, final)
        except FileExistsError:
            pass  # written before (a retry after a crash): the message is already out
        except OSError as exc:
            raise SendError(f"outbox: {exc.strerror or exc}", outcome="stop") from None
        finally:
            temporary.unlink(missing_ok=True)
        return Delivery(f"outbox:{item.ledger_id}")

    def lookup(self, ledger_ids: list[int]) -> dict[int, str]:
        """Which rows caught mid-send are in the outbox. Their sender is gone, so a
        temporary file it left (killed between writing and linking) is removed."""
        for i in ledger_ids:
            for leftover in self.directory.glob(f".{i}.*.tmp"):
                leftover.unlink(missing_ok=True)
        return {i: f"outbox:{i}" for i in ledger_ids if self.path(i).exists()}

    def close(self) -> None:
        pass
