"""Prefect flows and deployments: thin orchestration over the other folders.

Importing this package sets safe Prefect defaults before Prefect itself is imported:
Prefect's home under ``HOMECOMING_HOME/.homecoming/prefect``, no telemetry (there may be no
network), and a longer start-up timeout for the temporary local server.
"""

import os
from pathlib import Path

from models.settings import get_settings

os.environ.setdefault("PREFECT_HOME", str(get_settings().prefect_home))
# Prefect creates its home without parents; in a fresh clone .homecoming/ does not exist yet.
Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
