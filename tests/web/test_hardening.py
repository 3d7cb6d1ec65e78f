"""Attacks on the running service: repeated fields, a forged Host header, expired
unsubscribe links and impossible token ages. Each is refused clearly; good data is kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine

from campaigns import links
from campaigns.links import ExpiredToken
from models.settings import Settings, get_settings
from models.store import Consent, Interaction
from models.surveys import ContactPreference, SurveyAnswer
from tests.web.helpers import customer, message, path, rows
from web import create_app

PUBLIC = "https://shop.example"
FORM = {"content-type": "application/x-www-form-urlencoded"}
A = SurveyAnswer.__table__


@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("HOMECOMING_SECRET_KEY", "hardening-test-key")
    monkeypatch.setenv("HOMECOMING_PUBLIC_URL", PUBLIC)
    get_settings.cache_clear()
    with TestClient(create_app(engine=engine)) as c:
        yield c
    get_settings.cache_clear()


def email_status(engine: Engine, customer_id: int) -> str:
    t = Consent.__table__
    return rows(engine, t, t.c.customer_id == customer_id, t.c.channel == "email")[0]["status"]


def newsletter(engine: Engine) -> tuple[int, int]:
    cid = customer(engine)
    return cid, message(engine, cid, campaign="weekly", kind="newsletter", template="newsletter")


def test_a_repeated_one_click_field_is_refused(client: TestClient, engine: Engine) -> None:
    cid, mid = newsletter(engine)
    url = path(links.unsubscribe_url(message_id=mid, customer_id=cid))
    for body in (
        b"List-Unsubscribe=no&List-Unsubscribe=One-Click",
        b"List-Unsubscribe=One-Click&List-Unsubscribe=no",
        b"List-Unsubscribe=One-Click&List-Unsubscribe=One-Click",
    ):
        reply = client.post(url, content=body, headers=FORM)
        assert reply.status_code == 400
        assert 'The field "List-Unsubscribe" was sent more than once' in unescape(reply.text)
    multipart = [("List-Unsubscribe", (None, "no")), ("List-Unsubscribe", (None, "One-Click"))]
    assert client.post(url, files=multipart).status_code == 400
    wrong = client.post(url, content=b"List-Unsubscribe=yes", headers=FORM)
    assert wrong.status_code == 400
    assert 'must carry exactly "List-Unsubscribe=One-Click"' in unescape(wrong.text)
    assert email_status(engine, cid) == "subscribed"
    # The real RFC 8058 body still works.
    good = client.post(url, content=b"List-Unsubscribe=One-Click", headers=FORM)
    assert good.status_code == 200 and email_status(engine, cid) == "unsubscribed"


def test_repeated_fields_are_refused_on_every_form(client: TestClient, engine: Engine) -> None:
    cid, mid = newsletter(engine)
    survey = message(engine, cid)
    answer = path(links.survey_url(message_id=survey, customer_id=cid, score=5))
    prefs = path(links.preferences_url(message_id=mid, customer_id=cid))
    for url, body, field in (
        (answer, b"score=1&score=5", "score"),
        (answer, b"score=5&comment=a&comment=b", "comment"),
        (prefs, b"frequency=weekly&frequency=monthly", "frequency"),
        (prefs, b"email=on&email=on&frequency=normal", "email"),
    ):
        reply = client.post(url, content=body, headers=FORM)
        assert reply.status_code == 400, body
        assert f'The field "{field}" was sent more than once' in unescape(reply.text)
    unknown = client.post(answer, content=b"score=5&admin=1", headers=FORM)
    assert unknown.status_code == 400
    assert 'does not take the field "admin"' in unescape(unknown.text)
    assert rows(engine, A) == [] and rows(engine, ContactPreference.__table__) == []
    assert email_status(engine, cid) == "subscribed"
    # Good forms still go through.
    assert client.post(answer, content=b"score=5&comment=ok", headers=FORM).status_code == 200
    assert rows(engine, A)[0]["score"] == 5
    saved = client.post(prefs, content=b"email=on&frequency=weekly", headers=FORM)
    assert saved.status_code == 200
    assert rows(engine, ContactPreference.__table__)[0]["frequency"] == "weekly"


def test_a_repeated_query_field_is_refused(client: TestClient, engine: Engine) -> None:
    cid = customer(engine)
    mid = message(engine, cid)
    url = path(links.survey_url(message_id=mid, customer_id=cid, score=5))
    reply = client.get(f"{url}?utm=a&utm=b")
    assert reply.status_code == 400
    assert reply.text.startswith('bad request: the query field "utm" is repeated')
    assert client.post(f"{url}?x=1&x=2", data={"score": "5"}).status_code == 400
    assert client.get("/health?a=&a=").status_code == 400
    assert rows(engine, A) == []
    assert client.get(f"{url}?utm=a").status_code == 200  # one value of each is fine
    assert client.post(f"{url}?utm=a", data={"score": "5"}).status_code == 200
    assert rows(engine, A)[0]["score"] == 5


def test_redirects_never_follow_the_host_header(client: TestClient, engine: Engine) -> None:
    cid, mid = newsletter(engine)
    token_path = path(links.unsubscribe_url(message_id=mid, customer_id=cid))
    evil = {"host": "evil.example", "x-forwarded-host": "evil.example"}
    for method, url in (
        ("GET", f"{token_path}/"),
        ("POST", f"{token_path}/"),
        ("GET", "/health/"),
        ("POST", "/sns/"),
        ("GET", "/x//evil.example/"),
    ):
        reply = client.request(method, url, headers=evil, follow_redirects=False)
        assert reply.status_code == 307, url
        assert reply.headers["location"].startswith(f"{PUBLIC}/"), url
        assert "evil.example" not in reply.headers["location"].split("/", 3)[2]
    assert client.get(f"{token_path}/", follow_redirects=False).headers["location"] == (
        PUBLIC + token_path
    )
    assert client.get("/static", headers=evil, follow_redirects=False).status_code == 404
    page = client.get(token_path, headers=evil)
    assert page.status_code == 200 and "evil.example" not in page.text
    assert f'href="{PUBLIC}/preferences/' in page.text
    assert email_status(engine, cid) == "subscribed"


def test_an_expired_unsubscribe_link_still_unsubscribes(client: TestClient, engine: Engine) -> None:
    cid, mid = newsletter(engine)
    old = datetime.now(UTC) - timedelta(days=400)
    token = links.sign("unsubscribe", message_id=mid, customer_id=cid, now=old)
    with pytest.raises(ExpiredToken):
        links.verify(token)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and 'id="unsubscribe-form"' in page.text
    assert "/preferences/" not in page.text  # no fresh preferences link from an old one
    assert email_status(engine, cid) == "subscribed"
    reply = client.post(
        f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click", headers=FORM
    )
    assert reply.status_code == 200 and 'id="done"' in reply.text
    assert email_status(engine, cid) == "unsubscribed"
    t = Interaction.__table__
    assert len(rows(engine, t, t.c.customer_id == cid, t.c.kind == "unsubscribed")) == 1

    # Only for unsubscribing: the same old token on the preferences page, and old answer and
    # preferences links, still expire.
    for url in (
        f"/preferences/{token}",
        path(
            links.url_for(
                links.sign("preferences", message_id=mid, customer_id=cid, now=old), "preferences"
            )
        ),
    ):
        assert client.get(url).status_code == 410
        refused = client.post(url, data={"email": "on", "frequency": "weekly"})
        assert refused.status_code == 410 and 'data-kind="expired"' in refused.text
    survey = message(engine, cid)
    answer = links.sign("survey", message_id=survey, customer_id=cid, score=5, now=old)
    assert client.post(f"/answer/{answer}", data={"score": "5"}).status_code == 410
    assert email_status(engine, cid) == "unsubscribed"
    assert rows(engine, A) == [] and rows(engine, ContactPreference.__table__) == []


def test_a_tampered_expired_unsubscribe_link_is_still_refused(
    client: TestClient, engine: Engine
) -> None:
    cid, mid = newsletter(engine)
    old = datetime.now(UTC) - timedelta(days=400)
    token = links.sign("unsubscribe", message_id=mid, customer_id=cid, now=old)
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    reply = client.post(f"/unsubscribe/{forged}", data={"List-Unsubscribe": "One-Click"})
    assert reply.status_code == 400
    assert email_status(engine, cid) == "subscribed"


@pytest.mark.parametrize("days", ["0", "-1", "-60"])
def test_a_token_age_below_one_day_is_refused_at_load(
    monkeypatch: pytest.MonkeyPatch, days: str
) -> None:
    monkeypatch.setenv("HOMECOMING_TOKEN_MAX_AGE_DAYS", days)
    get_settings.cache_clear()
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert f"HOMECOMING_TOKEN_MAX_AGE_DAYS must be at least 1 (days); got {days}" in str(
        caught.value
    )
    with pytest.raises(ValidationError):
        create_app()
    monkeypatch.setenv("HOMECOMING_TOKEN_MAX_AGE_DAYS", "1")
    get_settings.cache_clear()
    assert get_settings().token_max_age_days == 1
    token = links.sign("preferences", message_id=1, customer_id=1)
    assert links.verify(token).message_id == 1  # a fresh link works
    get_settings.cache_clear()
