"""Preference topics: an opt-out made on the preference page suppresses that topic's
campaigns at planning and at the last moment before a send, and nothing else."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from campaigns import links
from campaigns.channels.base import Delivery, Outgoing
from campaigns.channels.outbox import OutboxTransport
from campaigns.definitions import parse_campaign
from campaigns.run import run_period
from models.base import table
from models.topics import TopicOptOut
from tests.campaigns.conftest import FakeRenderer, add_customers, add_segment, campaign, ledger
from tests.web.helpers import customer, message, path, rows

WEEKLY = "cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}\n"
NEWS = "name: news\nkind: newsletter\nsegments: [vip]\n" + WEEKLY
SALE = "name: sale\nkind: promotion\nsegments: [vip]\n" + WEEKLY
OPT_OUTS = table(TopicOptOut)
ON_TIME = datetime(2026, 11, 23, 13, tzinfo=UTC)  # Monday, after every European send time


def plan(engine: Engine, text: str, tmp_path: Path, **kwargs) -> dict[int, Any]:
    run_period(
        engine,
        campaign=campaign(text),
        period="2026-W48",
        now=ON_TIME,
        renderer=FakeRenderer(),
        email_transport=OutboxTransport(tmp_path / "outbox", channel="email"),
        journal_dir=tmp_path / "journal",
        **kwargs,
    )
    name = text.split("\n", 1)[0].removeprefix("name: ")
    return {r.customer_id: r for r in ledger(engine, name)}


def test_a_topic_opted_out_on_the_page_suppresses_only_that_topic(
    client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    ada = customer(engine, external_id="ada")
    bob = customer(engine, external_id="bob", email="bob@example.com")
    add_segment(engine, "vip", [ada, bob])
    mid = message(engine, ada, campaign="weekly", kind="newsletter", template="newsletter")
    url = path(links.preferences_url(message_id=mid, customer_id=ada))
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="topic_offers" value="on" checked' in page.text

    wanted = {"topic_news": "on", "topic_recommendations": "on", "topic_reviews": "on"}
    form = {"email": "on", "frequency": "normal", "topics": "shown", **wanted}
    saved = client.post(url, data=form)
    assert saved.status_code == 200 and 'id="saved"' in saved.text
    assert 'name="topic_offers" value="on">' in saved.text  # shown unticked
    assert [(r["customer_id"], r["topic"]) for r in rows(engine, OPT_OUTS)] == [(ada, "offers")]
    # A form without the topic boxes (an older page) changes no topic.
    client.post(url, data={"email": "on", "frequency": "normal"})
    assert len(rows(engine, OPT_OUTS)) == 1
    assert client.post(url, data={**form, "topics": "all"}).status_code == 400

    sale = plan(engine, SALE, tmp_path, send=False)
    assert (sale[ada].status, sale[ada].reason) == ("suppressed", "topic_opt_out")
    assert sale[bob].status == "planned"
    # Another topic is not stopped (its caps leave room for a second message this week).
    news = plan(engine, NEWS + "caps: {count: 5, min_gap_hours: 0}\n", tmp_path, send=False)
    assert news[ada].status == news[bob].status == "planned"

    # Ticking it again opts back in.
    client.post(url, data={**form, "topic_offers": "on"})
    assert rows(engine, OPT_OUTS) == []


def test_surveys_and_service_messages_have_no_topic() -> None:
    survey = textwrap.dedent(
        """\
        name: csat
        kind: csat_survey
        trigger: {after: ticket_resolved, delay: 1d}
        """
    )
    found, errors = parse_campaign(survey, "csat.yaml")
    assert not errors and found is not None and found.topic is None
    found, errors = parse_campaign(survey + "topic: offers\n", "csat.yaml")
    assert found is None
    assert [(e.line, "has no topic" in e.message) for e in errors] == [(4, True)]
    _, errors = parse_campaign(SALE + "topic: offerz\n", "sale.yaml")
    assert [(e.line, "'offers'" in e.message) for e in errors] == [(5, True)]
    assert campaign(SALE).topic == "offers" and campaign(NEWS + "topic: offers\n").topic == "offers"


class OptingOut:
    """A provider that takes each message while the next customer opts out of offers."""

    name = "opting-out"
    channel = "email"
    authoritative = False

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sent: list[int] = []

    def send(self, item: Outgoing) -> Delivery:
        self.sent.append(item.customer_id)
        with self.engine.begin() as conn:
            conn.execute(
                insert(TopicOptOut),
                [{"customer_id": item.customer_id + 1, "topic": "offers", "source": "test"}],
            )
        return Delivery(f"p-{item.ledger_id}")

    def lookup(self, ledger_ids: list[int]) -> dict[int, str]:
        return {}

    def close(self) -> None:
        pass


def test_an_opt_out_during_a_send_stops_the_next_message(engine: Engine, tmp_path: Path) -> None:
    ids = add_customers(engine, 6)
    add_segment(engine, "vip", ids)
    transport = OptingOut(engine)
    result = run_period(
        engine,
        campaign=campaign(SALE),
        period="2026-W48",
        now=ON_TIME,
        renderer=FakeRenderer(),
        email_transport=transport,
        journal_dir=tmp_path / "journal",
    )
    assert transport.sent == [1, 3, 5]
    rows_by_customer = {r.customer_id: r for r in ledger(engine)}
    assert {(rows_by_customer[c].status, rows_by_customer[c].reason) for c in (2, 4, 6)} == {
        ("suppressed", "topic_opt_out")
    }
    assert result.send.sent == 3
