"""Amazon SNS HTTP(S) notifications: verify the signature, confirm subscriptions, unwrap events.

SNS signs each message with a certificate it serves from ``SigningCertURL``; the URL must
be an https address of an SNS host, or anyone could sign with a certificate of their own.
The signature is over a canonical string of the message's fields (SignatureVersion 1:
SHA1withRSA, 2: SHA256withRSA). Only topics listed in ``HOMECOMING_SNS_TOPIC_ARNS`` are
accepted, because any AWS account can publish validly signed messages to this endpoint.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# sns.<region>.amazonaws.com, or .amazonaws.com.cn for the China regions: a region is
# letters-letters-digit (us-east-1, us-gov-west-1, ap-southeast-2), so "sns.s3" is not one.
SNS_HOST = re.compile(
    r"^sns\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2})\.amazonaws\.com(?P<cn>\.cn)?$"
)
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
TYPES = {"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"}
CertificateFetcher = Callable[[str], bytes]


class SnsRejected(ValueError):
    """Not a genuine SNS message for an accepted topic."""


def is_sns_url(url: object, *, certificate: bool = False) -> TypeGuard[str]:
    """True for an https URL whose host is exactly an SNS regional host: no user info, no
    port, no spaces or escapes in the host; a ``certificate`` URL is a ``.pem`` path with no
    query or fragment."""
    if not isinstance(url, str) or not url.isascii() or any(c <= " " for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = SNS_HOST.match(parts.netloc)
    if parts.scheme != "https" or host is None or parts.netloc != parts.hostname:
        return False
    if (host["cn"] is not None) != host["region"].startswith("cn-"):
        return False
    if certificate:
        return parts.path.endswith(".pem") and not parts.query and not parts.fragment
    return parts.path.startswith("/")


@lru_cache(maxsize=16)
def fetch_certificate(url: str) -> bytes:
    """The PEM certificate at an SNS signing URL (cached: SNS rotates them rarely)."""
    if not is_sns_url(url, certificate=True):
        raise SnsRejected("SigningCertURL is not an SNS https URL")
    reply = httpx.get(url, timeout=10, follow_redirects=False)
    reply.raise_for_status()
    return reply.content


def canonical_string(message: Mapping[str, Any]) -> bytes:
    """The text SNS signs: ``Name\\nValue\\n`` for each signed field present, in order."""
    fields = NOTIFICATION_FIELDS if message.get("Type") == "Notification" else SUBSCRIPTION_FIELDS
    parts = []
    for name in fields:
        if name in message and message[name] is not None:
            parts.append(f"{name}\n{message[name]}\n")
    return "".join(parts).encode("utf-8")


def verify_message(
    message: Any, *, topics: list[str], fetch: CertificateFetcher = fetch_certificate
) -> dict[str, Any]:
    """The message if its topic is accepted and its signature holds; ``SnsRejected`` if not."""
    if not isinstance(message, Mapping):
        raise SnsRejected("not a JSON object")
    required = ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "Signature"]
    required += ["SignatureVersion", "SigningCertURL"]
    for name in required:
        if not isinstance(message.get(name), str):
            raise SnsRejected(f"{name} missing")
    if message["Type"] not in TYPES:
        raise SnsRejected("unknown Type")
    if message["TopicArn"] not in topics:
        raise SnsRejected("topic not accepted")
    if message["Type"] != "Notification" and not isinstance(message.get("Token"), str):
        raise SnsRejected("Token missing")
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(message["SignatureVersion"])
    if algorithm is None:
        raise SnsRejected("unknown SignatureVersion")
    if not is_sns_url(message["SigningCertURL"], certificate=True):
        raise SnsRejected("SigningCertURL is not an SNS https URL")
    try:
        signature = base64.b64decode(message["Signature"], validate=True)
        certificate = x509.load_pem_x509_certificate(fetch(message["SigningCertURL"]))
    except (binascii.Error, ValueError) as exc:
        raise SnsRejected("unreadable signature or certificate") from exc
    except httpx.HTTPError as exc:
        raise SnsRejected("certificate could not be fetched") from exc
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsRejected("certificate key is not RSA")
    try:
        key.verify(signature, canonical_string(message), padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise SnsRejected("bad signature") from exc
    return dict(message)


def confirm_by_url(message: Mapping[str, Any]) -> None:
    """Confirm a subscription by visiting its SubscribeURL, only on an SNS https host."""
    url = message.get("SubscribeURL")
    if not is_sns_url(url):
        raise SnsRejected("SubscribeURL is not an SNS https URL")
    httpx.get(url, timeout=10, follow_redirects=False).raise_for_status()
