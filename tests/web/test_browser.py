"""The customer's side in a real browser: Debian's Chromium driven by Playwright against
the web service on a loopback port, with the database checked afterwards."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from campaigns import links
from models.settings import get_settings
from models.store import Consent
from models.surveys import ContactPreference, SurveyAnswer, SurveyAnswerChange
from templates import Renderer
from templates.preview import CHROMIUM as PREVIEW_CHROMIUM
from templates.preview import CHROMIUM_ARGS
from tests.web.helpers import customer, email_links, message, rows, survey_email
from web.server import free_port, running

CHROMIUM = str(PREVIEW_CHROMIUM)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"{CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def site(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    monkeypatch.setenv("HOMECOMING_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HOMECOMING_SECRET_KEY", "browser-test-key")
    get_settings.cache_clear()
    with running(engine, port=port) as base:
        yield base
    get_settings.cache_clear()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


def email_status(engine: Engine, customer_id: int) -> str:
    t = Consent.__table__
    return rows(engine, t, t.c.customer_id == customer_id, t.c.channel == "email")[0]["status"]


def survey_link_from_the_outbox(engine: Engine, tmp_path: Path, score: int) -> str:
    """The star link of ``score`` in a survey email from the outbox."""
    body = survey_email(engine, tmp_path).get_body(preferencelist=("html",)).get_content()
    for url in (html.unescape(u) for u in re.findall(r'href="([^"]+)"', body)):
        if "/answer/" in url and links.verify(url.rsplit("/", 1)[1]).score == score:
            return url
    raise AssertionError("no star link in the email")


def test_a_star_click_then_send_from_an_email(
    engine: Engine, site: str, page: Any, tmp_path: Path
) -> None:
    url = survey_link_from_the_outbox(engine, tmp_path, score=4)
    assert url.startswith(site)
    page.goto(url)
    assert page.locator("h1").inner_text() == "Send your answer"
    assert page.locator('input[name="score"][value="4"]').is_checked()
    assert rows(engine, SurveyAnswer.__table__) == []  # opening the link records nothing
    page.fill("#comment", "Friendly and quick, thank you.")
    with page.expect_navigation():
        page.click("#send")
    assert page.locator("h1").inner_text() == "Thank you for your answer!"
    assert page.locator("#comment-saved").is_visible()
    (answer,) = rows(engine, SurveyAnswer.__table__)
    assert (answer["score"], answer["kind"], answer["survey"]) == (4, "csat", "csat_after_ticket")
    assert answer["comment"] == "Friendly and quick, thank you."
    # A change of mind: another star on the thank-you page, then Send.
    assert page.locator('input[name="score"][value="4"]').is_checked()
    page.click('[data-score="5"]')
    with page.expect_navigation():
        page.click("#send")
    assert page.locator("#rating").inner_text() == "Your rating: 5 of 5"
    (answer,) = rows(engine, SurveyAnswer.__table__)
    assert (answer["score"], answer["comment"]) == (5, "Friendly and quick, thank you.")


def test_a_scanner_in_a_browser_opens_every_link_and_records_nothing(
    engine: Engine, site: str, page: Any, tmp_path: Path
) -> None:
    """Like a mail scanner that opens each link of a message in a sandboxed browser (scripts
    on), in the order they appear and again backwards."""
    email = survey_email(engine, tmp_path)
    urls = [u for u in email_links(email) if u.startswith(site)]
    assert sum("/answer/" in u for u in urls) == 5
    cid = links.verify(urls[0].rsplit("/", 1)[1]).customer_id
    for url in [*urls, *reversed(urls)]:
        assert page.goto(url).status == 200
        page.wait_for_load_state("networkidle")
    assert rows(engine, SurveyAnswer.__table__) == []
    assert rows(engine, SurveyAnswerChange.__table__) == []
    assert email_status(engine, cid) == "subscribed"


def test_unsubscribe_confirmation_page(
    engine: Engine, site: str, page: Any, tmp_path: Path
) -> None:
    email = survey_email(engine, tmp_path, locale="pl")
    url = email["List-Unsubscribe"].strip("<>")
    assert url.startswith(f"{site}/unsubscribe/")
    cid = links.verify(url.rsplit("/", 1)[1]).customer_id
    page.goto(url)
    assert page.locator("h1").inner_text() == "Wypisać się z naszych e-maili?"
    assert email_status(engine, cid) == "subscribed"  # opening the page changes nothing
    page.click("#unsubscribe-form button")
    page.wait_for_selector("#done")
    assert email_status(engine, cid) == "unsubscribed"


def test_tampered_and_expired_pages(engine: Engine, site: str, page: Any) -> None:
    cid = customer(engine, locale="hu")
    mid = message(engine, cid)
    url = links.survey_url(message_id=mid, customer_id=cid, score=5)
    forged = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    reply = page.goto(forged)
    assert reply.status == 400
    assert page.locator("#error").get_attribute("data-kind") == "invalid"
    assert page.locator("html").get_attribute("lang") == "en"  # the browser's language

    expired = links.sign(
        "survey",
        message_id=mid,
        customer_id=cid,
        score=5,
        now=datetime.now(UTC) - timedelta(days=61),
    )
    reply = page.goto(f"{site}/answer/{expired}")
    assert reply.status == 410
    assert page.locator("h1").inner_text() == "Ez a hivatkozás lejárt"  # the customer's language
    assert rows(engine, SurveyAnswer.__table__) == []


def test_preferences_from_an_email(engine: Engine, site: str, page: Any, tmp_path: Path) -> None:
    body = survey_email(engine, tmp_path, locale="de").get_body(preferencelist=("html",))
    found = [html.unescape(u) for u in re.findall(r'href="([^"]+)"', body.get_content())]
    (url,) = [u for u in found if "/preferences/" in u]
    cid = links.verify(url.rsplit("/", 1)[1]).customer_id
    page.goto(url)
    assert page.locator('input[name="email"]').is_checked()
    page.uncheck('input[name="email"]')
    page.check('input[name="frequency"][value="monthly"]')
    page.click("#preferences-form button")
    page.wait_for_selector("#saved")
    assert email_status(engine, cid) == "unsubscribed"
    (pref,) = rows(engine, ContactPreference.__table__)
    assert (pref["customer_id"], pref["frequency"]) == (cid, "monthly")
    assert not page.locator('input[name="email"]').is_checked()


def test_feedback_choice_free_text_and_a_replayed_link(
    engine: Engine, site: str, page: Any
) -> None:
    cid = customer(engine, locale="fr")
    mid = message(
        engine, cid, campaign="feedback_after_delivery", kind="feedback", template="feedback_survey"
    )
    choice = links.feedback_url(message_id=mid, customer_id=cid, choice="late")
    for _ in range(2):  # opening the link (a person, a mail scanner) records nothing
        assert page.goto(choice).status == 200
        assert rows(engine, SurveyAnswer.__table__) == []
    with page.expect_navigation():
        page.click("#send")
    page.wait_for_selector("#choice-saved")
    # The thanks repeat the choice in the customer's words, from the email's own catalog.
    french = Renderer().library.catalogs.texts["fr"]["feedback_survey.choices.late"]
    assert page.inner_text("#your-choice") == french
    assert page.goto(choice).status == 200  # a replayed link changes nothing
    (answer,) = rows(engine, SurveyAnswer.__table__)
    assert (answer["choice"], answer["comment"]) == ("late", None)
    page.goto(links.feedback_page_url(message_id=mid, customer_id=cid))
    page.fill("#comment", "Le colis est arrivé avec deux jours de retard.")
    page.click("#comment-form button")
    page.wait_for_selector("#comment-saved")
    (answer,) = rows(engine, SurveyAnswer.__table__)
    assert answer["choice"] == "late"
    assert answer["comment"] == "Le colis est arrivé avec deux jours de retard."
