"""Settings from ``HOMECOMING_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _home() -> Path:
    return Path.cwd()


class Settings(BaseSettings):
    """Everything a deployment may change; secrets are ``SecretStr`` so they never print."""

    model_config = SettingsConfigDict(
        env_prefix="HOMECOMING_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Where everything the product writes lives (database, outbox, journal, reports, the local
    # Prefect server). Relative paths below are taken from here, never from the folder a
    # worker happens to run a flow in.
    home: Path = Field(default_factory=_home)
    database_url: str = ""
    secret_key: SecretStr = SecretStr("change-me-homecoming-development-key")
    # Older keys still accepted when verifying links, so a key can be rotated.
    previous_secret_keys: list[SecretStr] = Field(default_factory=list)
    token_max_age_days: int = 60

    @field_validator("token_max_age_days")
    @classmethod
    def _token_age(cls, days: int) -> int:
        """0 or less would refuse every answer and preferences link the moment it is sent."""
        if days < 1:
            raise ValueError(f"HOMECOMING_TOKEN_MAX_AGE_DAYS must be at least 1 (days); got {days}")
        return days

    # Marketer-owned definitions (segments/, campaigns/, templates/ inside) kept outside the code.
    definitions_dir: Path | None = None
    brand_file: Path | None = None
    default_locale: str = "en"
    default_time_zone: str = "UTC"
    default_currency: str = "GBP"

    email_transport: Literal["outbox", "ses", "null"] = "outbox"
    push_transport: Literal["outbox", "sns", "null"] = "outbox"
    outbox_dir: Path = Path("outbox")
    reports_dir: Path = Path(".homecoming/reports")
    email_from: str = "Homecoming Store <store@example.com>"
    ses_configuration_set: str | None = None
    send_rate_limit_name: str = "homecoming-send-rate"
    # Messages per second for the Prefect rate limit, created when missing (empty: not created).
    send_rate_per_second: int | None = None
    send_batch_size: int = 1000
    # A send pauses once this many messages failed and they are more than this share of
    # those tried (a broken template, a provider refusing everything); the run exits 1.
    send_pause_failures: int = Field(default=5, ge=1)
    send_pause_share: float = Field(default=0.1, ge=0, le=1)
    # Where transports note each provider call; what reconciles a crash mid-send.
    send_journal_dir: Path = Path(".homecoming/journal")
    # A claim not renewed for this long is abandoned; a live sender renews it while it works.
    send_lease_minutes: float = Field(default=30, gt=0)
    # Rows caught mid-send with no evidence either way wait this long for provider events;
    # then they are held and reported, and resent only when this is switched on (a resend can
    # duplicate a message the provider did take).
    reconcile_grace_minutes: float = Field(default=60, ge=0)
    resend_uncertain_after_grace: bool = False
    # The configuration set publishes SES *Send* events to the queue (HOMECOMING_SQS_QUEUE_URL):
    # once the queue is drained past a dead claim, a message without its Send event was never
    # taken, and is sent again. Off: only a Send event settles an uncertain row.
    ses_send_events: bool = False
    # How long SES may take to publish a Send event.
    ses_event_delay_minutes: float = Field(default=15, ge=0)
    sns_apns_application_arn: str | None = None
    sns_fcm_application_arn: str | None = None
    public_url: str = "http://127.0.0.1:8000"

    # Frequency caps and quiet hours, overridable per campaign.
    marketing_cap_count: int = 2
    marketing_cap_days: int = 7
    marketing_min_gap_hours: int = 16
    survey_cap_days: int = 14
    quiet_hours_start: int = 21
    quiet_hours_end: int = 8

    # How often the send-surveys and sync-provider-events deployments run.
    surveys_every_seconds: int = Field(default=300, ge=1)
    events_every_seconds: int = Field(default=120, ge=1)

    sqs_queue_url: str | None = None
    # SNS topics whose HTTP notifications the web service accepts (empty: none).
    sns_topic_arns: list[str] = Field(default_factory=list)
    # Message tag carrying the ledger id on every email (SES EmailTags).
    ledger_tag: str = "ledger_id"
    # Transient bounces of one address within the window before it is suppressed.
    soft_bounce_limit: int = 3
    soft_bounce_window_days: int = 30

    @model_validator(mode="after")
    def _send_events_need_their_queue(self) -> Settings:
        """A missing Send event proves nothing unless the events are published and read."""
        if self.ses_send_events and not (self.ses_configuration_set and self.sqs_queue_url):
            raise ValueError(
                "HOMECOMING_SES_SEND_EVENTS needs HOMECOMING_SES_CONFIGURATION_SET (publishing "
                "Send events) and HOMECOMING_SQS_QUEUE_URL (where they are read)"
            )
        return self

    @model_validator(mode="after")
    def _absolute_paths(self) -> Settings:
        """Anchor every path at ``home`` so a flow writes to the same place on any worker."""
        self.home = self.home.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'homecoming.db'}"
        prefix, _, file = self.database_url.partition(":///")
        if prefix.startswith("sqlite") and file and file != ":memory:" and file[0] != "/":
            self.database_url = f"{prefix}:///{self.home / file}"
        for name in (
            "outbox_dir",
            "reports_dir",
            "send_journal_dir",
            "definitions_dir",
            "brand_file",
        ):
            value = getattr(self, name)
            if value is not None and not value.expanduser().is_absolute():
                setattr(self, name, self.home / value)
        return self

    @property
    def prefect_home(self) -> Path:
        """Prefect's home: the local server's SQLite database, logs and settings."""
        return self.home / ".homecoming" / "prefect"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
