"""Who may be sent a message at all, and which group and variant a customer falls in.

These rules are checked at three moments: when a campaign or a survey is planned
(``campaigns.planning``, ``campaigns.surveys``), when a claimed batch is re-read before
sending (``campaigns.send``), and, consent only, just before each provider call
(``campaigns.last_moment``).
They live here once so the moments cannot disagree: a customer refused at sending for a
reason planning does not know, or planned although sending would refuse them, would be
counted wrongly in every report.

The order is fixed: consent for the channel first, then a way to reach the customer on it
(an address for email, an enabled device for push). A campaign with a ``fallback`` channel
sends there instead when the reason is one of :data:`FALLBACK_REASONS` (no consent,
unsubscribed, bounced, no address, no device) and the customer may be sent to on the
fallback channel. A complaint is not one: it objects to the messages, not to a channel. The hold-out and the variant come from
stable hashes of (campaign, customer), so every run, retry and machine puts a customer in
the same group, and the control group stays comparable from period to period.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import ColumnElement, exists, false, func

from campaigns.definitions import Campaign
from models.base import table
from models.campaigns import Reason
from models.store import Channel, ConsentStatus, Device

DEVICE = table(Device)
# The consent statuses that are their own suppression reason; any other is ``no_consent``.
REFUSING = (Reason.unsubscribed, Reason.bounced, Reason.complained)


# Reasons a customer cannot be reached on the campaign's channel that let a fallback channel
# carry the message instead; the label the plan shows for a message sent on the fallback.
FALLBACK_REASONS = frozenset(
    (Reason.no_consent, Reason.unsubscribed, Reason.bounced, Reason.no_address, Reason.no_device)
)
FALLBACK_LABEL: dict[str, str] = {Channel.push: "fallback_push", Channel.email: "fallback_email"}


def consent_reason(status: str | None) -> Reason | None:
    """None when the customer is subscribed on the channel, else the suppression reason.

    Only an explicit ``subscribed`` allows sending: no consent row, or a status this code
    does not know, is ``no_consent``, never a guess in favour of sending.
    """
    if status is None:
        return Reason.no_consent
    if status == ConsentStatus.subscribed:
        return None
    return Reason(status) if status in REFUSING else Reason.no_consent


def has_address(email: str | None) -> bool:
    """An email address is on file (ingestion checked its syntax; an '@' tells it is one)."""
    return email is not None and "@" in email


def has_address_sql(email: ColumnElement[str | None]) -> ColumnElement[bool]:
    """:func:`has_address` as a SQL expression, for queries that read many customers."""
    return func.coalesce(email, "").like("%@%")


def has_device_sql(channel: str, customer_id: ColumnElement[int]) -> ColumnElement[bool]:
    """Whether the customer has an enabled push device; false for channels other than push,
    which need none (so the query does not look)."""
    if channel != Channel.push:
        return false()
    return exists().where(DEVICE.c.customer_id == customer_id, DEVICE.c.enabled.is_(True))


def contact_reason(channel: str, *, has_address: bool, has_device: bool) -> Reason | None:
    """None when the customer can be reached on the channel: email needs an address
    (``no_address``), push an enabled device (``no_device``)."""
    if channel == Channel.email and not has_address:
        return Reason.no_address
    if channel == Channel.push and not has_device:
        return Reason.no_device
    return None


def suppression_reason(
    channel: str, consent: str | None, *, has_address: bool, has_device: bool
) -> Reason | None:
    """None when the customer may be sent to on the channel, else why not: the consent
    reason first, then the missing address or device."""
    return consent_reason(consent) or contact_reason(
        channel, has_address=has_address, has_device=has_device
    )


def channel_for(
    campaign: Campaign,
    consents: tuple[str | None, str | None],
    *,
    has_address: bool,
    has_device: bool,
) -> tuple[str, Reason | None]:
    """(the channel to send on, None) or (the campaign's channel, why nobody may be sent to).

    ``consents`` is the consent status on the campaign's channel and on its fallback. Only
    one channel is ever chosen: the fallback only when the campaign's own is refused for a
    reason of :data:`FALLBACK_REASONS`.
    """
    reason = suppression_reason(
        campaign.channel, consents[0], has_address=has_address, has_device=has_device
    )
    fallback = campaign.fallback
    if reason in FALLBACK_REASONS and fallback is not None:
        other = suppression_reason(
            fallback, consents[1], has_address=has_address, has_device=has_device
        )
        if other is None:
            return fallback, None
    return campaign.channel, reason


def bucket(salt: str, campaign: str, customer_id: int) -> float:
    """A stable number in [0, 1) for (campaign, customer): the same on every run and machine."""
    digest = hashlib.sha256(f"{salt}:{campaign}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_held_out(campaign: Campaign, customer_id: int) -> bool:
    """Is the customer in the campaign's hold-out (``holdout`` per cent, sent nothing)?

    Callers ask only about eligible customers, so the hold-out is exactly as eligible as
    the customers sent to, and uplift compares like with like.
    """
    return campaign.holdout > 0 and bucket("holdout", campaign.name, customer_id) * 100 < (
        campaign.holdout
    )


def pick_variant(campaign: Campaign, customer_id: int) -> tuple[str | None, str]:
    """(variant, template): weights by a stable hash of its own, independent of the hold-out."""
    if not campaign.variants:
        return None, campaign.template
    point = bucket("variant", campaign.name, customer_id)
    total = 0.0
    for variant in campaign.variants:
        total += variant.share
        if point < total:
            return variant.name, variant.template or campaign.template
    last = campaign.variants[-1]
    return last.name, last.template or campaign.template


__all__ = [
    "FALLBACK_LABEL",
    "FALLBACK_REASONS",
    "bucket",
    "channel_for",
    "consent_reason",
    "contact_reason",
    "has_address",
    "has_address_sql",
    "has_device_sql",
    "is_held_out",
    "pick_variant",
    "suppression_reason",
]
