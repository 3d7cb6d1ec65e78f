"""Settings from ``HOMECOMING_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'homecoming.db'}"


class Settings(BaseSettings):
    """Everything a deployment may change; secrets are ``SecretStr`` so they never print."""

    model_config = SettingsConfigDict(
        env_prefix="HOMECOMING_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(default_factory=_default_database_url)
    secret_key: SecretStr = SecretStr("change-me-homecoming-development-key")
    # Older keys still accepted when verifying links, so a key can be rotated.
    previous_secret_keys: list[SecretStr] = Field(default_factory=list)
    token_max_age_days: int = 60

    # Marketer-owned definitions (segments/, campaigns/, templates/ inside) kept outside the code.
    definitions_dir: Path | None = None
    brand_file: Path | None = None
    default_locale: str = "en"
    default_time_zone: str = "UTC"
    default_currency: str = "GBP"

    email_transport: Literal["outbox", "ses", "null"] = "outbox"
    push_transport: Literal["outbox", "sns", "null"] = "outbox"
    outbox_dir: Path = Path("outbox")
    email_from: str = "Homecoming Store <store@example.com>"
    ses_configuration_set: str | None = None
    send_rate_limit_name: str = "homecoming-send-rate"
    public_url: str = "http://127.0.0.1:8000"

    # Frequency caps and quiet hours, overridable per campaign.
    marketing_cap_count: int = 2
    marketing_cap_days: int = 7
    marketing_min_gap_hours: int = 16
    survey_cap_days: int = 14
    quiet_hours_start: int = 21
    quiet_hours_end: int = 8

    sqs_queue_url: str | None = None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
