"""A real local Prefect server for the embedded default, with its scheduler and UI.

Prefect's temporary server (what a process uses without ``PREFECT_API_URL``) runs no
scheduler, so ``serve`` against it would never start a scheduled run. ``homecoming serve``
therefore starts ``prefect server start`` on SQLite under ``HOMECOMING_HOME/.homecoming``,
or reuses the one a previous ``serve`` left running, and stops what it started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from models.settings import Settings
from web.server import free_port

HOST = "127.0.0.1"
PREFERRED_PORT = 4200
START_TIMEOUT_SECONDS = 120.0


class ServerError(RuntimeError):
    """The local Prefect server could not be started."""


@dataclass(frozen=True)
class LocalServer:
    url: str  # the UI, e.g. http://127.0.0.1:4200
    started: bool  # False when an already running server was reused

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _port() -> int:
    with socket.socket() as s:
        try:
            s.bind((HOST, PREFERRED_PORT))
        except OSError:
            return free_port(HOST)
    return PREFERRED_PORT


def server_environment(settings: Settings) -> dict[str, str]:
    """The environment of every Prefect process homecoming starts: its own home, no telemetry."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.setdefault("PREFECT_HOME", str(settings.prefect_home))
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return env


@contextmanager
def local_server(settings: Settings) -> Iterator[LocalServer]:
    """A running local server for the duration of the block; started here, stopped here."""
    state = settings.prefect_home / "local-server.json"
    known = json.loads(state.read_text()) if state.exists() else {}
    if known.get("url") and healthy(known["url"]):
        yield LocalServer(known["url"], started=False)
        return
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    port = _port()
    url = f"http://{HOST}:{port}"
    log_path = settings.prefect_home / "local-server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                HOST,
                "--port",
                str(port),
            ],
            env=server_environment(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
        )
    try:
        _wait(process, url, log_path)
        state.write_text(json.dumps({"url": url, "pid": process.pid}))
        yield LocalServer(url, started=True)
    finally:
        _stop(process)
        state.unlink(missing_ok=True)


def _wait(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-5:]
            raise ServerError(
                f"the local Prefect server exited with code {process.returncode}; "
                f"its log ({log_path}) ends: " + " | ".join(tail)
            )
        if healthy(url):
            return
        time.sleep(0.5)
    raise ServerError(f"the local Prefect server did not answer within {START_TIMEOUT_SECONDS} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
