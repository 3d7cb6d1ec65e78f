"""Amazon SES v2: raw MIME through ``send_email``, so homecoming sets every header.

Each email carries ``List-Unsubscribe`` (an https link) and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click`` (RFC 8058; set by the sender, see ``campaigns/send.py``), a
message tag with the ledger id (so SES events find their row) and the configuration set
when one is configured. AWS settings are boto3's own: profiles, ``AWS_REGION``,
``AWS_ENDPOINT_URL``; no keys here.

Errors: throttling and a connection that was never made are definite refusals and are
retried with backoff (botocore's own retries are off, because it would also retry a request
whose answer was lost); a 5xx or a lost answer (read timeout, dropped connection) does not
prove refusal (SES may have accepted the message before failing), so it is *uncertain*
and never retried blindly; a refused message fails its row; an account or configuration
problem stops the batch.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from email.utils import parseaddr
from typing import Any, Literal

from campaigns.channels.base import Delivery, Outgoing, SendError
from models.settings import Settings
from models.store import Channel

# The AWS services homecoming talks to (boto3's typed clients know them by these names).
AwsService = Literal["sesv2", "sns", "sqs"]
RETRY_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestTimeout",  # SES did not receive the whole request
    }
)
STOP_CODES = frozenset(
    {
        "AccountSuspendedException",
        "SendingPausedException",
        "MailFromDomainNotVerifiedException",
        "LimitExceededException",  # the daily sending quota
        "NotFoundException",  # e.g. the configuration set
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
NOT_VERIFIED = ("not verified", "did not have authority", "not authorized")


def classify(error: Exception, *, sender: str | None = None) -> SendError:
    """A boto3 exception as a :class:`SendError` with the right outcome.

    An unverified *sender* stops everything; an unverified *recipient* (the SES sandbox)
    fails only its own row.
    """
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
    )

    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code", ""))
        message = str(info.get("Message", ""))[:300]
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in RETRY_CODES:
            return SendError(f"{code or status}: {message}", outcome="retry")
        if status >= 500:  # the request reached SES, which may have taken the message
            return SendError(f"{code or status}: {message}", outcome="uncertain")
        lowered = message.lower()
        about_sender = "authority" in lowered or bool(sender and sender.lower() in lowered)
        if code in STOP_CODES or (about_sender and any(m in lowered for m in NOT_VERIFIED)):
            return SendError(f"{code}: {message}", outcome="stop")
        return SendError(f"{code}: {message}", outcome="failed")
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return SendError(f"no connection: {type(error).__name__}", outcome="retry")
    # A read timeout or a dropped connection: the request may have been processed.
    return SendError(f"no answer: {type(error).__name__}", outcome="uncertain")


def with_retries(
    call: Callable[[], Any],
    *,
    attempts: int,
    base_delay: float,
    sleep: Callable[[float], None],
    sender: str | None = None,
) -> Any:
    """``call()``, retrying definite refusals (throttling, no connection) with jittered backoff."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            problem = exc if isinstance(exc, SendError) else classify(exc, sender=sender)
            if problem.outcome != "retry" or attempt == attempts - 1:
                raise problem from None
            sleep(base_delay * 2**attempt * (0.5 + random.random()))
    raise AssertionError("unreachable")


def aws_client(service: AwsService, *, timeout: float = 30) -> Any:
    """A boto3 client with botocore's retries off (ours know which calls are safe to repeat)."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=timeout,
        max_pool_connections=20,
    )
    return boto3.client(service, config=config)


class SesTransport:
    name = "ses"
    channel: str = Channel.email
    authoritative = False

    def __init__(
        self,
        *,
        client: Any = None,
        sender: str,
        configuration_set: str | None = None,
        tag: str = "ledger_id",
        attempts: int = 5,
        base_delay: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        evidence: Callable[[list[int]], dict[int, str]] | None = None,
        evidence_complete: bool = False,
    ) -> None:
        self.client = client or aws_client("sesv2")
        self.sender_address = parseaddr(sender)[1]
        self.configuration_set = configuration_set
        self.tag = tag
        self.attempts = attempts
        self.base_delay = base_delay
        self.sleep = sleep
        # Where reconciliation may look for messages SES took (tests: moto's record).
        self.evidence = evidence
        # A record of everything the provider took (tests: moto's) proves a miss unsent.
        self.authoritative = bool(evidence and evidence_complete)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> SesTransport:
        if not settings.public_url.startswith("https://"):
            raise ValueError(
                "HOMECOMING_PUBLIC_URL must be an https URL when sending through SES: "
                "List-Unsubscribe (RFC 8058) needs an https link"
            )
        return cls(
            sender=settings.email_from,
            configuration_set=settings.ses_configuration_set,
            tag=settings.ledger_tag,
            **kwargs,
        )

    def request(self, item: Outgoing) -> dict[str, Any]:
        request: dict[str, Any] = {
            "FromEmailAddress": self.sender_address,
            "Destination": {"ToAddresses": [item.address]},
            "Content": {"Raw": {"Data": item.mime()}},
            "EmailTags": [
                {"Name": self.tag, "Value": str(item.ledger_id)},
                {"Name": "campaign", "Value": item.campaign},
            ],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        return request

    def send(self, item: Outgoing) -> Delivery:
        request = self.request(item)
        response = with_retries(
            lambda: self.client.send_email(**request),
            attempts=self.attempts,
            base_delay=self.base_delay,
            sleep=self.sleep,
            sender=self.sender_address,
        )
        return Delivery(str(response["MessageId"]))

    def lookup(self, ledger_ids: list[int]) -> dict[int, str]:
        return self.evidence(ledger_ids) if self.evidence and ledger_ids else {}

    def close(self) -> None:
        pass
