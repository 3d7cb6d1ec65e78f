"""Amazon SES v2 and SNS through the real boto3 client against moto's server."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime
from email.policy import default

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from sqlalchemy import Engine, select

from campaigns.channels.base import SendError
from campaigns.channels.ses import SesTransport, classify, with_retries
from campaigns.channels.sns import SnsTransport
from campaigns.links import verify
from campaigns.run import run_period
from models.settings import get_settings
from models.store import Device
from tests.campaigns.conftest import (
    FakeRenderer,
    Moto,
    add_customers,
    add_devices,
    add_segment,
    campaign,
    ledger,
)

NEWS = """\
name: news
kind: newsletter
segments: [vip]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
"""
LATER = datetime(2026, 11, 23, 12, tzinfo=UTC)  # Monday, two hours after the send time


def ses_run(engine: Engine, **kwargs):
    return run_period(
        engine,
        campaign=campaign(NEWS),
        period="2026-W48",
        now=LATER,
        renderer=FakeRenderer(),
        email_transport=SesTransport.from_settings(get_settings(), base_delay=0.01),
        **kwargs,
    )


def test_every_ses_email_carries_the_rfc_8058_headers(engine: Engine, aws: Moto) -> None:
    ids = add_customers(engine, 5)
    add_segment(engine, "vip", ids)
    result = ses_run(engine, batch_size=2)
    assert result.send.sent == 5
    raws = aws.raw_messages()
    assert len(raws) == 5
    rows = {r.id: r for r in ledger(engine)}
    for raw in raws:
        message = email.message_from_string(raw["raw_data"], policy=default)
        unsubscribe = message["List-Unsubscribe"]
        assert unsubscribe.startswith("<https://shop.example.com/unsubscribe/")
        assert unsubscribe.endswith(">")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        row = rows[int(message["X-Homecoming-Ledger-Id"])]
        # The link is signed for this very message and customer.
        claims = verify(unsubscribe[1:-1].rsplit("/", 1)[1])
        assert (claims.message_id, claims.customer_id) == (row.id, row.customer_id)
        assert row.provider_message_id == raw["id"]
        assert f"customer{row.customer_id}@example.org" in raw["destinations"]
        assert message["From"].addresses[0].addr_spec == "store@example.com"
        assert message.get_content_type() == "multipart/alternative"


def test_an_unverified_sender_stops_sending_and_loses_nothing(
    engine: Engine, aws: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOMECOMING_EMAIL_FROM", "Shop <nobody@unverified.example>")
    get_settings.cache_clear()
    ids = add_customers(engine, 3)
    add_segment(engine, "vip", ids)
    result = ses_run(engine)
    assert result.send.sent == 0 and result.send.failed == 0
    assert result.send.stopped and "MessageRejected" in result.send.stopped
    assert {r.status for r in ledger(engine)} == {"planned"}  # all still to send
    assert aws.raw_messages() == []


def test_the_request_has_the_tag_and_the_configuration_set() -> None:
    transport = SesTransport(client=object(), sender="Shop <s@example.com>", tag="ledger_id")
    transport.configuration_set = "marketing"

    class Item:
        ledger_id, campaign, address = 42, "news", "a@example.org"

        def mime(self) -> bytes:
            return b"Subject: x\r\n\r\nbody"

    request = transport.request(Item())  # type: ignore[arg-type]
    assert request["ConfigurationSetName"] == "marketing"
    assert {"Name": "ledger_id", "Value": "42"} in request["EmailTags"]
    assert request["FromEmailAddress"] == "s@example.com"


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "SendEmail",
    )


def test_throttling_backs_off_and_retries_a_5xx_is_uncertain_permanent_errors_fail() -> None:
    answers: list[Exception | str] = [
        _client_error("TooManyRequestsException", 429),
        _client_error("Throttling", 400),
        "ok",
    ]
    pauses: list[float] = []

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert with_retries(call, attempts=5, base_delay=0.1, sleep=pauses.append) == "ok"
    assert len(pauses) == 2 and pauses[1] > pauses[0] * 0.5
    with pytest.raises(SendError) as refused:
        with_retries(
            lambda: (_ for _ in ()).throw(_client_error("MessageRejected", 400)),
            attempts=5,
            base_delay=0,
            sleep=pauses.append,
        )
    assert refused.value.outcome == "failed" and len(pauses) == 2
    assert classify(_client_error("Throttling", 400)).outcome == "retry"
    assert classify(_client_error("SendingPausedException", 400)).outcome == "stop"
    lost = ReadTimeoutError(endpoint_url="https://email.eu-west-1.amazonaws.com")
    assert classify(lost).outcome == "uncertain"
    # A 5xx came back after SES had the request: it may have taken the message. No retry.
    for code, status in [("InternalFailure", 500), ("ServiceUnavailable", 503)]:
        with pytest.raises(SendError) as unsure:
            with_retries(
                lambda c=code, st=status: (_ for _ in ()).throw(_client_error(c, st)),
                attempts=5,
                base_delay=0,
                sleep=pauses.append,
            )
        assert unsure.value.outcome == "uncertain" and len(pauses) == 2


def test_push_through_sns_and_a_disabled_endpoint_disables_the_device(
    engine: Engine, aws: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    sns = boto3.client("sns")
    app = sns.create_platform_application(Name="shop-ios", Platform="APNS", Attributes={})
    monkeypatch.setenv("HOMECOMING_SNS_APNS_APPLICATION_ARN", app["PlatformApplicationArn"])
    get_settings.cache_clear()
    ids = add_customers(engine, 3, channel="push")
    add_devices(engine, ids)
    # Customer 3's phone uninstalled the app: SNS has the endpoint disabled.
    dead = sns.create_platform_endpoint(
        PlatformApplicationArn=app["PlatformApplicationArn"], Token="token-3"
    )["EndpointArn"]
    sns.set_endpoint_attributes(EndpointArn=dead, Attributes={"Enabled": "false"})
    with engine.begin() as conn:
        conn.execute(
            Device.__table__.update().where(Device.customer_id == 3).values(endpoint_arn=dead)
        )
    add_segment(engine, "vip", ids)
    text = NEWS.replace("kind: newsletter", "kind: newsletter\nchannel: push")
    text += "context: {deep_link: 'shop://offers'}\n"
    result = run_period(
        engine,
        campaign=campaign(text),
        period="2026-W48",
        now=LATER,
        renderer=FakeRenderer(),
        push_transport=SnsTransport.from_settings(get_settings(), base_delay=0.01),
    )
    assert (result.send.sent, result.send.failed) == (2, 1)
    with engine.connect() as conn:
        devices = {d.customer_id: d for d in conn.execute(select(Device))}
    assert devices[3].enabled is False and devices[3].disabled_at is not None
    assert devices[1].enabled and devices[1].endpoint_arn  # created on the way and kept
    endpoints = {e["arn"]: e for e in aws.data()["sns"]["PlatformEndpoint"]}
    delivered = endpoints[devices[1].endpoint_arn]["messages"]
    [payload] = [json.loads(m) for m in delivered.values()]
    apns = json.loads(payload["APNS"])
    assert apns["aps"]["alert"] == {"title": "newsletter", "body": "Hello Ada"}
    assert apns["deep_link"] == "shop://offers"
    fcm = json.loads(payload["GCM"])["fcmV1Message"]["message"]
    assert fcm["notification"]["title"] == "newsletter"
    assert endpoints[dead]["messages"] == {}
    row = next(r for r in ledger(engine) if r.customer_id == 3)
    assert row.status == "failed" and row.error == "endpoint_disabled"
    # The next run does not try the dead device again.
    again = run_period(
        engine,
        campaign=campaign(text),
        period="2026-W49",
        now=datetime(2026, 11, 30, 12, tzinfo=UTC),
        renderer=FakeRenderer(),
        push_transport=SnsTransport.from_settings(get_settings(), base_delay=0.01),
    )
    assert again.send.sent == 2 and again.as_dict()["suppressed"] == {"no_device": 1}


def test_an_unverified_recipient_fails_alone_an_unverified_sender_stops() -> None:
    def rejected(text: str) -> ClientError:
        return ClientError(
            {"Error": {"Code": "MessageRejected", "Message": text}, "ResponseMetadata": {}},
            "SendEmail",
        )

    sandbox = "Email address is not verified. The following identities failed the check: a@b.org"
    assert classify(rejected(sandbox), sender="shop@store.example").outcome == "failed"
    own = "Email address is not verified. The following identities failed: shop@store.example"
    assert classify(rejected(own), sender="shop@store.example").outcome == "stop"
    assert classify(rejected("Did not have authority to send from email x@y")).outcome == "stop"


def test_a_message_that_cannot_be_written_fails_before_any_provider_call(
    engine: Engine, aws: Moto
) -> None:
    ids = add_customers(engine, 2)
    ids += add_customers(engine, 1, start=3, first_name="Ann\r\nBcc: x@evil.example")
    add_segment(engine, "vip", ids)
    result = ses_run(engine)
    assert result.send.sent == 2 and result.uncertain == 0
    broken = next(r for r in ledger(engine) if r.customer_id == 3)
    assert broken.status == "failed" and "line break" in (broken.error or "")
    assert len(aws.raw_messages()) == 2  # SES never saw the broken one
