"""Prefect's defaults for the processes homecoming starts, set before Prefect is imported.

Prefect reads its settings from the environment when it is first imported, so these are
set where a command starts (the ``homecoming`` callback in ``cli.main``), not when a module
is imported: importing ``flows`` (tests, benchmarks, a worker loading a flow) changes
nothing. A variable already set always wins.
"""

from __future__ import annotations

import os
from pathlib import Path

from models.settings import Settings, get_settings


def prefect_defaults(settings: Settings | None = None) -> None:
    """Prefect's home under ``HOMECOMING_HOME/.homecoming/prefect`` (created, since Prefect
    makes its home without parents and in a fresh clone ``.homecoming/`` does not exist),
    no telemetry (there may be no network), a longer start-up timeout for the temporary
    local server, and only warnings from Prefect's own loggers."""
    settings = settings or get_settings()
    os.environ.setdefault("PREFECT_HOME", str(settings.prefect_home))
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
