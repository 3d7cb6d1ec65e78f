"""What a verified link does to the database: answers, comments, unsubscribes, preferences.

Every function takes claims that ``campaigns.links.verify`` already accepted, checks them
against the ledger (the message exists and belongs to that customer), and is idempotent:
sending the same thing twice changes nothing the second time. Reading a link never writes:
answers are recorded only from a submitted form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, select, update

from campaigns.consent import add_interaction, set_consent
from campaigns.links import Action, LinkClaims
from models.base import table, utcnow
from models.campaigns import ANSWER_KINDS, Message
from models.dialect import insert_new
from models.store import Channel, Consent, ConsentStatus, Customer, Interaction
from models.surveys import (
    SCORE_RANGES,
    ContactFrequency,
    ContactPreference,
    SurveyAnswer,
    SurveyAnswerChange,
)
from models.topics import TOPICS, TopicOptOut

ANSWER = table(SurveyAnswer)
CHANGE = table(SurveyAnswerChange)
MAX_COMMENT = 2000
# Ledger kinds and templates that are surveys, and the kind of answer each takes (an answer
# kind names itself, for messages that carry it as their kind or template).
SURVEY_KINDS = {**{kind: kind for kind in ANSWER_KINDS.values()}, **ANSWER_KINDS}


class LinkRefused(Exception):
    """A genuine token that does not fit the ledger (unknown message, other customer, wrong kind)."""


class AnswerRefused(ValueError):
    """A submitted score or choice the survey behind the link does not offer."""


class EmptyAnswer(ValueError):
    """A submission with no score, no choice and no comment: not an answer."""


@dataclass(frozen=True)
class LinkContext:
    message_id: int
    customer_id: int
    campaign: str
    channel: str
    survey_kind: str | None
    locale: str | None
    template: str | None = None


@dataclass(frozen=True)
class AnswerState:
    kind: str
    score: int | None
    choice: str | None
    comment: str | None
    changed: bool


def survey_kind(message_kind: str | None, template: str | None) -> str | None:
    """csat, nps or feedback for a survey message; None for anything else."""
    return SURVEY_KINDS.get(message_kind or "") or SURVEY_KINDS.get(template or "")


def customer_locale(conn: Connection, customer_id: int) -> str | None:
    return conn.execute(
        select(table(Customer).c.locale).where(table(Customer).c.id == customer_id)
    ).scalar_one_or_none()


def context(conn: Connection, claims: LinkClaims) -> LinkContext:
    """The ledger row behind a token, or ``LinkRefused``."""
    m = table(Message).c
    row = conn.execute(
        select(m.id, m.customer_id, m.campaign, m.channel, m.kind, m.template).where(
            m.id == claims.message_id
        )
    ).first()
    if row is None or row.customer_id != claims.customer_id:
        raise LinkRefused("no such message for this customer")
    kind = survey_kind(row.kind, row.template)
    if claims.action is Action.survey:
        low, high = SCORE_RANGES.get(kind or "", (1, 0))
        if claims.score is None or not low <= claims.score <= high:
            raise LinkRefused("score does not fit the survey")
    if claims.action in (Action.feedback, Action.feedback_page) and kind is None:
        raise LinkRefused("not a survey message")
    return LinkContext(
        message_id=row.id,
        customer_id=row.customer_id,
        campaign=row.campaign,
        channel=row.channel,
        survey_kind=kind,
        locale=customer_locale(conn, row.customer_id),
        template=row.template,
    )


def _current(conn: Connection, message_id: int) -> dict | None:
    row = conn.execute(select(ANSWER).where(ANSWER.c.message_id == message_id)).mappings().first()
    return dict(row) if row else None


def _history(conn: Connection, answer: dict, at: datetime) -> None:
    conn.execute(
        CHANGE.insert().values(
            answer_id=answer["id"],
            score=answer["score"],
            choice=answer["choice"],
            comment=answer["comment"],
            changed_at=at,
        )
    )


def _interaction(conn: Connection, ctx: LinkContext, answer: dict, at: datetime) -> None:
    """One ``survey_answer`` interaction per answer, holding the current score."""
    ref = f"survey:{ctx.message_id}"
    detail = f"{answer['kind']}:{answer['choice']}" if answer["choice"] else answer["kind"]
    new = add_interaction(
        conn,
        customer_id=ctx.customer_id,
        kind="survey_answer",
        channel=ctx.channel,
        occurred_at=at,
        source_ref=ref,
        message_id=ctx.message_id,
        value=answer["score"],
        detail=detail,
    )
    if not new:
        conn.execute(
            update(table(Interaction))
            .where(table(Interaction).c.source_ref == ref)
            .values(value=answer["score"], detail=detail)
        )


def _answer_context(conn: Connection, claims: LinkClaims) -> LinkContext:
    """The context of a link that answers a survey: a score link for a CSAT or NPS
    survey, a choice or free-text link for a survey that takes them."""
    ctx = context(conn, claims)
    kind = ctx.survey_kind
    if kind is None:
        raise LinkRefused("not a survey message")
    if claims.action is Action.survey and kind == "feedback":
        raise LinkRefused("this link does not answer this survey")
    if claims.action is Action.feedback and kind != "feedback":
        raise LinkRefused("this link does not answer this survey")
    return ctx


def read_answer(engine: Engine, claims: LinkClaims) -> tuple[LinkContext, AnswerState | None]:
    """The survey behind an answer link and its current answer, changing nothing: opening a
    link (a person, or a mail scanner fetching every link) is not answering."""
    with engine.connect() as conn:
        ctx = _answer_context(conn, claims)
        answer = _current(conn, ctx.message_id)
        assert ctx.survey_kind is not None
        return ctx, _state(ctx.survey_kind, answer, changed=False) if answer else None


def clean_comment(text: str) -> str:
    """The comment without control characters (newlines and tabs kept), trimmed."""
    kept = "".join(ch for ch in text if ch in "\n\t" or (ord(ch) >= 32 and ord(ch) != 127))
    return kept.replace("\r", "").strip()


def _state(kind: str, answer: dict, *, changed: bool) -> AnswerState:
    return AnswerState(
        kind=kind,
        score=answer["score"],
        choice=answer["choice"],
        comment=answer["comment"],
        changed=changed,
    )


def submit_answer(
    engine: Engine,
    claims: LinkClaims,
    *,
    score: int | None = None,
    choice: str | None = None,
    comment: str = "",
    now: datetime | None = None,
) -> tuple[LinkContext, AnswerState]:
    """Record what a person sent from the survey page (a POST; opening a link records nothing).

    The first submission creates the answer; a later one with another score or choice
    changes it (every change is kept in the history); the same again changes nothing. A
    comment is added without touching the score, and an empty comment never clears one.
    Nothing at all (no score, no choice, a blank comment) is ``EmptyAnswer``.
    """
    at = now or utcnow()
    comment = clean_comment(comment)
    if len(comment) > MAX_COMMENT:
        raise ValueError("comment too long")
    if score is None and choice is None and not comment:
        raise EmptyAnswer("no score, no choice and no comment")
    with engine.begin() as conn:
        ctx = _answer_context(conn, claims)
        kind = ctx.survey_kind
        assert kind is not None
        low, high = SCORE_RANGES.get(kind, (1, 0))
        if score is not None and (claims.action is not Action.survey or not low <= score <= high):
            raise AnswerRefused("the survey does not offer this score")
        if choice is not None and (claims.action is not Action.feedback or choice != claims.choice):
            raise AnswerRefused("the link does not offer this choice")
        wanted: dict[str, object] = {"score": score, "choice": choice, "comment": comment or None}
        wanted = {k: v for k, v in wanted.items() if v is not None}
        answer = _current(conn, ctx.message_id)
        if answer is None:
            values = dict(
                message_id=ctx.message_id,
                customer_id=ctx.customer_id,
                survey=ctx.campaign,
                kind=kind,
                answered_at=at,
                updated_at=at,
                score=None,
                choice=None,
                comment=None,
            )
            inserted = insert_new(conn, ANSWER, {**values, **wanted}, key=["message_id"])
            answer = _current(conn, ctx.message_id)
            assert answer is not None
            if inserted:
                _history(conn, answer, at)
                _interaction(conn, ctx, answer, at)
                return ctx, _state(kind, answer, changed=True)
        changes = {k: v for k, v in wanted.items() if answer[k] != v}
        if not changes:
            return ctx, _state(kind, answer, changed=False)
        conn.execute(
            update(ANSWER).where(ANSWER.c.id == answer["id"]).values(updated_at=at, **changes)
        )
        answer.update(changes)
        _history(conn, answer, at)
        if "score" in changes or "choice" in changes:
            _interaction(conn, ctx, answer, at)
        return ctx, _state(kind, answer, changed=True)


def unsubscribe(
    engine: Engine, claims: LinkClaims, *, source: str, now: datetime | None = None
) -> tuple[LinkContext, bool]:
    """Unsubscribe the customer from marketing on the message's channel; True if it changed."""
    at = now or utcnow()
    with engine.begin() as conn:
        ctx = context(conn, claims)
        changed = set_consent(
            conn,
            customer_id=ctx.customer_id,
            channel=ctx.channel,
            status=ConsentStatus.unsubscribed,
            source=source,
            at=at,
        )
        if changed:
            add_interaction(
                conn,
                customer_id=ctx.customer_id,
                kind="unsubscribed",
                channel=ctx.channel,
                occurred_at=at,
                source_ref=f"unsubscribe:{ctx.message_id}:{at.timestamp():.6f}",
                message_id=ctx.message_id,
                detail=source,
            )
        return ctx, changed


@dataclass(frozen=True)
class Preferences:
    email: bool
    push: bool
    email_bounced: bool
    frequency: str
    topics: dict[str, bool]  # each topic: does the customer want it


def read_preferences(engine: Engine, claims: LinkClaims) -> tuple[LinkContext, Preferences]:
    with engine.connect() as conn:
        ctx = context(conn, claims)
        return ctx, _preferences(conn, ctx.customer_id)


def _preferences(conn: Connection, customer_id: int) -> Preferences:
    c = table(Consent).c
    query = select(c.channel, c.status).where(c.customer_id == customer_id)
    status: dict[str, str] = dict(conn.execute(query).tuples().all())
    p = table(ContactPreference).c
    frequency = conn.execute(
        select(p.frequency).where(p.customer_id == customer_id)
    ).scalar_one_or_none()
    o = table(TopicOptOut).c
    opted_out = set(conn.execute(select(o.topic).where(o.customer_id == customer_id)).scalars())
    return Preferences(
        email=status.get(Channel.email) == ConsentStatus.subscribed,
        push=status.get(Channel.push) == ConsentStatus.subscribed,
        email_bounced=status.get(Channel.email) == ConsentStatus.bounced,
        frequency=frequency or ContactFrequency.normal,
        topics={t: t not in opted_out for t in TOPICS},
    )


def save_preferences(
    engine: Engine,
    claims: LinkClaims,
    *,
    email: bool,
    push: bool,
    frequency: str,
    topics: set[str] | None = None,
    now: datetime | None = None,
) -> tuple[LinkContext, Preferences]:
    """The customer's own choice of channels, frequency and topics.

    Unticking a channel unsubscribes it; ticking one subscribes it again (their explicit
    choice), except a bounced address, which only a corrected address can fix. ``topics``
    are the topics wanted (None: the form did not show them, nothing changes); each one
    left out is an opt-out on every channel, which planning and the last check before a
    send honour.
    """
    at = now or utcnow()
    frequency = ContactFrequency(frequency)
    with engine.begin() as conn:
        ctx = context(conn, claims)
        before = _preferences(conn, ctx.customer_id)
        for channel, wanted, current in (
            (Channel.email, email, before.email),
            (Channel.push, push, before.push),
        ):
            if wanted == current or (channel == Channel.email and before.email_bounced):
                continue
            status = ConsentStatus.subscribed if wanted else ConsentStatus.unsubscribed
            set_consent(
                conn,
                customer_id=ctx.customer_id,
                channel=channel,
                status=status,
                source="web:preferences",
                at=at,
                escalate_only=False,
            )
            add_interaction(
                conn,
                customer_id=ctx.customer_id,
                kind="subscribed" if wanted else "unsubscribed",
                channel=channel,
                occurred_at=at,
                source_ref=f"preferences:{ctx.customer_id}:{channel}:{at.timestamp():.6f}",
                message_id=ctx.message_id,
                detail="web:preferences",
            )
        if topics is not None:
            _save_topics(conn, ctx.customer_id, topics, before.topics, at)
        if frequency != before.frequency:
            p = table(ContactPreference)
            values = dict(frequency=frequency, source="web:preferences", updated_at=at)
            new = insert_new(
                conn, p, {"customer_id": ctx.customer_id, **values}, key=["customer_id"]
            )
            if not new:
                conn.execute(update(p).where(p.c.customer_id == ctx.customer_id).values(**values))
        return ctx, _preferences(conn, ctx.customer_id)


def _save_topics(
    conn: Connection, customer_id: int, wanted: set[str], before: dict[str, bool], at: datetime
) -> None:
    """Opt out of the topics not wanted, back in to the ones wanted again."""
    o = table(TopicOptOut)
    for topic, was in before.items():
        if topic in wanted and not was:
            conn.execute(delete(o).where(o.c.customer_id == customer_id, o.c.topic == topic))
        elif topic not in wanted and was:
            row = {"customer_id": customer_id, "topic": topic, "source": "web:preferences"}
            insert_new(conn, o, {**row, "created_at": at}, key=["customer_id", "topic"])
