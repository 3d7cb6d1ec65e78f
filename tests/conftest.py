"""Shared fixtures: a migrated database per backend, and one Prefect test harness per session.

Every database test takes the ``database_url`` (or ``engine``) fixture and so runs on
SQLite, and on PostgreSQL when ``HOMECOMING_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="homecoming-tests-"))
os.environ["PREFECT_HOME"] = str(_HOME / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
os.environ.pop("PREFECT_API_URL", None)
for _name in [
    k for k in os.environ if k.startswith("HOMECOMING_") and k != "HOMECOMING_TEST_DATABASE_URL"
]:
    del os.environ[_name]
os.environ["HOMECOMING_OUTBOX_DIR"] = str(_HOME / "outbox")

import pytest  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from models.db import get_engine, normalize_url, upgrade  # noqa: E402
from models.settings import get_settings  # noqa: E402

PG_URL = os.environ.get("HOMECOMING_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_schema_url(base: str) -> str:
    """A schema of our own on the shared server, so parallel workers never meet."""
    schema = f"hc_test_{_worker()}"
    engine = get_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    return f"{normalize_url(base)}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    urls: dict[str, str] = {}
    yield urls


def _prepare(backend: str, urls: dict[str, str], tmp: Path) -> str:
    if backend not in urls:
        if backend == "sqlite":
            url = f"sqlite:///{tmp / f'test-{_worker()}.db'}"
        else:
            url = _pg_schema_url(PG_URL or "")
        upgrade(url)
        urls[backend] = url
    return urls[backend]


def truncate_all(engine: Engine) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    _migrated: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """An empty, migrated database, set as ``HOMECOMING_DATABASE_URL`` for the test."""
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL suite skipped: HOMECOMING_TEST_DATABASE_URL is not set")
    url = _prepare(request.param, _migrated, tmp_path_factory.getbasetemp())
    truncate_all(get_engine(url))
    monkeypatch.setenv("HOMECOMING_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


@pytest.fixture
def engine(database_url: str) -> Engine:
    return get_engine(database_url)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
