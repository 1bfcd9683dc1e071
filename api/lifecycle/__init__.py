"""The lifecycle REST API: the registry of jobs, deployments, users and permissions."""

from api.lifecycle.app import API_PREFIX, BASE_PATH, create_app

__all__ = ["API_PREFIX", "BASE_PATH", "create_app"]
