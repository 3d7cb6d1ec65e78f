"""A random store per test database, written directly with SQLAlchemy Core."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.analytics.store import write_store


@pytest.fixture
def store(engine: Engine) -> Engine:
    write_store(engine, seed=3)
    return engine
