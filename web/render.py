"""Pages in the customer's language, and the friendly error page every refusal ends in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from models.settings import Settings
from web import i18n

HERE = Path(__file__).parent
STATIC = "../static/style.css"

pages = Environment(
    loader=FileSystemLoader(HERE / "pages"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class PageError(Exception):
    """Stop and show a friendly page: ``kind`` is invalid, expired, form or error.

    ``detail`` is a catalog key (with its values) saying exactly what was wrong, for
    refusals the sender can fix, such as a repeated form field.
    """

    def __init__(
        self,
        kind: str,
        status: int,
        *,
        locale: str | None = None,
        detail: str | None = None,
        **values: str,
    ) -> None:
        super().__init__(detail or kind)
        self.kind, self.status, self.locale = kind, status, locale
        self.detail, self.values = detail, values


def settings_of(request: Request) -> Settings:
    """The settings the app was created with (``create_app``): given ones, or the process's
    read at each request."""
    settings: Callable[[], Settings] = request.app.state.settings
    return settings()


def locale_of(request: Request, customer_locale: str | None = None) -> str:
    """The customer's own language when known, else the browser's, else the store's."""
    return i18n.choose(
        customer_locale=customer_locale,
        accept_language=request.headers.get("accept-language"),
        default=settings_of(request).default_locale,
    )


def render(
    request: Request, page: str, *, locale: str | None, status: int = 200, **values: Any
) -> HTMLResponse:
    lang = locale_of(request, locale)
    html = pages.get_template(page).render(t=i18n.texts(lang), lang=lang, static=STATIC, **values)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, exc: PageError) -> HTMLResponse:
    texts = i18n.texts(locale_of(request, exc.locale))
    detail = texts[exc.detail].format(**exc.values) if exc.detail else None
    return render(
        request, "error.html", locale=exc.locale, status=exc.status, kind=exc.kind, detail=detail
    )
