"""Amazon SNS mobile push: one publish to the customer's newest enabled device.

The payload carries APNs (``APNS`` and ``APNS_SANDBOX``) and FCM HTTP v1 (``GCM`` with an
``fcmV1Message``) forms with the title, the body and the deep link. A device without an
endpoint gets one from its platform application (``HOMECOMING_SNS_APNS_APPLICATION_ARN``,
``HOMECOMING_SNS_FCM_APPLICATION_ARN``); an endpoint SNS reports disabled disables the
device, so nobody pushes to it again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from campaigns.channels.base import Delivery, Outgoing, SendError
from campaigns.channels.ses import aws_client, with_retries
from models.settings import Settings
from models.store import Channel


def payload(*, title: str, body: str, deep_link: str, ledger_id: int) -> dict[str, str]:
    """The ``MessageStructure=json`` message: one entry per platform, each a JSON string."""
    apns = json.dumps(
        {
            "aps": {"alert": {"title": title, "body": body}, "sound": "default"},
            "deep_link": deep_link,
            "ledger_id": ledger_id,
        },
        ensure_ascii=False,
    )
    fcm = json.dumps(
        {
            "fcmV1Message": {
                "message": {
                    "notification": {"title": title, "body": body},
                    "data": {"deep_link": deep_link, "ledger_id": str(ledger_id)},
                }
            }
        },
        ensure_ascii=False,
    )
    return {"default": body, "APNS": apns, "APNS_SANDBOX": apns, "GCM": fcm}


class SnsTransport:
    name = "sns"
    channel: str = Channel.push
    authoritative = False

    def __init__(
        self,
        *,
        client: Any = None,
        applications: dict[str, str | None] | None = None,
        attempts: int = 5,
        base_delay: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        evidence: Callable[[list[int]], dict[int, str]] | None = None,
        evidence_complete: bool = False,
    ) -> None:
        self.client = client or aws_client("sns")
        self.applications = applications or {}
        self.attempts = attempts
        self.base_delay = base_delay
        self.sleep = sleep
        self.evidence = evidence
        # A record of everything the provider took (tests: moto's) proves a miss unsent.
        self.authoritative = bool(evidence and evidence_complete)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> SnsTransport:
        return cls(
            applications={
                "ios": settings.sns_apns_application_arn,
                "android": settings.sns_fcm_application_arn,
            },
            **kwargs,
        )

    def _call(self, fn: Callable[[], Any]) -> Any:
        return with_retries(
            fn, attempts=self.attempts, base_delay=self.base_delay, sleep=self.sleep
        )

    def endpoint(self, item: Outgoing) -> tuple[str, str | None]:
        """(endpoint arn, the arn if it was created now)."""
        if item.endpoint_arn:
            return item.endpoint_arn, None
        application = self.applications.get(item.platform or "")
        if not application:
            raise SendError(
                f"no SNS platform application for {item.platform!r} devices; set "
                "HOMECOMING_SNS_APNS_APPLICATION_ARN or HOMECOMING_SNS_FCM_APPLICATION_ARN",
                outcome="stop",
            )
        response = self._call(
            lambda: self.client.create_platform_endpoint(
                PlatformApplicationArn=application, Token=item.token
            )
        )
        arn = str(response["EndpointArn"])
        return arn, arn

    def send(self, item: Outgoing) -> Delivery:
        arn, created = self.endpoint(item)
        message = json.dumps(payload(ledger_id=item.ledger_id, **item.push_fields()))
        try:
            response = self._call(
                lambda: self.client.publish(TargetArn=arn, MessageStructure="json", Message=message)
            )
        except SendError as problem:
            text = problem.reason.lower()
            if "endpointdisabled" in text.replace(" ", "") or "endpoint is disabled" in text:
                raise SendError(
                    "endpoint_disabled", outcome="failed", disable_device=True
                ) from None
            raise
        return Delivery(str(response["MessageId"]), endpoint_arn=created)

    def lookup(self, ledger_ids: list[int]) -> dict[int, str]:
        return self.evidence(ledger_ids) if self.evidence and ledger_ids else {}

    def close(self) -> None:
        pass
