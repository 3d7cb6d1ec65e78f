"""Fixtures of the campaign tests: a store, segment snapshots and campaign files in SQL."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import textwrap
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from campaigns.channels.outbox import OutboxTransport
from campaigns.definitions import MARKETING_KINDS, Campaign, parse_campaign
from campaigns.run import run_period
from models.campaigns import Message
from models.segments import SegmentMember, SegmentSnapshot
from models.settings import get_settings
from models.store import Consent, Customer, Device, SupportTicket
from templates import RenderError
from templates.renderer import MessageRenderer

AS_OF = date(2026, 11, 20)
ROOT_DIR = Path(__file__).resolve().parents[2]


class FakeRenderError(RenderError):
    """What the fake renderer raises for a recipient it cannot render."""


@dataclass
class FakeEmail:
    subject: str
    preheader: str
    html: str
    text: str
    locale: str
    direction: str = "ltr"

    def to_mime(self, *, sender: str, to: str, headers: dict[str, str]) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = to
        message["Subject"] = self.subject
        for name, value in headers.items():
            message[name] = value
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message


@dataclass
class FakePush:
    title: str
    body: str
    deep_link: str | None


class FakeRenderer:
    """Stands in for ``templates.Renderer`` in tests that are about sending, not rendering.

    A customer whose first name is ``Broken`` cannot be rendered.
    """

    KINDS = MARKETING_KINDS

    def names(self) -> list[str]:
        return list(self.KINDS)

    def kind(self, name: str) -> str:
        return name

    def channels(self, name: str) -> list[str]:
        return ["email", "push"]

    def email(
        self,
        template: str,
        *,
        locale: str,
        context: Mapping[str, Any],
        variant: str | None = None,
        fallback: str | None = None,
        skip: bool | None = None,
    ) -> FakeEmail:
        name = context["customer"]["first_name"]
        if name == "Broken":
            raise FakeRenderError("missing translation")
        link = context["links"]["unsubscribe"]
        return FakeEmail(
            subject=f"{template} {variant or ''} for {name}",
            preheader="",
            html=f"<p>Hello {name}</p><a href='{link}'>unsubscribe</a>",
            text=f"Hello {name}\nUnsubscribe: {link}",
            locale=locale,
        )

    def push(
        self,
        template: str,
        *,
        locale: str,
        context: Mapping[str, Any],
        variant: str | None = None,
        fallback: str | None = None,
        skip: bool | None = None,
    ) -> FakePush:
        return FakePush(
            title=f"{template} {variant or ''}".strip(),
            body=f"Hello {context['customer']['first_name']}",
            deep_link=context.get("deep_link"),
        )


# The fake keeps to the renderer contract campaigns are typed against: mypy checks this line.
_CONFORMS: MessageRenderer = FakeRenderer()


@pytest.fixture
def renderer() -> FakeRenderer:
    return FakeRenderer()


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "outbox"
    monkeypatch.setenv("HOMECOMING_OUTBOX_DIR", str(folder))
    monkeypatch.setenv("HOMECOMING_SEND_JOURNAL_DIR", str(tmp_path / "journal"))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def campaign(text: str, source: str = "test.yaml") -> Campaign:
    found, errors = parse_campaign(textwrap.dedent(text), source)
    assert not errors, errors
    assert found is not None
    return found


def add_customers(
    engine: Engine,
    count: int,
    *,
    start: int = 1,
    time_zone: str | Iterable[str] = "Europe/Berlin",
    consent: str | None = "subscribed",
    channel: str = "email",
    first_name: str = "Ada",
) -> list[int]:
    zones = [time_zone] * count if isinstance(time_zone, str) else list(time_zone)
    ids = list(range(start, start + count))
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [
                {
                    "id": i,
                    "external_id": f"c{i}",
                    "email": f"customer{i}@example.org",
                    "first_name": first_name,
                    "last_name": f"N{i}",
                    "locale": "en",
                    "time_zone": zones[n],
                    "created_at": datetime(2025, 1, 1, tzinfo=UTC),
                }
                for n, i in enumerate(ids)
            ],
        )
        if consent:
            conn.execute(
                insert(Consent),
                [
                    {
                        "customer_id": i,
                        "channel": channel,
                        "status": consent,
                        "source": "test",
                        "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
                    }
                    for i in ids
                ],
            )
    return ids


def add_devices(engine: Engine, customer_ids: Iterable[int], *, platform: str = "ios") -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Device),
            [
                {
                    "customer_id": i,
                    "platform": platform,
                    "token": f"token-{i}",
                    "enabled": True,
                    "created_at": datetime(2025, 1, 1, tzinfo=UTC),
                }
                for i in customer_ids
            ],
        )


def add_segment(
    engine: Engine, name: str, customer_ids: Iterable[int], *, as_of: date = AS_OF
) -> None:
    ids = list(customer_ids)
    with engine.begin() as conn:
        conn.execute(insert(SegmentSnapshot), [{"segment": name, "as_of": as_of, "size": len(ids)}])
        if ids:
            conn.execute(
                insert(SegmentMember),
                [{"segment": name, "as_of": as_of, "customer_id": i} for i in ids],
            )


def open_ticket(engine: Engine, customer_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(SupportTicket),
            [
                {
                    "external_id": f"t{customer_id}",
                    "customer_id": customer_id,
                    "channel": "email",
                    "opened_at": datetime(2026, 11, 1, tzinfo=UTC),
                }
            ],
        )


def set_consent(engine: Engine, customer_id: int, status: str, channel: str = "email") -> None:
    with engine.begin() as conn:
        conn.execute(
            Consent.__table__.update()
            .where(Consent.customer_id == customer_id, Consent.channel == channel)
            .values(status=status)
        )


def ledger(engine: Engine, campaign_name: str | None = None) -> list[Any]:
    query = Message.__table__.select().order_by(Message.id)
    if campaign_name:
        query = query.where(Message.campaign == campaign_name)
    with engine.connect() as conn:
        return list(conn.execute(query))


def weekly(name: str, *, day: str = "monday", hour: int = 10, extra: str = "") -> object:
    return campaign(
        f"name: {name}\nkind: newsletter\nsegments: [vip]\n"
        f"cadence: {{every: weekly, day: {day}, hour: {hour}, time_zone: Europe/Berlin}}\n{extra}"
    )


def run(engine: Engine, definition: object, now: datetime | None, outbox: Path, **kwargs):
    return run_period(
        engine,
        campaign=definition,  # type: ignore[arg-type]
        now=now,
        renderer=FakeRenderer(),
        email_transport=OutboxTransport(outbox, channel="email"),
        **kwargs,
    )


# --- Amazon SES and SNS through moto's server ------------------------------------------------

SENDER = "Homecoming Store <store@example.com>"


@dataclass
class Moto:
    url: str

    def data(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=30) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=30).close()

    def raw_messages(self) -> list[dict[str, Any]]:
        return list(self.data().get("ses", {}).get("RawMessage", []))

    def ses_by_ledger_id(self) -> dict[int, list[str]]:
        """Messages SES received, by the ledger id header each carries."""
        found: dict[int, list[str]] = {}
        for raw in self.raw_messages():
            message = email.message_from_string(raw["raw_data"], policy=email.policy.default)
            ledger_id = message.get("X-Homecoming-Ledger-Id")
            if ledger_id:
                found.setdefault(int(ledger_id), []).append(raw["id"])
        return found

    def evidence(self, ledger_ids: list[int]) -> dict[int, str]:
        """The test's stand-in for SES send events: what moto holds, by ledger id."""
        held = self.ses_by_ledger_id()
        return {i: held[i][0] for i in ledger_ids if i in held}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Moto]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield Moto(f"http://{host}:{port}")
    server.stop()


@pytest.fixture
def aws(moto_server: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Moto]:
    """A clean moto, boto3 pointed at it, the sender verified, links on https."""
    moto_server.reset()
    for name, value in {
        "HOMECOMING_SEND_JOURNAL_DIR": str(tmp_path / "journal"),
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "HOMECOMING_PUBLIC_URL": "https://shop.example.com",
        "HOMECOMING_EMAIL_FROM": SENDER,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    get_settings.cache_clear()
    import boto3

    boto3.client("sesv2").create_email_identity(EmailIdentity="store@example.com")
    yield moto_server
    get_settings.cache_clear()
