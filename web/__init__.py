"""The customer-facing web service (FastAPI): survey answers, unsubscribe, preferences, SNS."""

from web.app import create_app

__all__ = ["create_app"]
