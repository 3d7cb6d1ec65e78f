"""``homecoming web``: serve the customer-facing web service with uvicorn."""

from __future__ import annotations

import logging

import typer

from cli.output import fail


def web(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
) -> None:
    """Serve survey answers, one-click unsubscribe, preferences and the SNS endpoint.

    Links in messages point at HOMECOMING_PUBLIC_URL; put this service behind it (TLS is
    the proxy's job). Access logs carry neither tokens nor client addresses.
    """
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    import uvicorn

    from models.settings import get_settings
    from web.security import RedactAccessLog

    settings = get_settings()
    if settings.secret_key.get_secret_value() == "change-me-homecoming-development-key":
        logging.getLogger("homecoming").warning(
            "HOMECOMING_SECRET_KEY is the development default; set a secret of your own"
        )
    config = uvicorn.Config(
        "web.app:create_app",
        factory=True,
        host=host,
        port=port,
        proxy_headers=True,
        server_header=False,
        limit_concurrency=1000,
        timeout_keep_alive=5,
    )
    logging.getLogger("uvicorn.access").addFilter(RedactAccessLog())
    try:
        uvicorn.Server(config).run()
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
