"""Start what operators start: ``prefect server start``, a process worker, ``homecoming serve``.

Every process gets its own log file; a failure quotes the end of each, so a test that
fails on CI says why without a re-run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
HOMECOMING = str(BIN / "homecoming")
PREFECT = str(BIN / "prefect")


def environment(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a store at ``home`` (no PREFECT_API_URL unless given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOMECOMING_", "PREFECT_"))}
    env.update(
        HOMECOMING_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_LOGGING_LEVEL="INFO",
    )
    env.update(extra)
    return env


def run(args: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 180) -> str:
    """Run a command to its end; its output, or an assertion quoting it."""
    done = subprocess.run(
        args, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done.stdout


class Process:
    """A long-running command with its output in a file."""

    def __init__(self, args: list[str], env: Mapping[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        self.args = args
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                args,
                env=dict(env),
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return f"--- {' '.join(self.args[:3])} ({self.log}):\n" + "\n".join(
            self.output().splitlines()[-lines:]
        )

    def wait_for(self, check: Callable[[], Any], what: str, timeout: float = 120) -> Any:
        """Poll ``check`` until it returns something true; fail with the log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            assert self.popen.poll() is None, f"exited {self.popen.returncode}\n{self.tail()}"
            time.sleep(0.5)
        raise AssertionError(f"no {what} within {timeout} s\n{self.tail()}")

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C, as a person at the terminal would; the exit code."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGINT)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
            raise AssertionError(f"did not stop within {timeout} s\n{self.tail()}") from None

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


def healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def prefect_server(env: Mapping[str, str], cwd: Path, port: int) -> Iterator[str]:
    """``prefect server start`` on SQLite; yields its API URL once it answers."""
    server = Process(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env,
        cwd,
        cwd / "prefect-server.log",
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        server.wait_for(lambda: healthy(api), "healthy Prefect server")
        yield api
    finally:
        server.stop()


class Api:
    """The few Prefect REST calls the tests need, over plain HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """One call; a SQLite-backed server answers 503 while its database is busy, and
        Prefect's own client retries those, so this does too."""
        for _ in range(60):
            response = httpx.request(method, f"{self.url}{path}", json=body, timeout=30)
            if response.status_code != 503:
                return response
            time.sleep(0.5)
        return response

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.request("POST", path, body)
        response.raise_for_status()
        return response.json()

    def deployment(self, name: str) -> dict[str, Any]:
        """The deployment, or an empty dict while there is none of that name."""
        response = self.request("GET", f"/deployments/name/{name}")
        if response.status_code == 404:
            return {}
        response.raise_for_status()
        return dict(response.json())

    def run_deployment(self, name: str, **parameters: Any) -> str:
        deployment = self.deployment(name)
        body = {"parameters": parameters} if parameters else {}
        return str(self.post(f"/deployments/{deployment['id']}/create_flow_run", body)["id"])

    def flow_run(self, run_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/flow_runs/{run_id}")
        response.raise_for_status()
        return dict(response.json())

    def artifacts(self, key: str) -> list[dict[str, Any]]:
        """Every version of an artifact, newest first, table data decoded."""
        found = self.post(
            "/artifacts/filter", {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC"}
        )
        for artifact in found:
            if isinstance(artifact.get("data"), str):
                artifact["data"] = json.loads(artifact["data"])
        return list(found)

    def runs_of(self, name: str) -> list[dict[str, Any]]:
        deployment = self.deployment(name)
        if not deployment:
            return []
        return list(
            self.post(
                "/flow_runs/filter",
                {"deployments": {"id": {"any_": [deployment["id"]]}}, "limit": 200},
            )
        )


TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def wait_until_final(
    api: Api, runs: Mapping[str, str], watcher: Process, timeout: float = 240
) -> dict[str, dict[str, Any]]:
    """Each run (deployment name -> run id) in its final state."""

    def final() -> dict[str, dict[str, Any]] | None:
        found = {name: api.flow_run(run_id) for name, run_id in runs.items()}
        if all(r["state_type"] in TERMINAL for r in found.values()):
            return found
        return None

    result: dict[str, dict[str, Any]] = watcher.wait_for(final, "final states", timeout)
    return result
