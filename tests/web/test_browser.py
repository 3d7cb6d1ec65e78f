"""The customer's side in a real browser: Debian's Chromium driven by Playwright against
the web service on a loopback port, with the database checked afterwards."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from campaigns import links
from models.settings import get_settings
from models.store import Consent
from models.surveys import ContactPreference, SurveyAnswer
from templates.preview import CHROMIUM as PREVIEW_CHROMIUM
from templates.preview import CHROMIUM_ARGS
from tests.web.helpers import customer, message, resolved_ticket, rows
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


def survey_email(engine: Engine, tmp_path: Path, *, locale: str = "en") -> Any:
    """Send a CSAT survey through the file outbox, as the send-surveys run does; the email."""
    from campaigns.channels.outbox import OutboxTransport
    from campaigns.surveys import send_due_surveys, triggered_campaigns

    cid = customer(engine, locale=locale)
    resolved = datetime.now(UTC).replace(hour=10) - timedelta(days=1)
    resolved_ticket(engine, cid, resolved)
    (csat,) = [c for c in triggered_campaigns()[0] if c.name == "csat_after_ticket"]
    folder = tmp_path / "outbox"
    result = send_due_surveys(
        engine,
        now=resolved + timedelta(hours=1),
        campaigns=[csat],
        email_transport=OutboxTransport(folder, channel="email"),
    )
    assert result["sent"] == 1
    (path,) = folder.glob("*.eml")
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())


def survey_link_from_the_outbox(engine: Engine, tmp_path: Path, score: int) -> str:
    """The star link of ``score`` in a survey email from the outbox."""
    body = survey_email(engine, tmp_path).get_body(preferencelist=("html",)).get_content()
    for url in (html.unescape(u) for u in re.findall(r'href="([^"]+)"', body)):
        if "/answer/" in url and links.verify(url.rsplit("/", 1)[1]).score == score:
            return url
    raise AssertionError("no star link in the email")


def test_a_star_click_and_a_comment_from_an_email(
    engine: Engine, site: str, page: Any, tmp_path: Path
) -> None:
    url = survey_link_from_the_outbox(engine, tmp_path, score=4)
    assert url.startswith(site)
    page.goto(url)
    assert page.locator("h1").inner_text() == "Thank you for your answer!"
    (answer,) = rows(engine, SurveyAnswer.__table__)
    assert (answer["score"], answer["kind"], answer["survey"]) == (4, "csat", "csat_after_ticket")
    assert page.locator('[aria-current="true"]').get_attribute("data-score") == "4"
    page.fill("#comment", "Friendly and quick, thank you.")
    page.click("#comment-form button")
    page.wait_for_selector("#comment-saved")
    (answer,) = rows(engine, SurveyAnswer.__table__)
    assert (answer["score"], answer["comment"]) == (4, "Friendly and quick, thank you.")
    # A change of mind: another star on the thank-you page.
    page.click('[data-score="5"]')
    page.wait_for_selector('[aria-current="true"][data-score="5"]')
    (answer,) = rows(engine, SurveyAnswer.__table__)
    assert (answer["score"], answer["comment"]) == (5, "Friendly and quick, thank you.")


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
    for _ in range(2):  # a replayed link (a second click, a mail scanner) records nothing new
        assert page.goto(choice).status == 200
        (answer,) = rows(engine, SurveyAnswer.__table__)
        assert (answer["choice"], answer["comment"]) == ("late", None)
    page.goto(links.feedback_page_url(message_id=mid, customer_id=cid))
    page.fill("#comment", "Le colis est arrivé avec deux jours de retard.")
    page.click("#comment-form button")
    page.wait_for_selector("#comment-saved")
    (answer,) = rows(engine, SurveyAnswer.__table__)
    assert answer["choice"] == "late"
    assert answer["comment"] == "Le colis est arrivé avec deux jours de retard."
