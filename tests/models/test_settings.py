"""Settings: every path the product writes is anchored at HOMECOMING_HOME, never at the
folder a process happens to start in (a worker runs flows in temporary folders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.settings import Settings


def test_relative_paths_are_taken_from_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OUTBOX_DIR", "SEND_JOURNAL_DIR", "REPORTS_DIR", "DATABASE_URL"):
        monkeypatch.delenv(f"HOMECOMING_{name}", raising=False)
    monkeypatch.setenv("HOMECOMING_HOME", str(tmp_path / "store"))
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", "definitions")
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = Settings()
    home = tmp_path / "store"
    assert settings.home == home
    assert settings.database_url == f"sqlite:///{home / 'homecoming.db'}"
    assert settings.outbox_dir == home / "outbox"
    assert settings.send_journal_dir == home / ".homecoming" / "journal"
    assert settings.reports_dir == home / ".homecoming" / "reports"
    assert settings.definitions_dir == home / "definitions"
    assert settings.prefect_home == home / ".homecoming" / "prefect"


def test_a_relative_sqlite_url_and_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOMECOMING_HOME", str(tmp_path))
    monkeypatch.setenv("HOMECOMING_DATABASE_URL", "sqlite:///data/shop.db")
    monkeypatch.setenv("HOMECOMING_OUTBOX_DIR", "/var/spool/homecoming")
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'shop.db'}"
    assert settings.outbox_dir == Path("/var/spool/homecoming")
    monkeypatch.setenv("HOMECOMING_DATABASE_URL", "postgresql://db/shop")
    assert Settings().database_url == "postgresql://db/shop"


def test_send_events_without_their_queue_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SES_CONFIGURATION_SET", "SQS_QUEUE_URL"):
        monkeypatch.delenv(f"HOMECOMING_{name}", raising=False)
    monkeypatch.setenv("HOMECOMING_SES_SEND_EVENTS", "true")
    with pytest.raises(ValueError, match="HOMECOMING_SES_CONFIGURATION_SET"):
        Settings()
    monkeypatch.setenv("HOMECOMING_SES_CONFIGURATION_SET", "homecoming")
    with pytest.raises(ValueError, match="HOMECOMING_SQS_QUEUE_URL"):
        Settings()
    monkeypatch.setenv("HOMECOMING_SQS_QUEUE_URL", "http://127.0.0.1:1/queue/events")
    assert Settings().ses_send_events
