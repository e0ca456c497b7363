"""The HTTP API: search, documents, status, admin and metrics."""

from services.api.app import create_app

__all__ = ["create_app"]
