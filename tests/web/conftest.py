"""Fixtures of the web tests: a test client of the web app, signing with a test key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from models.settings import get_settings
from web import create_app


@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("HOMECOMING_SECRET_KEY", "web-test-key")
    monkeypatch.setenv("HOMECOMING_PUBLIC_URL", "http://testserver")
    get_settings.cache_clear()
    with TestClient(create_app(engine=engine)) as c:
        yield c
    get_settings.cache_clear()
