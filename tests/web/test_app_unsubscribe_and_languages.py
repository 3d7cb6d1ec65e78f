"""The web service's unsubscribe and preference pages over HTTP, forged tokens, the languages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from string import Formatter

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from campaigns import links
from models.settings import get_settings
from models.store import Consent
from models.surveys import ContactPreference
from tests.web.helpers import customer, interactions, message, path, rows
from web import i18n


def consent(engine: Engine, customer_id: int, channel: str = "email") -> dict | None:
    t = Consent.__table__
    found = rows(engine, t, t.c.customer_id == customer_id, t.c.channel == channel)
    return found[0] if found else None


def test_a_get_of_the_unsubscribe_link_only_asks(client: TestClient, engine: Engine) -> None:
    cid = customer(engine, locale="fr")
    mid = message(engine, cid, campaign="weekly", kind="newsletter", template="newsletter")
    reply = client.get(path(links.unsubscribe_url(message_id=mid, customer_id=cid)))
    assert reply.status_code == 200
    assert "Vous désabonner de nos e-mails" in reply.text
    assert 'name="List-Unsubscribe" value="One-Click"' in reply.text
    assert consent(engine, cid)["status"] == "subscribed"
    assert interactions(engine, cid, "unsubscribed") == []


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribe_rfc_8058(client: TestClient, engine: Engine, encoding: str) -> None:
    cid = customer(engine)
    mid = message(engine, cid, campaign="weekly", kind="newsletter", template="newsletter")
    url = path(links.unsubscribe_url(message_id=mid, customer_id=cid))
    before = datetime.now(UTC)
    if encoding == "urlencoded":
        reply = client.post(
            url,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    else:
        reply = client.post(url, files={"List-Unsubscribe": (None, "One-Click")})
    assert reply.status_code == 200 and 'id="done"' in reply.text
    state = consent(engine, cid)
    assert state["status"] == "unsubscribed" and state["source"] == "web:one-click"
    assert state["updated_at"] >= before - timedelta(seconds=1)
    (event,) = interactions(engine, cid, "unsubscribed")
    assert event["message_id"] == mid and event["channel"] == "email"

    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200  # replay
    assert len(interactions(engine, cid, "unsubscribed")) == 1


def test_an_unsubscribe_post_without_the_one_click_body_changes_nothing(
    client: TestClient, engine: Engine
) -> None:
    cid = customer(engine)
    mid = message(engine, cid, campaign="weekly", kind="newsletter", template="newsletter")
    url = path(links.unsubscribe_url(message_id=mid, customer_id=cid))
    assert client.post(url).status_code == 400
    assert client.post(url, data={"List-Unsubscribe": "yes"}).status_code == 400
    assert consent(engine, cid)["status"] == "subscribed"


def test_unsubscribing_never_lifts_a_bounce(client: TestClient, engine: Engine) -> None:
    cid = customer(engine, consent="bounced")
    mid = message(engine, cid, campaign="weekly", kind="newsletter", template="newsletter")
    url = path(links.unsubscribe_url(message_id=mid, customer_id=cid))
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert consent(engine, cid)["status"] == "bounced"


def test_preferences(client: TestClient, engine: Engine) -> None:
    cid = customer(engine, locale="sv")
    mid = message(engine, cid, campaign="weekly", kind="newsletter", template="newsletter")
    url = path(links.preferences_url(message_id=mid, customer_id=cid))
    page = client.get(url)
    assert page.status_code == 200 and "Dina inställningar" in page.text
    assert re.search(r'name="email" value="on" checked', page.text)
    assert re.search(r'value="normal" checked', page.text)

    saved = client.post(url, data={"push": "on", "frequency": "monthly"})
    assert saved.status_code == 200 and 'id="saved"' in saved.text
    assert consent(engine, cid)["status"] == "unsubscribed"
    assert consent(engine, cid, "push")["status"] == "subscribed"
    (pref,) = rows(engine, ContactPreference.__table__)
    assert (pref["customer_id"], pref["frequency"]) == (cid, "monthly")

    client.post(url, data={"email": "on", "frequency": "weekly"})
    assert consent(engine, cid)["status"] == "subscribed"
    assert consent(engine, cid, "push")["status"] == "unsubscribed"
    assert rows(engine, ContactPreference.__table__)[0]["frequency"] == "weekly"

    for bad in (
        {"email": "on", "frequency": "daily"},
        {"email": "yes", "frequency": "normal"},
        {"email": "on"},
        {"email": "on", "frequency": "normal", "admin": "1"},
    ):
        assert client.post(url, data=bad).status_code == 400
    assert consent(engine, cid)["status"] == "subscribed"
    assert rows(engine, ContactPreference.__table__)[0]["frequency"] == "weekly"


def test_foreign_and_mismatched_tokens_change_nothing(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = customer(engine, external_id="ada")
    bob = customer(engine, external_id="bob", email="bob@example.com")
    mid = message(engine, ada, campaign="weekly", kind="newsletter", template="newsletter")
    # Bob's id on Ada's message: genuine signature, wrong customer.
    other = path(links.unsubscribe_url(message_id=mid, customer_id=bob))
    assert client.post(other, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    # No such message.
    ghost = path(links.unsubscribe_url(message_id=mid + 1000, customer_id=ada))
    assert client.post(ghost, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    # An unsubscribe token on the answer route.
    token = path(links.unsubscribe_url(message_id=mid, customer_id=ada)).rsplit("/", 1)[1]
    assert client.get(f"/answer/{token}").status_code == 400
    # Signed with someone else's key.
    monkeypatch.setenv("HOMECOMING_SECRET_KEY", "another-stores-key")
    get_settings.cache_clear()
    foreign = path(links.unsubscribe_url(message_id=mid, customer_id=ada))
    monkeypatch.setenv("HOMECOMING_SECRET_KEY", "web-test-key")
    get_settings.cache_clear()
    assert client.post(foreign, data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert consent(engine, ada)["status"] == "subscribed"
    assert consent(engine, bob)["status"] == "subscribed"


def test_every_catalog_has_every_text_with_the_same_placeholders() -> None:
    english = yaml.safe_load((i18n.LOCALES / "en.yaml").read_text("utf-8"))
    expected = {"en", "tr", "hu", "ko", "de", "fr", "pl", "sv", "ar"}
    assert expected <= {p.stem for p in i18n.LOCALES.glob("*.yaml")}

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in Formatter().parse(text) if name}

    for path_ in i18n.LOCALES.glob("*.yaml"):
        catalog = yaml.safe_load(path_.read_text("utf-8"))
        assert set(catalog) == set(english), path_.name
        for key, text in catalog.items():
            assert fields(str(text)) == fields(str(english[key])), (path_.name, key)
        assert catalog["direction"] == ("rtl" if path_.stem == "ar" else "ltr")


def test_language_choice() -> None:
    assert i18n.choose(customer_locale="pt-BR", accept_language="de", default="en") == "de"
    assert i18n.choose(customer_locale="de-AT", accept_language="fr", default="en") == "de"
    assert i18n.choose(customer_locale=None, accept_language="ko;q=0.5, sv", default="en") == "sv"
    assert i18n.choose(customer_locale=None, accept_language="q=;;,", default="tr") == "tr"
    assert i18n.choose(customer_locale=None, accept_language=None, default="xx") == "en"
