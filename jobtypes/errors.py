"""Errors of job types and image builds (below them: `core.errors`)."""

from __future__ import annotations

from core.errors import DeployFailed

__all__ = ["BuildFailed"]


class BuildFailed(DeployFailed):
    """Raised when a job's image cannot be built (or a base image it needs cannot be made)."""
