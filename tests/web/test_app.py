"""The web service through its HTTP interface: answers, comments, unsubscribe, preferences,
bad tokens, limits and headers, on both database backends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from string import Formatter

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from campaigns import links
from models.settings import get_settings
from models.store import Consent, Interaction
from models.surveys import ContactPreference, SurveyAnswer, SurveyAnswerChange
from tests.web.helpers import customer, message, path, rows
from web import create_app, i18n

CSAT = SurveyAnswer.__table__


@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("HOMECOMING_SECRET_KEY", "web-test-key")
    monkeypatch.setenv("HOMECOMING_PUBLIC_URL", "http://testserver")
    get_settings.cache_clear()
    with TestClient(create_app(engine=engine)) as c:
        yield c
    get_settings.cache_clear()


def answers(engine: Engine, message_id: int) -> list[dict]:
    return rows(engine, CSAT, CSAT.c.message_id == message_id)


def history(engine: Engine, answer_id: int) -> list[dict]:
    t = SurveyAnswerChange.__table__
    return sorted(rows(engine, t, t.c.answer_id == answer_id), key=lambda r: r["id"])


def consent(engine: Engine, customer_id: int, channel: str = "email") -> dict | None:
    t = Consent.__table__
    found = rows(engine, t, t.c.customer_id == customer_id, t.c.channel == channel)
    return found[0] if found else None


def interactions(engine: Engine, customer_id: int, kind: str) -> list[dict]:
    t = Interaction.__table__
    return rows(engine, t, t.c.customer_id == customer_id, t.c.kind == kind)


def test_health(client: TestClient) -> None:
    reply = client.get("/health")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "database": "ok"}


def test_a_star_click_shows_the_page_and_send_records_the_score_once(
    client: TestClient, engine: Engine
) -> None:
    cid = customer(engine, locale="tr")
    mid = message(engine, cid)
    four = path(links.survey_url(message_id=mid, customer_id=cid, score=4))
    reply = client.get(four)
    assert reply.status_code == 200
    assert 'lang="tr"' in reply.text and "Yanıtınızı gönderin" in reply.text
    assert 'name="comment"' in reply.text and 'value="4" checked' in reply.text
    assert answers(engine, mid) == []  # opening the link is not answering
    reply = client.post(four, data={"score": "4"})
    assert reply.status_code == 200 and "Yanıtınız için teşekkür ederiz" in reply.text
    (answer,) = answers(engine, mid)
    assert (answer["score"], answer["kind"], answer["survey"]) == (4, "csat", "csat_after_ticket")

    assert client.post(four, data={"score": "4"}).status_code == 200  # the same again
    assert len(answers(engine, mid)) == 1
    assert [h["score"] for h in history(engine, answer["id"])] == [4]

    two = path(links.survey_url(message_id=mid, customer_id=cid, score=2))
    assert client.get(two).status_code == 200
    assert answers(engine, mid)[0]["score"] == 4
    assert client.post(two, data={"score": "2"}).status_code == 200
    (changed,) = answers(engine, mid)
    assert changed["score"] == 2 and changed["answered_at"] == answer["answered_at"]
    assert [h["score"] for h in history(engine, answer["id"])] == [4, 2]
    (interaction,) = interactions(engine, cid, "survey_answer")
    assert interaction["value"] == 2 and interaction["message_id"] == mid


def test_the_thank_you_page_offers_the_other_scores(client: TestClient, engine: Engine) -> None:
    cid = customer(engine)
    mid = message(engine, cid)
    page = client.get(path(links.survey_url(message_id=mid, customer_id=cid, score=3))).text
    scores = re.findall(r'data-score="(\d+)"', page)
    assert scores == ["1", "2", "3", "4", "5"]
    assert re.search(r'value="3" checked', page) and len(re.findall(r" checked", page)) == 1


def test_a_comment_is_saved_without_touching_the_score(client: TestClient, engine: Engine) -> None:
    cid = customer(engine)
    mid = message(engine, cid)
    five = path(links.survey_url(message_id=mid, customer_id=cid, score=5))
    client.post(five, data={"score": "5"})
    four = path(links.survey_url(message_id=mid, customer_id=cid, score=4))
    client.post(four, data={"score": "4"})  # another tab
    reply = client.post(five, data={"comment": "  Fast delivery,\r\nthank you!\x00 "})
    assert reply.status_code == 200 and 'id="comment-saved"' in reply.text
    (answer,) = answers(engine, mid)
    assert answer["comment"] == "Fast delivery,\nthank you!"
    assert answer["score"] == 4
    assert history(engine, answer["id"])[-1]["comment"] == answer["comment"]


def test_bad_comments_change_nothing(client: TestClient, engine: Engine) -> None:
    cid = customer(engine)
    mid = message(engine, cid)
    url = path(links.survey_url(message_id=mid, customer_id=cid, score=5))
    client.post(url, data={"score": "5"})
    too_long = client.post(url, data={"comment": "x" * 2001})
    assert too_long.status_code == 422 and 'role="alert"' in too_long.text
    assert client.post(url, data={"comment": "hi", "choice": "great"}).status_code == 400
    assert client.post(url, files={"comment": ("a.txt", b"file")}).status_code == 400
    (answer,) = answers(engine, mid)
    assert (answer["score"], answer["comment"]) == (5, None)


def test_nps_takes_0_to_10_and_csat_refuses_a_score_outside_1_to_5(
    client: TestClient, engine: Engine
) -> None:
    cid = customer(engine)
    nps = message(engine, cid, campaign="nps_quarterly", kind="nps", template="nps_survey")
    zero = path(links.survey_url(message_id=nps, customer_id=cid, score=0))
    page = client.get(zero)
    assert page.status_code == 200
    assert re.findall(r'data-score="(\d+)"', page.text) == [str(s) for s in range(11)]
    assert client.post(zero, data={"score": "0"}).status_code == 200
    assert answers(engine, nps)[0]["score"] == 0
    for bad in ("11", "-1", "05", "x"):
        refused = client.post(zero, data={"score": bad})
        assert refused.status_code == 400 and 'id="detail"' in refused.text
    assert answers(engine, nps)[0]["score"] == 0

    csat = message(engine, cid)
    for score in (0, 7):
        reply = client.get(path(links.survey_url(message_id=csat, customer_id=cid, score=score)))
        assert reply.status_code == 404 and 'data-kind="invalid"' in reply.text
    assert answers(engine, csat) == []


def test_feedback_choice_and_free_text(client: TestClient, engine: Engine) -> None:
    cid = customer(engine, locale="de")
    mid = message(
        engine, cid, campaign="feedback_after_delivery", kind="feedback", template="feedback_survey"
    )
    choice = path(links.feedback_url(message_id=mid, customer_id=cid, choice="too_slow"))
    reply = client.get(choice)
    assert reply.status_code == 200 and 'name="choice" value="too_slow"' in reply.text
    assert answers(engine, mid) == []
    reply = client.post(choice, data={"choice": "too_slow"})
    assert reply.status_code == 200 and "Ihre Antwort wurde gespeichert" in reply.text
    assert client.post(choice, data={"choice": "great"}).status_code == 400  # not this link's
    (answer,) = answers(engine, mid)
    assert (answer["kind"], answer["choice"], answer["score"]) == ("feedback", "too_slow", None)

    page_url = path(links.feedback_page_url(message_id=mid, customer_id=cid))
    page = client.get(page_url)
    assert page.status_code == 200 and "Sagen Sie uns Ihre Meinung" in page.text
    saved = client.post(page_url, data={"comment": "Die Verpackung war beschädigt."})
    assert saved.status_code == 200 and 'id="comment-saved"' in saved.text
    (answer,) = answers(engine, mid)
    assert answer["choice"] == "too_slow" and answer["comment"] == "Die Verpackung war beschädigt."

    only_text = message(
        engine, cid, campaign="feedback_after_delivery", kind="feedback", template="feedback_survey"
    )
    url = path(links.feedback_page_url(message_id=only_text, customer_id=cid))
    client.post(url, data={"comment": "Alles gut"})
    (answer,) = answers(engine, only_text)
    assert (answer["choice"], answer["score"], answer["comment"]) == (None, None, "Alles gut")


def test_survey_links_do_not_answer_a_marketing_message(client: TestClient, engine: Engine) -> None:
    cid = customer(engine)
    mid = message(engine, cid, campaign="weekly", kind="newsletter", template="newsletter")
    reply = client.get(path(links.survey_url(message_id=mid, customer_id=cid, score=5)))
    assert reply.status_code == 404
    assert answers(engine, mid) == []


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


def test_tampered_token_changes_nothing_and_speaks_the_browser_language(
    client: TestClient, engine: Engine
) -> None:
    cid = customer(engine)
    mid = message(engine, cid)
    url = path(links.survey_url(message_id=mid, customer_id=cid, score=5))
    token = url.rsplit("/", 1)[1]
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    reply = client.get(f"/answer/{forged}", headers={"accept-language": "fr-CH, de;q=0.9"})
    assert reply.status_code == 400
    assert 'lang="fr"' in reply.text and "Ce lien ne fonctionne pas" in reply.text
    assert client.get("/answer/not-a-token").status_code == 400
    assert client.get("/answer/" + "A" * 5000).status_code in (400, 404, 414)
    reply = client.get(f"/answer/{forged}", headers={"accept-language": "xx, *;q=0.1"})
    assert 'lang="en"' in reply.text
    assert answers(engine, mid) == []


def test_expired_token_speaks_the_customers_language(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = customer(engine, locale="ko")
    mid = message(engine, cid)
    old = links.sign(
        "survey",
        message_id=mid,
        customer_id=cid,
        score=5,
        now=datetime.now(UTC) - timedelta(days=61),
    )
    reply = client.get(f"/answer/{old}", headers={"accept-language": "de"})
    assert reply.status_code == 410
    assert 'lang="ko"' in reply.text and "이 링크는 만료되었습니다" in reply.text
    assert client.post(f"/answer/{old}", data={"score": "5"}).status_code == 410
    assert answers(engine, mid) == []


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


def test_rtl_pages_for_arabic(client: TestClient, engine: Engine) -> None:
    cid = customer(engine, locale="ar")
    mid = message(engine, cid)
    url = path(links.survey_url(message_id=mid, customer_id=cid, score=5))
    page = client.get(url).text
    assert '<html lang="ar" dir="rtl">' in page and "أرسل إجابتك" in page
    assert "شكرًا لك على إجابتك" in client.post(url, data={"score": "5"}).text


def test_security_headers_everywhere(client: TestClient, engine: Engine) -> None:
    cid = customer(engine)
    mid = message(engine, cid)
    for reply in (
        client.get(path(links.survey_url(message_id=mid, customer_id=cid, score=5))),
        client.get("/answer/broken.token"),
        client.get("/health"),
        client.get("/nowhere"),
        client.get("/static/style.css"),
    ):
        h = reply.headers
        assert "default-src 'none'" in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert h["x-frame-options"] == "DENY"
    assert client.get("/health").headers["cache-control"] == "no-store"


def test_request_bodies_are_limited(client: TestClient, engine: Engine) -> None:
    cid = customer(engine)
    mid = message(engine, cid)
    url = path(links.survey_url(message_id=mid, customer_id=cid, score=5))
    client.post(url, data={"score": "5"})
    big = client.post(url, data={"comment": "x" * 100_000})
    assert big.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"comment=" + b"y" * 1000

    streamed = client.post(
        url, content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413
    assert answers(engine, mid)[0]["comment"] is None


def test_no_personal_data_in_links_or_pages(client: TestClient, engine: Engine) -> None:
    cid = customer(engine)
    mid = message(engine, cid)
    url = links.survey_url(message_id=mid, customer_id=cid, score=5)
    assert "ada" not in url.lower() and "@" not in url
    page = client.get(path(url)).text
    assert "ada@example.com" not in page and "Ada" not in page


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
