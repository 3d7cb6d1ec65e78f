"""The last check before each provider call: the row is still this claim's, the customer
still consents, and has not opted out of the campaign's topic.

A batch can take minutes to send. A customer who unsubscribes or opts out of the topic
meanwhile (and is told so) must not get the next message, and a claim whose lease another worker took over must not
be sent from (the other worker may send it too). So immediately before each call one
indexed lookup reads the row's claim, the customer's consent and topic opt-out; and while it works the
sender renews its lease, so no other worker takes a live claim for an abandoned one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Literal

from sqlalchemy import Engine, and_, exists, false, select

from campaigns.eligibility import consent_reason
from models.base import table, utcnow
from models.campaigns import Message, MessageStatus, Reason
from models.store import Consent
from models.topics import TopicOptOut

M = table(Message)
CONSENT = table(Consent)
OPT_OUT = table(TopicOptOut)
LOST: Literal["lost"] = "lost"  # the claim is no longer ours: neither send nor record


class LastMoment:
    """Checks one claim's rows just before sending, and keeps its lease alive."""

    def __init__(
        self,
        engine: Engine,
        claimer: str,
        *,
        lease: timedelta,
        monotonic: Callable[[], float] = time.monotonic,
        topic: str | None = None,
    ) -> None:
        self.engine = engine
        self.claimer = claimer
        self.topic = topic  # the campaign's; None: opt-outs do not apply
        # Renewed four times per lease, so a slow provider call never lets it run out.
        self.renew_every = max(lease.total_seconds() / 4, 0.5)
        self.monotonic = monotonic
        self.renewed = monotonic()

    def renew(self) -> None:
        """Move the claim's lease forward when a quarter of it has passed."""
        if self.monotonic() - self.renewed < self.renew_every:
            return
        with self.engine.begin() as conn:
            conn.execute(
                M.update()
                .where(M.c.claimed_by == self.claimer, M.c.status == MessageStatus.sending)
                .values(claimed_at=utcnow())
            )
        self.renewed = self.monotonic()

    def refusal(self, ledger_id: int) -> str | None:
        """None to send now; ``LOST``, the consent reason (``unsubscribed``...) or
        ``topic_opt_out``."""
        self.renew()
        opted_out = (
            exists().where(OPT_OUT.c.customer_id == M.c.customer_id, OPT_OUT.c.topic == self.topic)
            if self.topic
            else false()
        )
        query = (
            select(
                M.c.status,
                M.c.claimed_by,
                CONSENT.c.status.label("consent"),
                opted_out.label("opted_out"),
            )
            .select_from(
                M.outerjoin(
                    CONSENT,
                    and_(
                        CONSENT.c.customer_id == M.c.customer_id,
                        CONSENT.c.channel == M.c.channel,
                    ),
                )
            )
            .where(M.c.id == ledger_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        if row is None or row.status != MessageStatus.sending or row.claimed_by != self.claimer:
            return LOST
        return consent_reason(row.consent) or (Reason.topic_opt_out if row.opted_out else None)
