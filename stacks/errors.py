"""Errors of stacks and the Pulumi engine (below them: `core.errors`)."""

from __future__ import annotations

from core.errors import PlatformError

__all__ = ["StackError", "StackBusy", "EngineMissing"]


class StackError(PlatformError):
    """Raised when a Pulumi operation on a stack fails."""


class StackBusy(StackError):
    """Raised when another operation holds the stack's lock."""


class EngineMissing(PlatformError):
    """Raised when the Pulumi CLI or a provider plugin is not installed (run `make setup`)."""
