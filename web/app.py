"""The customer-facing web service: survey answers, one-click unsubscribe, preferences,
and the SNS endpoint for provider events.

Every customer URL is ``/<action>/<token>``: the signed token is the only thing in it.
A GET never unsubscribes (mail scanners follow links); the RFC 8058 POST does at once.
A bad token changes nothing and gets a friendly page in the customer's language.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from campaigns import links
from campaigns.events import MalformedEvent, process_events
from campaigns.links import Action, ExpiredToken, InvalidToken, LinkClaims
from models.db import get_engine
from models.settings import get_settings
from models.surveys import ContactFrequency
from web import actions, i18n, sns
from web.security import BodyLimit, BodyTooLarge, SecurityHeaders

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,200}\.[A-Za-z0-9_-]{8,100}$")
FORM_LIMIT = 16 * 1024
SNS_LIMIT = 256 * 1024
STATIC = "../static/style.css"

pages = Environment(
    loader=FileSystemLoader(HERE / "pages"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class PageError(Exception):
    """Stop and show a friendly page: ``kind`` is invalid, expired or error."""

    def __init__(self, kind: str, status: int, *, locale: str | None = None) -> None:
        super().__init__(kind)
        self.kind, self.status, self.locale = kind, status, locale


def _engine(request: Request) -> Engine:
    return request.app.state.engine or get_engine()


def _locale(request: Request, customer_locale: str | None = None) -> str:
    return i18n.choose(
        customer_locale=customer_locale,
        accept_language=request.headers.get("accept-language"),
        default=get_settings().default_locale,
    )


def render(request: Request, page: str, *, locale: str | None, status: int = 200, **values: Any):
    lang = _locale(request, locale)
    html = pages.get_template(page).render(t=i18n.texts(lang), lang=lang, static=STATIC, **values)
    return HTMLResponse(html, status_code=status)


def _verify(request: Request, token: str, *actions_allowed: Action) -> LinkClaims:
    """The claims of a well-formed, genuine, unexpired token for one of these actions."""
    if not TOKEN.match(token):
        raise PageError("invalid", 400)
    try:
        claims = links.verify(token)
    except ExpiredToken as exc:
        locale = _customer_locale(request, exc.claims.customer_id)
        raise PageError("expired", 410, locale=locale) from exc
    except InvalidToken as exc:
        raise PageError("invalid", 400) from exc
    if claims.action not in actions_allowed:
        raise PageError("invalid", 400)
    return claims


def _customer_locale(request: Request, customer_id: int) -> str | None:
    with _engine(request).connect() as conn:
        return actions.customer_locale(conn, customer_id)


async def _form(request: Request, allowed: set[str]) -> FormData:
    """The submitted form, refusing files, unknown fields and repeated fields."""
    try:
        form = await request.form(max_files=0, max_fields=len(allowed) + 1, max_part_size=8192)
    except BodyTooLarge:
        raise
    except Exception as exc:  # malformed multipart, too many fields, a file
        raise PageError("error", 400) from exc
    keys = list(form.keys())
    if any(k not in allowed for k in keys) or len(keys) != len(set(keys)):
        raise PageError("error", 400)
    if any(not isinstance(v, str) for v in form.values()):
        raise PageError("error", 400)
    return form


async def _run(request: Request, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Database work off the event loop; a link the ledger does not know is a friendly 404."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except actions.LinkRefused as exc:
        raise PageError("invalid", 404) from exc


def _scale(ctx: actions.LinkContext) -> tuple[int, list[dict[str, Any]]]:
    low, high = actions.SCORE_RANGES.get(ctx.survey_kind or "", (1, 0))
    options = [
        {
            "score": s,
            "url": links.survey_url(
                message_id=ctx.message_id, customer_id=ctx.customer_id, score=s
            ),
        }
        for s in range(low, high + 1)
    ]
    return high, options


def _thanks(
    request: Request,
    ctx: actions.LinkContext,
    state: actions.AnswerState,
    *,
    comment_saved: bool = False,
    comment_error: bool = False,
    comment: str | None = None,
    status: int = 200,
):
    max_score, scale = _scale(ctx)
    return render(
        request,
        "thanks.html",
        locale=ctx.locale,
        status=status,
        kind=state.kind,
        score=state.score,
        max_score=max_score,
        scale=scale,
        comment_saved=comment_saved,
        comment_error=comment_error,
        comment=comment,
        max_comment=actions.MAX_COMMENT,
        label=None,
        submit=None,
    )


def create_app(
    *,
    engine: Engine | None = None,
    fetch_certificate: sns.CertificateFetcher | None = None,
    confirm_subscription: Callable[[dict[str, Any]], None] | None = None,
    now: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The web service; the keyword arguments let tests inject the database, an SNS
    certificate source, the subscription confirmer and the clock."""
    app = FastAPI(title="homecoming", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.state.fetch_certificate = fetch_certificate or sns.fetch_certificate
    app.state.confirm_subscription = confirm_subscription or sns.confirm_by_url
    app.state.now = now
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(BodyLimit, default=FORM_LIMIT, paths={"/sns": SNS_LIMIT})
    app.add_middleware(SecurityHeaders, hsts=get_settings().public_url.startswith("https://"))

    def clock() -> datetime | None:
        return app.state.now() if app.state.now else None

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError):
        return render(request, "error.html", locale=exc.locale, status=exc.status, kind=exc.kind)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        log.error("request failed: %s %s", request.method, request.url.path.split("/")[1])
        return render(request, "error.html", locale=None, status=500, kind="error")

    @app.get("/health")
    def health() -> JSONResponse:
        try:
            with (app.state.engine or get_engine()).connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    # Answers: a GET records the score or choice at once; a POST adds a comment.
    @app.get("/answer/{token}")
    @app.get("/choice/{token}")
    async def answer(request: Request, token: str):
        claims = _verify(request, token, Action.survey, Action.feedback)
        ctx, state = await _run(
            request, actions.record_answer, _engine(request), claims, now=clock()
        )
        return _thanks(request, ctx, state)

    @app.post("/answer/{token}")
    @app.post("/choice/{token}")
    async def answer_comment(request: Request, token: str):
        claims = _verify(request, token, Action.survey, Action.feedback)
        form = await _form(request, {"comment"})
        comment = str(form.get("comment", ""))
        engine_ = _engine(request)
        if len(actions.clean_comment(comment)) > actions.MAX_COMMENT:
            ctx, state = await _run(request, actions.save_comment, engine_, claims, "", now=clock())
            return _thanks(request, ctx, state, comment_error=True, comment=comment, status=422)
        ctx, state = await _run(
            request, actions.save_comment, engine_, claims, comment, now=clock()
        )
        return _thanks(request, ctx, state, comment_saved=bool(actions.clean_comment(comment)))

    # Free-text feedback page.
    @app.get("/feedback/{token}")
    async def feedback_page(request: Request, token: str):
        claims = _verify(request, token, Action.feedback_page)
        ctx = await _run(request, _context, _engine(request), claims)
        return _feedback(request, ctx)

    @app.post("/feedback/{token}")
    async def feedback_submit(request: Request, token: str):
        claims = _verify(request, token, Action.feedback_page)
        form = await _form(request, {"comment"})
        comment = str(form.get("comment", ""))
        if len(actions.clean_comment(comment)) > actions.MAX_COMMENT:
            ctx = await _run(request, _context, _engine(request), claims)
            return _feedback(request, ctx, error=True, comment=comment, status=422)
        ctx, _ = await _run(
            request, actions.save_comment, _engine(request), claims, comment, now=clock()
        )
        return _feedback(request, ctx, saved=bool(actions.clean_comment(comment)))

    # One-click unsubscribe (RFC 8058): POST unsubscribes, GET only asks.
    @app.get("/unsubscribe/{token}")
    async def unsubscribe_page(request: Request, token: str):
        claims = _verify(request, token, Action.unsubscribe)
        ctx = await _run(request, _context, _engine(request), claims)
        return _unsubscribe(request, ctx, done=False)

    @app.post("/unsubscribe/{token}")
    async def unsubscribe(request: Request, token: str):
        claims = _verify(request, token, Action.unsubscribe)
        form = await _form(request, {"List-Unsubscribe"})
        if form.get("List-Unsubscribe") != "One-Click":
            raise PageError("error", 400)
        ctx, _ = await _run(
            request,
            actions.unsubscribe,
            _engine(request),
            claims,
            source="web:one-click",
            now=clock(),
        )
        return _unsubscribe(request, ctx, done=True)

    @app.get("/preferences/{token}")
    async def preferences_page(request: Request, token: str):
        claims = _verify(request, token, Action.preferences, Action.unsubscribe)
        ctx, prefs = await _run(request, actions.read_preferences, _engine(request), claims)
        return _preferences(request, ctx, prefs, saved=False)

    @app.post("/preferences/{token}")
    async def preferences_save(request: Request, token: str):
        claims = _verify(request, token, Action.preferences, Action.unsubscribe)
        form = await _form(request, {"email", "push", "frequency"})
        if any(form.get(k) not in (None, "on") for k in ("email", "push")):
            raise PageError("error", 400)
        if form.get("frequency") not in set(ContactFrequency):
            raise PageError("error", 400)
        ctx, prefs = await _run(
            request,
            actions.save_preferences,
            _engine(request),
            claims,
            email=form.get("email") == "on",
            push=form.get("push") == "on",
            frequency=str(form.get("frequency")),
            now=clock(),
        )
        return _preferences(request, ctx, prefs, saved=True)

    @app.post("/sns")
    async def sns_endpoint(request: Request) -> JSONResponse:
        """Amazon SNS HTTP notifications: subscription confirmations and SES events."""
        try:
            message = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"status": "rejected", "reason": "not JSON"}, status_code=400)
        try:
            message = await run_in_threadpool(
                sns.verify_message,
                message,
                topics=get_settings().sns_topic_arns,
                fetch=app.state.fetch_certificate,
            )
        except sns.SnsRejected as exc:
            log.warning("SNS message refused: %s", exc)
            return JSONResponse({"status": "rejected", "reason": str(exc)}, status_code=403)
        kind = message["Type"]
        if kind == "SubscriptionConfirmation":
            try:
                await run_in_threadpool(app.state.confirm_subscription, message)
            except Exception as exc:
                log.warning("SNS subscription not confirmed: %s", type(exc).__name__)
                return JSONResponse({"status": "not_confirmed"}, status_code=502)
            return JSONResponse({"status": "confirmed"})
        if kind == "UnsubscribeConfirmation":
            log.warning("SNS subscription ended for a topic")
            return JSONResponse({"status": "noted"})
        try:
            event = json.loads(message["Message"])
        except ValueError:
            return JSONResponse({"status": "ignored", "reason": "Message is not JSON"})
        try:
            (outcome,) = await run_in_threadpool(
                process_events, app.state.engine or get_engine(), [event], now=clock()
            )
        except MalformedEvent:
            outcome = "malformed"
        status = 500 if outcome == "failed" else 200  # SNS retries failures
        return JSONResponse({"status": outcome}, status_code=status)

    return app


def _context(engine: Engine, claims: LinkClaims) -> actions.LinkContext:
    with engine.connect() as conn:
        return actions.context(conn, claims)


def _feedback(
    request: Request,
    ctx: actions.LinkContext,
    *,
    saved: bool = False,
    error: bool = False,
    comment: str | None = None,
    status: int = 200,
):
    t = i18n.texts(_locale(request, ctx.locale))
    return render(
        request,
        "feedback.html",
        locale=ctx.locale,
        status=status,
        comment_saved=saved,
        comment_error=error,
        comment=comment,
        max_comment=actions.MAX_COMMENT,
        label=t["feedback_label"],
        submit=t["feedback_submit"],
    )


def _unsubscribe(request: Request, ctx: actions.LinkContext, *, done: bool):
    preferences = links.preferences_url(message_id=ctx.message_id, customer_id=ctx.customer_id)
    return render(
        request, "unsubscribe.html", locale=ctx.locale, done=done, preferences=preferences
    )


def _preferences(
    request: Request, ctx: actions.LinkContext, prefs: actions.Preferences, *, saved: bool
) -> Response:
    return render(
        request,
        "preferences.html",
        locale=ctx.locale,
        saved=saved,
        email=prefs.email,
        push=prefs.push,
        bounced=prefs.email_bounced,
        frequency=prefs.frequency,
        frequencies=[f.value for f in ContactFrequency],
    )
