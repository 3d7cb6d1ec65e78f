"""Mail scanners open every link of a message; only a person's Send records an answer, and
an empty submission is not an answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from analytics.surveys import survey_results
from campaigns import links
from models.settings import get_settings
from models.store import Consent, Interaction
from models.surveys import SurveyAnswer, SurveyAnswerChange
from tests.web.helpers import customer, email_links, message, path, rows, survey_email
from web import create_app

A = SurveyAnswer.__table__
C = SurveyAnswerChange.__table__
I = Interaction.__table__  # noqa: E741


@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("HOMECOMING_SECRET_KEY", "scanner-test-key")
    monkeypatch.setenv("HOMECOMING_PUBLIC_URL", "http://testserver")
    get_settings.cache_clear()
    with TestClient(create_app(engine=engine)) as c:
        yield c
    get_settings.cache_clear()


def star_links(urls: list[str]) -> dict[int, str]:
    found = {}
    for url in urls:
        if "/answer/" in url:
            found[links.verify(url.rsplit("/", 1)[1]).score] = url
    return found


def test_a_scanner_fetching_every_link_of_an_email_records_nothing(
    client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    email = survey_email(engine, tmp_path)
    urls = [u for u in email_links(email) if u.startswith("http://testserver/")]
    stars = star_links(urls)
    assert sorted(stars) == [1, 2, 3, 4, 5]
    assert any("/unsubscribe/" in u for u in urls) and any("/feedback/" in u for u in urls)
    cid = links.verify(stars[1].rsplit("/", 1)[1]).customer_id
    for url in [*urls, *reversed(urls), *urls]:  # in order, backwards, and again
        assert client.get(url, follow_redirects=True).status_code == 200, url
        client.head(url)
    assert rows(engine, A) == [] and rows(engine, C) == []
    assert rows(engine, I, I.c.kind == "survey_answer") == []
    status = rows(engine, Consent.__table__, Consent.__table__.c.customer_id == cid)
    assert status[0]["status"] == "subscribed"
    (result,) = [r for r in survey_results(engine) if r["survey"] == "csat_after_ticket"]
    assert result["answers"] == 0

    # The person behind the scanner clicks star 2, sees it preselected, and sends.
    page = client.get(stars[2])
    assert 'value="2" checked' in page.text and 'id="send"' in page.text
    assert client.post(stars[2], data={"score": "2"}).status_code == 200
    (answer,) = rows(engine, A)
    assert answer["score"] == 2
    # Scanners replaying every link afterwards change nothing either.
    for url in urls:
        client.get(url, follow_redirects=True)
    (answer,) = rows(engine, A)
    assert answer["score"] == 2
    assert [h["score"] for h in rows(engine, C)] == [2]


def test_a_second_submission_changes_the_answer_and_keeps_the_history(
    client: TestClient, engine: Engine
) -> None:
    cid = customer(engine)
    mid = message(engine, cid)
    four = path(links.survey_url(message_id=mid, customer_id=cid, score=4))
    assert client.post(four, data={"score": "4", "comment": "Quick."}).status_code == 200
    (first,) = rows(engine, A)
    assert (first["score"], first["comment"]) == (4, "Quick.")
    # Sending the same again keeps it as it is.
    assert client.post(four, data={"score": "4"}).status_code == 200
    assert len(rows(engine, C)) == 1
    # Another star on the page (the token of star 4 offers the whole scale) changes it.
    reply = client.post(four, data={"score": "1"})
    assert reply.status_code == 200 and 'id="rating"' in reply.text and "1 of 5" in reply.text
    (changed,) = rows(engine, A)
    assert (changed["score"], changed["comment"]) == (1, "Quick.")
    assert changed["answered_at"] == first["answered_at"]
    assert [h["score"] for h in sorted(rows(engine, C), key=lambda r: r["id"])] == [4, 1]
    (interaction,) = rows(engine, I, I.c.kind == "survey_answer")
    assert interaction["value"] == 1


@pytest.mark.parametrize("comment", ["", "   ", " \r\n\t ", "\x00\x01"])
def test_an_empty_submission_is_not_an_answer(
    client: TestClient, engine: Engine, comment: str
) -> None:
    cid = customer(engine)
    csat = message(engine, cid)
    feedback = message(
        engine, cid, campaign="feedback_after_delivery", kind="feedback", template="feedback_survey"
    )
    for url in (
        path(links.survey_url(message_id=csat, customer_id=cid, score=5)),
        path(links.feedback_url(message_id=feedback, customer_id=cid, choice="late")),
        path(links.feedback_page_url(message_id=feedback, customer_id=cid)),
    ):
        reply = client.post(url, data={"comment": comment})
        assert reply.status_code == 422, url
        assert 'id="empty"' in reply.text
        assert "Please choose an answer or write a comment before sending" in reply.text
    assert rows(engine, A) == [] and rows(engine, I, I.c.kind == "survey_answer") == []
    assert all(r["answers"] == 0 for r in survey_results(engine))

    # Good data around it is kept: a real answer, then an empty one that changes nothing.
    url = path(links.survey_url(message_id=csat, customer_id=cid, score=5))
    assert client.post(url, data={"score": "5", "comment": "Lovely"}).status_code == 200
    assert client.post(url, data={"comment": comment}).status_code == 422
    (answer,) = rows(engine, A)
    assert (answer["score"], answer["comment"]) == (5, "Lovely")
    page = path(links.feedback_page_url(message_id=feedback, customer_id=cid))
    assert client.post(page, data={"comment": " Late but fine "}).status_code == 200
    (text,) = rows(engine, A, A.c.message_id == feedback)
    assert text["comment"] == "Late but fine"
