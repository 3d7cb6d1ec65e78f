"""Strict reading of what a client sends: form fields, query fields and JSON objects.

A field sent twice is refused, never resolved by "last value wins": with
``List-Unsubscribe=no&List-Unsubscribe=One-Click`` a reader that keeps the first value and
one that keeps the last would disagree about what the customer asked for.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from web.render import PageError
from web.security import BodyTooLarge

MAX_FIELDS = 16
MAX_NAME = 40


def _shown(name: str) -> str:
    """A field name as the error page may show it (escaped there; kept short here)."""
    return name if len(name) <= MAX_NAME else name[:MAX_NAME] + "…"


async def read_form(request: Request, allowed: set[str]) -> dict[str, str]:
    """The submitted form as one value per field: no files, no unknown or repeated fields."""
    try:
        form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=8192)
    except BodyTooLarge:
        raise
    except Exception as exc:  # malformed multipart, too many fields, a file
        raise PageError("form", 400) from exc
    values: dict[str, str] = {}
    for name, value in form.multi_items():
        if name in values:
            raise PageError("form", 400, detail="repeated_field", field=_shown(name))
        if name not in allowed or not isinstance(value, str):
            raise PageError("form", 400, detail="unknown_field", field=_shown(name))
        values[name] = value
    return values


def repeated_query_field(query_string: bytes) -> str | None:
    """The first query field named twice, if any."""
    seen: set[str] = set()
    text = query_string.decode("latin-1")
    for name, _ in parse_qsl(text, keep_blank_values=True, max_num_fields=100):
        if name in seen:
            return name
        seen.add(name)
    return None


class UniqueQueryFields:
    """Refuses (400) any request whose query string names a field twice, on every path."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            try:
                name = repeated_query_field(scope["query_string"])
                problem = name and f'the query field "{_shown(name)}" is repeated'
            except ValueError:
                problem = "too many query fields"
            if problem:
                body = f"bad request: {problem}; nothing has been changed\n".encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key {_shown(key)!r}")
        found[key] = value
    return found


def loads_strict(text: bytes | str) -> Any:
    """JSON where an object naming a key twice is an error (``ValueError``)."""
    return json.loads(text, object_pairs_hook=_unique_keys)
