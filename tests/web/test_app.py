"""The web service's survey pages over HTTP: answers, comments, feedback, bad tokens, headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from campaigns import links
from models.surveys import SurveyAnswer, SurveyAnswerChange
from tests.web.helpers import customer, interactions, message, path, rows

CSAT = SurveyAnswer.__table__


def answers(engine: Engine, message_id: int) -> list[dict]:
    return rows(engine, CSAT, CSAT.c.message_id == message_id)


def history(engine: Engine, answer_id: int) -> list[dict]:
    t = SurveyAnswerChange.__table__
    return sorted(rows(engine, t, t.c.answer_id == answer_id), key=lambda r: r["id"])


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
