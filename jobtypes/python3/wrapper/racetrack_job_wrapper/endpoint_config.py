"""Declaration of an auxiliary endpoint, returned in a list by a job's `auxiliary_endpoints_v2()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EndpointConfig"]


@dataclass
class EndpointConfig:
    """One extra endpoint of a job, served at `/api/v1<path>`.

    `path` may hold `{name}` segments, passed to the handler as keyword arguments. GET handlers
    take query parameters; POST handlers take the JSON body's fields (or the whole body when they
    have a single parameter that is neither in the path nor in the query).

        EndpointConfig('/multiply/{factor}', 'POST', self.multiply)
    """

    path: str
    method: Any  # "GET" / "POST" or http.HTTPMethod
    handler: Callable[..., Any]
    other_options: dict[str, Any] = field(default_factory=dict)

    @property
    def method_name(self) -> str:
        return str(getattr(self.method, "value", self.method)).upper()
