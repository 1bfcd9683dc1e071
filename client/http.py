"""Talking to the lifecycle API (and to pub, GitHub) over httpx.

`transport_factory` is the seam for tests: replace it with a function returning an
`httpx.MockTransport` and every request the CLI makes goes there instead of the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from client import output
from client.config import ClientConfig, load_config, resolve_remote
from client.errors import (
    NotLoggedIn,
    ServerUnreachable,
    Unauthenticated,
    error_for_status,
)

__all__ = ["AUTH_HEADER", "transport_factory", "close_all", "Api", "Session", "open_session", "login_command"]

AUTH_HEADER = "X-Racetrack-Auth"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _default_transport() -> httpx.BaseTransport | None:
    return None


transport_factory: Callable[[], httpx.BaseTransport | None] = _default_transport

# every client opened during a command, closed by `close_all` when the command ends
_open: list[httpx.Client] = []


def close_all() -> None:
    """Close the connections of every API client opened so far."""
    while _open:
        _open.pop().close()


def login_command(lifecycle_url: str) -> str:
    return f"racetrack login <token> --remote {lifecycle_url}"


def _error_message(response: httpx.Response) -> tuple[str, str | None]:
    """The server's `{"error", "type"}` message, or the status line when the body is something else."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        message = body.get("error") or body.get("detail")
        if isinstance(message, list):  # FastAPI's own 422 validation detail
            message = "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}"
                for d in message
                if isinstance(d, dict)
            )
        if message:
            return str(message), body.get("type")
    text = response.text.strip()
    reason = f"{response.status_code} {response.reason_phrase}"
    return (f"{reason}: {text[:300]}" if text else reason), None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _keep_token_at_its_origin(response: httpx.Response) -> None:
    """Drops the token before a redirect to another scheme, host or port is followed.

    httpx removes `Authorization` on such redirects, not a header of its own name like ours; the redirect
    is built from the request's headers after this hook runs."""
    if not response.has_redirect_location:
        return
    request = response.request
    target = request.url.join(response.headers["Location"])
    if _origin(target) != _origin(request.url):
        request.headers.pop(AUTH_HEADER, None)


class Api:
    """A client for one lifecycle URL, sending the stored token."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token or None
        self._client = httpx.Client(
            transport=transport_factory(),
            timeout=TIMEOUT,
            follow_redirects=True,
            event_hooks={"response": [_keep_token_at_its_origin]},
        )
        _open.append(self._client)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "racetrack-cli (racetrack-pulumi)"}
        if self.token:
            headers[AUTH_HEADER] = self.token
        headers.update(extra or {})
        return headers

    def url(self, path: str) -> str:
        return f"{self.base_url}/api/v1/{path.lstrip('/')}"

    def send(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        """Send a request to any URL; connection failures become ServerUnreachable naming the URL."""
        sent_headers = self.headers(headers) if auth else {"Accept": "application/json", **(headers or {})}
        try:
            return self._client.request(
                method, url, json=json_body, content=content, params=params, headers=sent_headers
            )
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(
                f"no answer from {url} in time ({type(exc).__name__})",
                hint="Check that the server is running and reachable, then try again.",
            ) from exc
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"cannot reach {self.base_url if url.startswith(self.base_url) else url}: {exc}",
                hint=f"Is the Racetrack server running at {self.base_url}? "
                "Pick another with --remote or `racetrack set remote URL_OR_ALIAS`.",
            ) from exc

    def download(self, path: str, write: Callable[[bytes], Any]) -> None:
        """GET `/api/v1/<path>` and hand its body to `write` in chunks, as it arrives."""
        try:
            with self._client.stream("GET", self.url(path), headers=self.headers(), timeout=None) as response:
                if not response.is_success:
                    response.read()
                    self.check(response)
                for chunk in response.iter_bytes(1 << 20):
                    write(chunk)
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"download from {self.base_url} broke off: {exc}") from exc

    def check(self, response: httpx.Response) -> httpx.Response:
        """Raise the ClientError matching an error status, with the server's message."""
        if response.is_success:
            return response
        message, _kind = _error_message(response)
        status = response.status_code
        if status == 401:
            if not self.token:
                raise NotLoggedIn(
                    f"not logged in to {self.base_url} ({message})",
                    hint=f"Get your token from the dashboard's Profile page, then run:\n  "
                    f"{login_command(self.base_url)}",
                    status_code=status,
                    server_message=message,
                )
            raise Unauthenticated(
                f"the server rejected your token: {message}",
                hint="Your token may be revoked or expired. "
                f"Get a fresh one from the dashboard's Profile page:\n  "
                f"{login_command(self.base_url)}",
                status_code=status,
                server_message=message,
            )
        cls = error_for_status(status)
        hint = (
            "The server failed; its logs have the details (ask your Racetrack admin if this persists)."
            if status >= 500 and status != 503
            else None
        )
        raise cls(message, hint=hint, status_code=status, server_message=message)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call `/api/v1/<path>` and return the decoded JSON (or text, or None for an empty body)."""
        response = self.check(self.send(method, self.url(path), **kwargs))
        if not response.content:
            return None
        if "json" in response.headers.get("content-type", ""):
            return response.json()
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return response.text

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def info(self) -> dict[str, Any]:
        data = self.get("info")
        return data if isinstance(data, dict) else {}


@dataclass
class Session:
    """What one command needs: the config, the resolved server URL, its token and an API client."""

    config: ClientConfig
    lifecycle_url: str
    token: str | None
    api: Api

    def require_token(self) -> str:
        """The stored token; when none, NotLoggedIn if the server requires auth, else an empty string."""
        if self.token:
            return self.token
        if self.api.info().get("auth_required", True):
            raise NotLoggedIn(
                f"missing auth token for {self.lifecycle_url}",
                hint=f"You need to do: {login_command(self.lifecycle_url)}",
            )
        return ""


def open_session(remote: str | None) -> Session:
    """Load the config and resolve `--remote` (URL or alias, else the current remote)."""
    config = load_config()
    lifecycle_url = resolve_remote(config, remote)
    if remote:
        output.note(f"Using remote {lifecycle_url}")
    elif config.lifecycle_url != lifecycle_url:
        output.note(f"Using current remote: {lifecycle_url} ({config.lifecycle_url})")
    else:
        output.note(f"Using current remote: {lifecycle_url}")
    token = config.user_auths.get(lifecycle_url)
    return Session(config=config, lifecycle_url=lifecycle_url, token=token, api=Api(lifecycle_url, token))
