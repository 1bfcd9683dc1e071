"""The dashboard: server-rendered pages over the lifecycle's REST API (see docs/dashboard.md)."""

from api.dashboard.app import PREFIX, create_app

__all__ = ["PREFIX", "create_app"]
