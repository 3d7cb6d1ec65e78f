"""Signed links: every answer, unsubscribe and preference link carries an opaque token.

A token is ``<payload>.<mac>``, both url-safe base64 without padding. The payload is
``key id : action : message id : customer id : argument : issued at`` and the MAC is
HMAC-SHA256 over it with ``settings.secret_key``. The key id is derived from the key
itself, so rotating ``HOMECOMING_SECRET_KEY`` and keeping the old one in
``HOMECOMING_PREVIOUS_SECRET_KEYS`` keeps links already sent working. The token binds the
message, the customer, the action and, for answers, the score or choice: changing any of
them breaks the MAC. Issue time (not expiry) is signed, so shortening
``token_max_age_days`` also shortens links already sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from models.settings import Settings, get_settings

VERSION = "1"
CHOICE_PATTERN = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_TOKEN_LENGTH = 256


class Action(StrEnum):
    unsubscribe = "unsubscribe"
    preferences = "preferences"
    survey = "survey"  # a score: CSAT 1-5 or NPS 0-10
    feedback = "feedback"  # a one-click choice
    feedback_page = "feedback_page"  # free text


_CODES = {
    Action.unsubscribe: "u",
    Action.preferences: "p",
    Action.survey: "s",
    Action.feedback: "f",
    Action.feedback_page: "t",
}
_ACTIONS = {code: action for action, code in _CODES.items()}
# The URL path of each action; the web service routes the same paths.
PATHS = {
    Action.unsubscribe: "unsubscribe",
    Action.preferences: "preferences",
    Action.survey: "answer",
    Action.feedback: "choice",
    Action.feedback_page: "feedback",
}


class InvalidToken(Exception):
    """The token cannot be trusted; nothing may change because of it."""


class TamperedToken(InvalidToken):
    """Malformed, altered, or signed with a key this service does not hold."""


class ExpiredToken(InvalidToken):
    """Genuine but older than ``token_max_age_days``; the claims are kept for a friendly page."""

    def __init__(self, message: str, claims: LinkClaims) -> None:
        super().__init__(message)
        self.claims = claims


@dataclass(frozen=True)
class LinkClaims:
    action: Action
    message_id: int
    customer_id: int
    issued_at: datetime
    key_id: str
    score: int | None = None
    choice: str | None = None


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict: only the canonical encoding is accepted, so no two strings mean one token."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TamperedToken("not base64") from exc
    if _b64encode(raw) != text:
        raise TamperedToken("not canonical base64")
    return raw


def key_id(key: str) -> str:
    """A short, non-secret name for a key, so verification knows which key signed a token."""
    return hashlib.sha256(b"homecoming-link-key:" + key.encode()).hexdigest()[:8]


def _settings(settings: Settings | None) -> Settings:
    """The settings the caller passed (the sender's or the web app's), else the process's."""
    return settings if settings is not None else get_settings()


def _keys(settings: Settings) -> dict[str, bytes]:
    keys: Iterable[str] = [
        settings.secret_key.get_secret_value(),
        *(k.get_secret_value() for k in settings.previous_secret_keys),
    ]
    found: dict[str, bytes] = {}
    for key in keys:
        found.setdefault(key_id(key), key.encode())
    return found


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def _check_argument(action: Action, score: int | None, choice: str | None) -> str:
    if action is Action.survey:
        if choice is not None or not isinstance(score, int) or not 0 <= score <= 10:
            raise ValueError("a survey link needs a score from 0 to 10 and no choice")
        return str(score)
    if action is Action.feedback:
        if score is not None or choice is None or not CHOICE_PATTERN.match(choice):
            raise ValueError("a feedback link needs a choice of 1-32 characters a-z, 0-9 or _")
        return choice
    if score is not None or choice is not None:
        raise ValueError(f"a {action} link takes no score or choice")
    return ""


def sign(
    action: str,
    *,
    message_id: int,
    customer_id: int,
    score: int | None = None,
    choice: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> str:
    """A token for one action on one message to one customer, signed with the current key
    (``settings.secret_key``; ``settings`` None: the process's settings)."""
    act = Action(action)
    if message_id <= 0 or customer_id <= 0:
        raise ValueError("message_id and customer_id must be positive ids")
    argument = _check_argument(act, score, choice)
    issued = int((now or datetime.now(UTC)).timestamp())
    key = _settings(settings).secret_key.get_secret_value()
    fields = [VERSION + key_id(key), _CODES[act], str(message_id), str(customer_id), argument]
    payload = ":".join([*fields, str(issued)]).encode("ascii")
    return f"{_b64encode(payload)}.{_b64encode(_mac(key.encode(), payload))}"


def _parse_int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise TamperedToken("bad number")
    return int(text)


def verify(
    token: str, *, now: datetime | None = None, settings: Settings | None = None
) -> LinkClaims:
    """The claims of a genuine, unexpired token; ``InvalidToken`` otherwise (keys and
    maximum age from ``settings``, None: the process's settings)."""
    settings = _settings(settings)
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise TamperedToken("bad length")
    payload_text, sep, mac_text = token.partition(".")
    if not sep:
        raise TamperedToken("no signature")
    payload, mac = _b64decode(payload_text), _b64decode(mac_text)
    head = payload.split(b":", 1)[0]
    if not head.startswith(VERSION.encode()):
        raise TamperedToken("unknown token version")
    kid = head[len(VERSION) :].decode("ascii", errors="replace")
    key = _keys(settings).get(kid)
    if key is None or not hmac.compare_digest(_mac(key, payload), mac):
        raise TamperedToken("bad signature")

    # Signed by us from here on; parsing is defensive all the same.
    try:
        _, code, message_text, customer_text, argument, issued_text = payload.decode("ascii").split(
            ":"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise TamperedToken("bad payload") from exc
    action = _ACTIONS.get(code)
    if action is None:
        raise TamperedToken("unknown action")
    score = _parse_int(argument) if action is Action.survey else None
    choice = argument if action is Action.feedback else None
    issued_at = datetime.fromtimestamp(_parse_int(issued_text), UTC)
    claims = LinkClaims(
        action=action,
        message_id=_parse_int(message_text),
        customer_id=_parse_int(customer_text),
        issued_at=issued_at,
        key_id=kid,
        score=score,
        choice=choice,
    )
    max_age = timedelta(days=settings.token_max_age_days)
    if (now or datetime.now(UTC)) - issued_at > max_age:
        raise ExpiredToken("link expired", claims)
    return claims


def url_for(token: str, action: str, *, settings: Settings | None = None) -> str:
    """The public URL of ``token`` (``settings.public_url``; None: the process's settings)."""
    base = _settings(settings).public_url.rstrip("/")
    return f"{base}/{PATHS[Action(action)]}/{token}"


def unsubscribe_url(*, message_id: int, customer_id: int, settings: Settings | None = None) -> str:
    """The one-click unsubscribe URL (RFC 8058): POST unsubscribes, GET asks first."""
    token = sign(
        Action.unsubscribe, message_id=message_id, customer_id=customer_id, settings=settings
    )
    return url_for(token, Action.unsubscribe, settings=settings)


def preferences_url(*, message_id: int, customer_id: int, settings: Settings | None = None) -> str:
    token = sign(
        Action.preferences, message_id=message_id, customer_id=customer_id, settings=settings
    )
    return url_for(token, Action.preferences, settings=settings)


def survey_url(
    *, message_id: int, customer_id: int, score: int, settings: Settings | None = None
) -> str:
    """One star or NPS button: it opens the answer page with ``score`` chosen; sending it records."""
    token = sign(
        Action.survey,
        message_id=message_id,
        customer_id=customer_id,
        score=score,
        settings=settings,
    )
    return url_for(token, Action.survey, settings=settings)


def feedback_url(
    *, message_id: int, customer_id: int, choice: str, settings: Settings | None = None
) -> str:
    """One feedback choice: it opens the page with ``choice`` chosen; sending it records."""
    token = sign(
        Action.feedback,
        message_id=message_id,
        customer_id=customer_id,
        choice=choice,
        settings=settings,
    )
    return url_for(token, Action.feedback, settings=settings)


def feedback_page_url(
    *, message_id: int, customer_id: int, settings: Settings | None = None
) -> str:
    """The free-text feedback page for the message."""
    token = sign(
        Action.feedback_page, message_id=message_id, customer_id=customer_id, settings=settings
    )
    return url_for(token, Action.feedback_page, settings=settings)


def survey_links(
    *,
    message_id: int,
    customer_id: int,
    kind: str,
    choices: Iterable[str] = (),
    settings: Settings | None = None,
) -> dict[str, object]:
    """The ``links`` a survey template needs: ``survey`` {score: url}, ``feedback``, page."""
    settings = _settings(settings)  # read once for the whole set
    links: dict[str, object] = {
        "unsubscribe": unsubscribe_url(
            message_id=message_id, customer_id=customer_id, settings=settings
        ),
        "preferences": preferences_url(
            message_id=message_id, customer_id=customer_id, settings=settings
        ),
        "feedback_page": feedback_page_url(
            message_id=message_id, customer_id=customer_id, settings=settings
        ),
    }
    scores = {"csat": range(1, 6), "nps": range(11)}.get(kind, range(0))
    links["survey"] = {
        str(s): survey_url(
            message_id=message_id, customer_id=customer_id, score=s, settings=settings
        )
        for s in scores
    }
    links["feedback"] = {
        c: feedback_url(message_id=message_id, customer_id=customer_id, choice=c, settings=settings)
        for c in choices
    }
    return links
