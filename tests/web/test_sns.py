"""The SNS HTTP endpoint: signatures checked against a certificate of our own, topics
allow-listed, subscription confirmation, and SES events applied like the queue path."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from models.settings import get_settings
from models.store import Consent
from tests.web.helpers import customer, message, rows
from tests.web.ses_events import event
from web import create_app, sns

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"


def _key_and_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


KEY, CERT = _key_and_cert()
OTHER_KEY, _ = _key_and_cert()


def signed(message: dict[str, Any], *, version: str = "2", key: Any = KEY) -> dict[str, Any]:
    message = {**message, "SignatureVersion": version, "SigningCertURL": CERT_URL}
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(sns.canonical_string(message), padding.PKCS1v15(), digest)
    return {**message, "Signature": base64.b64encode(signature).decode()}


def notification(record: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC,
        "Message": json.dumps(record),
        "Timestamp": "2026-03-02T09:01:00.000Z",
        **extra,
    }


@pytest.fixture
def setup(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("HOMECOMING_SNS_TOPIC_ARNS", json.dumps([TOPIC]))
    get_settings.cache_clear()
    fetched: list[str] = []
    confirmed: list[dict[str, Any]] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return CERT

    app = create_app(engine=engine, fetch_certificate=fetch, confirm_subscription=confirmed.append)
    with TestClient(app) as client:
        yield {"client": client, "fetched": fetched, "confirmed": confirmed}
    get_settings.cache_clear()


def post(client: TestClient, message: dict[str, Any]) -> Any:
    return client.post(
        "/sns",
        content=json.dumps(message),
        headers={
            "content-type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": message.get("Type", ""),
        },
    )


def email_status(engine: Engine, customer_id: int) -> str:
    t = Consent.__table__
    return rows(engine, t, t.c.customer_id == customer_id, t.c.channel == "email")[0]["status"]


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_bounce_notification_suppresses(
    engine: Engine, setup: dict[str, Any], version: str
) -> None:
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly")
    body = signed(notification(event("Bounce", ledger_id=mid), Subject="ignored"), version=version)
    reply = post(setup["client"], body)
    assert reply.status_code == 200 and reply.json() == {"status": "suppressed"}
    assert email_status(engine, cid) == "bounced"
    assert setup["fetched"] == [CERT_URL]
    assert post(setup["client"], body).json() == {"status": "duplicate"}  # a replay


def test_forged_notifications_change_nothing(engine: Engine, setup: dict[str, Any]) -> None:
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly")
    good = signed(notification(event("Complaint", ledger_id=mid)))
    forgeries = [
        signed(notification(event("Complaint", ledger_id=mid)), key=OTHER_KEY),
        {**good, "Message": good["Message"].replace(str(mid), str(mid + 1))},
        {**good, "TopicArn": "arn:aws:sns:eu-west-1:999999999999:evil"},
        {**good, "SigningCertURL": "https://evil.example.com/cert.pem"},
        {**good, "SigningCertURL": "http://sns.eu-west-1.amazonaws.com/cert.pem"},
        {**good, "SigningCertURL": "https://sns.eu-west-1.amazonaws.com.evil.com/c.pem"},
        {**good, "SignatureVersion": "3"},
        {**good, "Signature": "not base64!"},
        {k: v for k, v in good.items() if k != "Signature"},
        {**good, "Type": "Surprise"},
    ]
    for forged in forgeries:
        reply = post(setup["client"], forged)
        assert reply.status_code == 403, forged
    assert setup["client"].post("/sns", content=b"{not json").status_code == 400
    assert email_status(engine, cid) == "subscribed"
    assert all(url == CERT_URL for url in setup["fetched"])


def test_no_topics_configured_accepts_nothing(
    engine: Engine, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOMECOMING_SNS_TOPIC_ARNS")
    get_settings.cache_clear()
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly")
    assert (
        post(setup["client"], signed(notification(event("Bounce", ledger_id=mid)))).status_code
        == 403
    )
    assert email_status(engine, cid) == "subscribed"


def test_subscription_confirmation(setup: dict[str, Any]) -> None:
    confirmation = signed(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": "2336412f37fb687f5d51e6e2425c464de12884ca",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe to the topic.",
            "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336",
            "Timestamp": "2026-03-02T09:00:00.000Z",
        }
    )
    reply = post(setup["client"], confirmation)
    assert reply.status_code == 200 and reply.json() == {"status": "confirmed"}
    assert [m["Token"] for m in setup["confirmed"]] == [confirmation["Token"]]
    tampered = {**confirmation, "SubscribeURL": "https://evil.example.com/confirm"}
    assert post(setup["client"], tampered).status_code == 403
    assert len(setup["confirmed"]) == 1


def test_confirming_by_url_refuses_hosts_other_than_sns() -> None:
    for url in [
        "http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
        "https://evil.example.com/?Action=ConfirmSubscription",
        "https://sns.eu-west-1.amazonaws.com:8443/",
        "https://user@sns.eu-west-1.amazonaws.com/",
        None,
    ]:
        with pytest.raises(sns.SnsRejected):
            sns.confirm_by_url({"SubscribeURL": url})
    with pytest.raises(sns.SnsRejected):
        sns.fetch_certificate("https://evil.example.com/cert.pem")


def test_a_notification_that_is_not_an_ses_event_is_ignored(
    engine: Engine, setup: dict[str, Any]
) -> None:
    for text in ["hello", json.dumps({"eventType": "Nope"})]:
        reply = post(setup["client"], signed({**notification({}), "Message": text}))
        assert reply.status_code == 200 and reply.json()["status"] in ("ignored", "malformed")


BAD_CERT_URLS = [
    "https://sns.s3.amazonaws.com/c.pem",
    "https://sns.us-east-1.amazonaws.com.evil.example/c.pem",
    "http://sns.us-east-1.amazonaws.com/c.pem",
    "https://sns.us-east-1.amazonaws.com:443/c.pem",
    "https://sns.us-east-1.amazonaws.com:8443/c.pem",
    "https://user@sns.us-east-1.amazonaws.com/c.pem",
    "https://evil.example@sns.us-east-1.amazonaws.com/c.pem",
    "https://sns.us-east-1.amazonaws.com@evil.example/c.pem",
    "https://SNS.US-EAST-1.AMAZONAWS.COM/c.pem",
    "https://sns.us-east-1.amazonaws.com./c.pem",
    "https://sns.amazonaws.com/c.pem",
    "https://sns.evil.amazonaws.com/c.pem",
    "https://s3.us-east-1.amazonaws.com/c.pem",
    "https://x.sns.us-east-1.amazonaws.com/c.pem",
    "https://sns.us-east-1.amazonaws.com/c.pem?x=.pem",
    "https://sns.us-east-1.amazonaws.com/c.pem#x",
    "https://sns.us-east-1.amazonaws.com/c.txt",
    "https://sns.us-east-1.amazonaws.com/c.pem.txt",
    "https://sns.us-east-1.amazonaws.com.cn/c.pem",
    "https://sns.cn-north-1.amazonaws.com/c.pem",
    "https://sns.us-east-1.amazonaws.com/ c.pem",
    " https://sns.us-east-1.amazonaws.com/c.pem",
    "https://sns.us-east-1.amazonaws.com\\@evil.example/c.pem",
    "https://sns.us-east-1.amazonaws.com%2Eevil.example/c.pem",
    "//sns.us-east-1.amazonaws.com/c.pem",
    "https:///c.pem",
    "",
]
GOOD_CERT_URLS = [
    CERT_URL,
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
    "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-x.pem",
    "https://sns.ap-southeast-2.amazonaws.com/SimpleNotificationService-x.pem",
    "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
]


@pytest.mark.parametrize("url", BAD_CERT_URLS)
def test_signing_certificate_urls_are_checked_strictly(
    engine: Engine, setup: dict[str, Any], url: str
) -> None:
    assert not sns.is_sns_url(url, certificate=True)
    with pytest.raises(sns.SnsRejected):
        sns.fetch_certificate(url)
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly")
    body = {**signed(notification(event("Bounce", ledger_id=mid))), "SigningCertURL": url}
    reply = post(setup["client"], body)
    assert reply.status_code == 403
    assert reply.json() == {
        "status": "rejected",
        "reason": "SigningCertURL is not an SNS https URL",
    }
    assert setup["fetched"] == [] and email_status(engine, cid) == "subscribed"


@pytest.mark.parametrize("url", GOOD_CERT_URLS)
def test_genuine_signing_certificate_urls_are_accepted(url: str) -> None:
    assert sns.is_sns_url(url, certificate=True)


def test_a_good_certificate_url_does_not_excuse_a_bad_signature(
    engine: Engine, setup: dict[str, Any]
) -> None:
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly")
    good = signed(notification(event("Bounce", ledger_id=mid)))
    other = signed(notification(event("Bounce", ledger_id=mid)), key=OTHER_KEY)
    forged = {**other, "SigningCertURL": GOOD_CERT_URLS[1]}
    reply = post(setup["client"], forged)
    assert reply.status_code == 403 and reply.json()["reason"] == "bad signature"
    assert email_status(engine, cid) == "subscribed"
    assert post(setup["client"], good).json() == {"status": "suppressed"}
    assert email_status(engine, cid) == "bounced"


def test_a_message_with_a_repeated_key_is_refused(engine: Engine, setup: dict[str, Any]) -> None:
    cid = customer(engine)
    mid = message(engine, cid, kind="newsletter", campaign="weekly")
    good = signed(notification(event("Bounce", ledger_id=mid)))
    text = json.dumps(good)
    twice = text[:-1] + ', "TopicArn": "arn:aws:sns:eu-west-1:999999999999:evil"}'
    reply = setup["client"].post("/sns", content=twice)
    assert reply.status_code == 400
    assert reply.json() == {"status": "rejected", "reason": "duplicate key 'TopicArn'"}
    assert email_status(engine, cid) == "subscribed"
    assert post(setup["client"], good).json() == {"status": "suppressed"}
