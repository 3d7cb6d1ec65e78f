"""Channels: how a rendered message leaves homecoming.

``outbox`` writes files (the embedded default), ``ses`` sends email through Amazon SES v2,
``sns`` sends mobile push through Amazon SNS, ``null`` drops everything (benchmarks).
Chosen by ``HOMECOMING_EMAIL_TRANSPORT`` and ``HOMECOMING_PUSH_TRANSPORT``.
"""

from __future__ import annotations

from campaigns.channels.base import Delivery, Outgoing, SendError, Transport
from campaigns.channels.null import NullTransport
from campaigns.channels.outbox import OutboxTransport
from campaigns.channels.ses import SesTransport
from campaigns.channels.sns import SnsTransport
from models.settings import Settings
from models.store import Channel

__all__ = ["Delivery", "Outgoing", "SendError", "Transport", "transport_for"]


def transport_for(channel: str, settings: Settings) -> Transport:
    """The configured transport of a channel (``email`` or ``push``)."""
    name = settings.email_transport if channel == Channel.email else settings.push_transport
    if name == "outbox":
        return OutboxTransport(settings.outbox_dir, channel=channel)
    if name == "null":
        return NullTransport(channel=channel)
    if name == "ses" and channel == Channel.email:
        return SesTransport.from_settings(settings)
    if name == "sns" and channel == Channel.push:
        return SnsTransport.from_settings(settings)
    raise ValueError(f"transport {name!r} cannot carry {channel}")
