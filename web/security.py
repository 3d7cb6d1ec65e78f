"""ASGI middleware: security headers on every response, a limit on request bodies, and
redirects that never follow the Host header."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

Scope = dict[str, Any]
Message = dict[str, Any]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    b"content-security-policy": CSP.encode(),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
    b"cross-origin-opener-policy": b"same-origin",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Adds the headers above (and HSTS when served over https) to every response; pages
    that carry a token are never cached."""

    def __init__(self, app: Any, *, hsts: bool = False) -> None:
        self.app = app
        self.extra = dict(HEADERS)
        if hsts:
            self.extra[b"strict-transport-security"] = b"max-age=31536000"

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in self.extra]
                headers += list(self.extra.items())
                if not static:
                    headers = [(k, v) for k, v in headers if k != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyTooLarge(Exception):
    """Raised from ``receive`` past the limit; handlers must let it through."""


class BodyLimit:
    """Refuses request bodies over ``default`` bytes (or a per-path limit) with 413, whether
    announced by Content-Length or streamed without one."""

    def __init__(self, app: Any, *, default: int, paths: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope.get("path", ""), self.default)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await _refuse(send)
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _refuse(send)


async def _refuse(send: Any) -> None:
    body = b"request body too large\n"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RedactAccessLog(logging.Filter):
    """Access-log lines without tokens or client addresses (both identify a person)."""

    TOKEN_PATH = re.compile(r"^/([a-z_]+)/[^/?]+")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _, method, path, version, status = args
            path = self.TOKEN_PATH.sub(r"/\1/<token>", str(path)).split("?", 1)[0]
            record.args = ("-", method, path, version, status)
        return True


class PublicRedirects:
    """Answers a path with a trailing slash by a redirect to the same path without it under
    ``HOMECOMING_PUBLIC_URL``. The router's own trailing-slash redirect is switched off: it
    builds the address from the request's Host header, so ``Host: evil.example`` would send
    a customer (and their token) to another site."""

    def __init__(self, app: Any, *, public_url: Callable[[], str]) -> None:
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or len(path) < 2 or not path.endswith("/"):
            await self.app(scope, receive, send)
            return
        if path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        target = quote(path.strip("/"), safe="/")
        location = f"{self.public_url().rstrip('/')}/{target}"
        await send(
            {
                "type": "http.response.start",
                "status": 307,
                "headers": [(b"location", location.encode("ascii")), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
