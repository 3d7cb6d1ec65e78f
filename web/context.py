"""What every customer route needs: the verified token, the database and the clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from campaigns import links
from campaigns.links import Action, ExpiredToken, InvalidToken, LinkClaims
from models.db import get_engine
from web import actions
from web.render import PageError, settings_of

TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,200}\.[A-Za-z0-9_-]{8,100}$")


def engine_of(request: Request) -> Engine:
    return request.app.state.engine or get_engine()


def now_of(request: Request) -> datetime | None:
    """The injected clock's time (tests), or None for the real time."""
    clock = request.app.state.now
    return clock() if clock else None


def verify(request: Request, token: str, *allowed: Action) -> LinkClaims:
    """The claims of a well-formed, genuine, unexpired token for one of these actions."""
    claims, _ = check(request, token, *allowed)
    return claims


def check(
    request: Request, token: str, *allowed: Action, expired_ok: bool = False
) -> tuple[LinkClaims, bool]:
    """The claims of a well-formed, genuine token for one of these actions, and whether it
    has expired. Only with ``expired_ok`` may an expired one pass, and only an unsubscribe
    token: mailbox providers require unsubscribe links to keep working, and an opt-out
    harms no one. Answers and preferences still expire."""
    if not TOKEN.match(token):
        raise PageError("invalid", 400)
    try:
        claims, expired = links.verify(token, settings=settings_of(request)), False
    except ExpiredToken as exc:
        claims, expired = exc.claims, True
        if not (expired_ok and claims.action is Action.unsubscribe):
            locale = _customer_locale(request, claims.customer_id)
            raise PageError("expired", 410, locale=locale) from exc
    except InvalidToken as exc:
        raise PageError("invalid", 400) from exc
    if claims.action not in allowed:
        raise PageError("invalid", 400)
    return claims, expired


def _customer_locale(request: Request, customer_id: int) -> str | None:
    with engine_of(request).connect() as conn:
        return actions.customer_locale(conn, customer_id)


async def run(request: Request, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Database work off the event loop; a link the ledger does not know is a friendly 404."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except actions.LinkRefused as exc:
        raise PageError("invalid", 404) from exc
