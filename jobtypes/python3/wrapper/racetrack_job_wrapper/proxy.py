"""The docker-proxy job: the user's own container serves `POST /perform`; this job fronts it.

The user's container is found at `JOB_USER_MODULE_HOSTNAME` (host or host:port, port defaulting to
`JOB_USER_MODULE_PORT`, 7004). The proxy gives it the standard job endpoints, Swagger and metrics.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx

from .errors import JobHTTPError

__all__ = ["ProxyJob", "user_module_url"]


def user_module_url() -> str:
    host = os.environ.get("JOB_USER_MODULE_HOSTNAME", "127.0.0.1")
    if host.startswith("http://") or host.startswith("https://"):
        return host.rstrip("/")
    if ":" not in host:
        host = f"{host}:{os.environ.get('JOB_USER_MODULE_PORT', '7004')}"
    return f"http://{host}"


class ProxyJob:
    """Forwards perform's JSON body to the user module and returns its JSON answer."""

    def __init__(self) -> None:
        self.url = user_module_url()
        timeout = float(os.environ.get("JOB_USER_MODULE_TIMEOUT", "600"))
        self.client = httpx.AsyncClient(
            base_url=self.url,
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        example = os.environ.get("JOB_DOCS_INPUT_EXAMPLE")
        self._example = json.loads(example) if example else None

    async def perform(self, **kwargs: Any) -> Any:
        try:
            response = await self.client.post("/perform", json=kwargs)
        except httpx.TimeoutException:
            raise JobHTTPError(504, f"the job's container at {self.url} did not answer in time") from None
        except httpx.TransportError as exc:
            raise JobHTTPError(502, f"the job's container at {self.url} cannot be reached: {exc}") from None
        if response.status_code >= 400:
            raise JobHTTPError(response.status_code, response.text[:2000])
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def docs_input_example(self) -> dict[str, Any] | None:
        return self._example
