"""The customer-facing web service: survey answers, one-click unsubscribe, preferences,
and the SNS endpoint for provider events.

Every customer URL is ``/<action>/<token>``: the signed token is the only thing in it.
A GET never changes anything (mail scanners fetch every link, some in a browser): it shows
a page, and the page's form POST answers or unsubscribes; the RFC 8058 POST unsubscribes at
once. A bad token or form changes nothing and gets a friendly page in the customer's
language. Every redirect and absolute link is built from ``HOMECOMING_PUBLIC_URL``, never
from the Host header. Survey answers live in ``web.answers``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from campaigns import links
from campaigns.events import MalformedEvent, process_events
from campaigns.links import Action
from models.db import get_engine
from models.settings import Settings, get_settings
from models.surveys import ContactFrequency
from models.topics import TOPICS
from web import actions, answers, sns
from web.context import check, engine_of, now_of, run, verify
from web.forms import UniqueQueryFields, loads_strict, read_form
from web.render import HERE, PageError, error_page, render, settings_of
from web.security import BodyLimit, PublicRedirects, SecurityHeaders

TOPIC_FIELDS = tuple(f"topic_{t}" for t in TOPICS)  # one checkbox per topic

log = logging.getLogger(__name__)

FORM_LIMIT = 16 * 1024
SNS_LIMIT = 256 * 1024


def create_app(
    *,
    engine: Engine | None = None,
    fetch_certificate: sns.CertificateFetcher | None = None,
    confirm_subscription: Callable[[dict[str, Any]], None] | None = None,
    now: Callable[[], datetime] | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """The web service; the keyword arguments let tests inject the database, an SNS
    certificate source, the subscription confirmer, the clock and the settings (default:
    the process's, read at each request so a changed setting applies without a new app)."""
    current: Callable[[], Settings] = (lambda: settings) if settings is not None else get_settings
    app = FastAPI(
        title="homecoming",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,  # it would build the redirect from the Host header
    )
    app.state.engine = engine
    app.state.fetch_certificate = fetch_certificate or sns.fetch_certificate
    app.state.confirm_subscription = confirm_subscription or sns.confirm_by_url
    app.state.now = now
    app.state.settings = current  # routes read it through web.render.settings_of
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(answers.router)
    app.add_middleware(PublicRedirects, public_url=lambda: current().public_url)
    app.add_middleware(UniqueQueryFields)
    app.add_middleware(BodyLimit, default=FORM_LIMIT, paths={"/sns": SNS_LIMIT})
    app.add_middleware(SecurityHeaders, hsts=current().public_url.startswith("https://"))

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> HTMLResponse:
        return error_page(request, exc)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> HTMLResponse:
        log.error("request failed: %s %s", request.method, request.url.path.split("/")[1])
        return render(request, "error.html", locale=None, status=500, kind="error", detail=None)

    @app.get("/health")
    def health() -> JSONResponse:
        try:
            with (app.state.engine or get_engine()).connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    # One-click unsubscribe (RFC 8058): POST unsubscribes, GET only asks. Both keep
    # working after the link expires (mailbox providers require it); nothing else does.
    @app.get("/unsubscribe/{token}")
    async def unsubscribe_page(request: Request, token: str) -> Response:
        claims, expired = check(request, token, Action.unsubscribe, expired_ok=True)
        ctx = await run(request, _context, engine_of(request), claims)
        return _unsubscribe(request, ctx, done=False, expired=expired)

    @app.post("/unsubscribe/{token}")
    async def unsubscribe(request: Request, token: str) -> Response:
        claims, expired = check(request, token, Action.unsubscribe, expired_ok=True)
        form = await read_form(request, {"List-Unsubscribe"})
        if form.get("List-Unsubscribe") != "One-Click":
            raise PageError("form", 400, detail="one_click_body")
        ctx, _ = await run(
            request,
            actions.unsubscribe,
            engine_of(request),
            claims,
            source="web:one-click",
            now=now_of(request),
        )
        return _unsubscribe(request, ctx, done=True, expired=expired)

    @app.get("/preferences/{token}")
    async def preferences_page(request: Request, token: str) -> Response:
        claims = verify(request, token, Action.preferences, Action.unsubscribe)
        ctx, prefs = await run(request, actions.read_preferences, engine_of(request), claims)
        return _preferences(request, ctx, prefs, saved=False)

    @app.post("/preferences/{token}")
    async def preferences_save(request: Request, token: str) -> Response:
        claims = verify(request, token, Action.preferences, Action.unsubscribe)
        form = await read_form(request, {"email", "push", "frequency", "topics", *TOPIC_FIELDS})
        if any(form.get(k) not in (None, "on") for k in ("email", "push", *TOPIC_FIELDS)):
            raise PageError("form", 400)
        if form.get("topics") not in (None, "shown"):
            raise PageError("form", 400)
        # Topic boxes count only from a form that showed them: an older page changes none.
        topics = {t for t in TOPICS if form.get(f"topic_{t}") == "on"} if "topics" in form else None
        if form.get("frequency") not in set(ContactFrequency):
            raise PageError("form", 400)
        ctx, prefs = await run(
            request,
            actions.save_preferences,
            engine_of(request),
            claims,
            email=form.get("email") == "on",
            push=form.get("push") == "on",
            frequency=str(form.get("frequency")),
            topics=topics,
            now=now_of(request),
        )
        return _preferences(request, ctx, prefs, saved=True)

    @app.post("/sns")
    async def sns_endpoint(request: Request) -> JSONResponse:
        """Amazon SNS HTTP notifications: subscription confirmations and SES events."""
        try:
            message = loads_strict(await request.body())
        except ValueError as exc:
            reason = str(exc) if "duplicate key" in str(exc) else "not JSON"
            return JSONResponse({"status": "rejected", "reason": reason}, status_code=400)
        try:
            message = await run_in_threadpool(
                sns.verify_message,
                message,
                topics=settings_of(request).sns_topic_arns,
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
            event = loads_strict(message["Message"])
        except ValueError:
            return JSONResponse({"status": "ignored", "reason": "Message is not JSON"})
        try:
            (outcome,) = await run_in_threadpool(
                process_events,
                engine_of(request),
                [event],
                now=now_of(request),
                settings=settings_of(request),
            )
        except MalformedEvent:
            outcome = "malformed"
        status = 500 if outcome == "failed" else 200  # SNS retries failures
        return JSONResponse({"status": outcome}, status_code=status)

    return app


def _context(engine: Engine, claims: links.LinkClaims) -> actions.LinkContext:
    with engine.connect() as conn:
        return actions.context(conn, claims)


def _unsubscribe(
    request: Request, ctx: actions.LinkContext, *, done: bool, expired: bool
) -> Response:
    """The unsubscribe page; an expired link unsubscribes but offers no preferences page,
    which would otherwise hand out a fresh link."""
    preferences = None
    if not expired:
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
        topics=prefs.topics,
    )
