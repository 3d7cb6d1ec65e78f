"""Survey answers, safe from mail scanners: opening a link only shows the page.

A star (or NPS, or one-click choice) link in an email opens a page with that answer
preselected and a Send button; only the form's POST records anything. Mail scanners fetch
every link of a message, sometimes in a browser that runs scripts, and the pages have no
script at all (the CSP forbids it), so a scanner records nothing and no "last of five
fetched links wins" can happen. The signed token in the URL is the capability for the
POST (a cross-site form without it can do nothing), and the score sent must be one the
survey offers; see docs/web.md.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from campaigns.links import Action, LinkClaims
from campaigns.render import choice_label
from web import actions
from web.context import engine_of, now_of, run, verify
from web.forms import read_form
from web.render import PageError, render

router = APIRouter()
SCORE = re.compile(r"^(?:0|[1-9][0-9]?)$")


def _page(
    request: Request,
    ctx: actions.LinkContext,
    claims: LinkClaims,
    current: actions.AnswerState | None,
    *,
    recorded: bool = False,
    status: int = 200,
    **notes: Any,
) -> HTMLResponse:
    """The answer page: the chosen answer preselected, a comment box and Send; after a
    submission the same page thanks and lets the person change or add to the answer."""
    low, high = actions.SCORE_RANGES.get(ctx.survey_kind or "", (1, 0))
    selected = current.score if recorded and current else claims.score
    return render(
        request,
        "answer.html",
        locale=ctx.locale,
        status=status,
        recorded=recorded,
        kind=ctx.survey_kind,
        current=current,
        selected=selected,
        scale=list(range(low, high + 1)) if claims.action is Action.survey else [],
        max_score=high,
        choice=claims.choice,
        choice_label=_choice_label(ctx, current),
        max_comment=actions.MAX_COMMENT,
        empty=notes.get("empty", False),
        comment_error=notes.get("comment_error", False),
        comment_saved=notes.get("comment_saved", False),
        comment=notes.get("comment"),
    )


def _choice_label(ctx: actions.LinkContext, current: actions.AnswerState | None) -> str | None:
    """The recorded choice in the customer's words, so the thanks repeat what they chose."""
    if current is None or not current.choice:
        return None
    return choice_label(ctx.template, current.choice, ctx.locale)


def _score(text: str | None) -> int | None:
    if not text:
        return None
    if not SCORE.match(text):
        raise PageError("form", 400, detail="bad_answer")
    return int(text)


@router.get("/answer/{token}")
@router.get("/choice/{token}")
async def answer_page(request: Request, token: str) -> HTMLResponse:
    """Opening a link records nothing: it shows the page with that answer preselected."""
    claims = verify(request, token, Action.survey, Action.feedback)
    ctx, current = await run(request, actions.read_answer, engine_of(request), claims)
    return _page(request, ctx, claims, current)


@router.post("/answer/{token}")
@router.post("/choice/{token}")
async def answer_submit(request: Request, token: str) -> HTMLResponse:
    """``score`` (or ``choice``) and an optional ``comment`` from the answer page."""
    claims = verify(request, token, Action.survey, Action.feedback)
    field = "score" if claims.action is Action.survey else "choice"
    form = await read_form(request, {field, "comment"})
    score, choice = _score(form.get("score")), form.get("choice") or None
    comment = form.get("comment", "")
    engine = engine_of(request)
    if len(actions.clean_comment(comment)) > actions.MAX_COMMENT:
        ctx, current = await run(request, actions.read_answer, engine, claims)
        return _page(request, ctx, claims, current, status=422, comment_error=True, comment=comment)
    try:
        ctx, state = await run(
            request,
            actions.submit_answer,
            engine,
            claims,
            score=score,
            choice=choice,
            comment=comment,
            now=now_of(request),
        )
    except actions.EmptyAnswer:
        ctx, current = await run(request, actions.read_answer, engine, claims)
        return _page(request, ctx, claims, current, status=422, empty=True)
    except actions.AnswerRefused as exc:
        raise PageError("form", 400, detail="bad_answer") from exc
    saved = bool(actions.clean_comment(comment))
    return _page(request, ctx, claims, state, recorded=True, comment_saved=saved)


@router.get("/feedback/{token}")
async def feedback_page(request: Request, token: str) -> HTMLResponse:
    claims = verify(request, token, Action.feedback_page)
    ctx, _ = await run(request, actions.read_answer, engine_of(request), claims)
    return _feedback(request, ctx)


@router.post("/feedback/{token}")
async def feedback_submit(request: Request, token: str) -> HTMLResponse:
    """Free text; a blank one is not an answer and records nothing."""
    claims = verify(request, token, Action.feedback_page)
    comment = (await read_form(request, {"comment"})).get("comment", "")
    engine = engine_of(request)
    if len(actions.clean_comment(comment)) > actions.MAX_COMMENT:
        ctx, _ = await run(request, actions.read_answer, engine, claims)
        return _feedback(request, ctx, error=True, comment=comment, status=422)
    try:
        ctx, _ = await run(
            request, actions.submit_answer, engine, claims, comment=comment, now=now_of(request)
        )
    except actions.EmptyAnswer:
        ctx, _ = await run(request, actions.read_answer, engine, claims)
        return _feedback(request, ctx, empty=True, status=422)
    return _feedback(request, ctx, saved=True)


def _feedback(
    request: Request,
    ctx: actions.LinkContext,
    *,
    saved: bool = False,
    error: bool = False,
    empty: bool = False,
    comment: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "feedback.html",
        locale=ctx.locale,
        status=status,
        comment_saved=saved,
        comment_error=error,
        empty=empty,
        comment=comment,
        max_comment=actions.MAX_COMMENT,
    )
