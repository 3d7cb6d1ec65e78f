"""The web service in a background thread of this process (the demo, browser tests)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from sqlalchemy import Engine

from web.app import create_app


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextmanager
def running(
    engine: Engine | None = None, *, host: str = "127.0.0.1", port: int | None = None
) -> Iterator[str]:
    """Serve the app (against ``engine``, default the configured database) until the block
    ends; yields its base URL once ``/health`` answers."""
    port = port or free_port(host)
    server = uvicorn.Server(
        uvicorn.Config(create_app(engine=engine), host=host, port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="homecoming-web", daemon=True)
    thread.start()
    base = f"http://{host}:{port}"
    try:
        for _ in range(400):
            if not thread.is_alive():
                raise RuntimeError(f"the web service could not start on {host}:{port}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("the web service did not answer /health within 20 s")
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
