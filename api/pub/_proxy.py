"""Forwarding one HTTP call to a job: auth decision, headers, streaming bodies, error mapping."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import httpx
from starlette.types import Receive, Scope, Send

from ._auth import Authorizer, Decision, LifecycleUnreachable
from ._config import PubConfig
from ._headers import CALLER_HEADER, HOP_BY_HOP, TRACING_HEADER, read_incoming
from ._metrics import PubMetrics
from ._responses import REQUEST_ID_KEY, send_error
from ._transport import PooledTransport, _Connection

__all__ = ["JobProxy", "JobCall", "split_job_path", "refusal_message", "rewrite_location", "forward_headers"]

log = logging.getLogger("racetrack.pub")

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_REFUSALS = {
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Job was not found",
    400: "Invalid request",
    503: "Unavailable",
}


class JobCall:
    """The parts of `/pub/job/{name}/{version}/{path}`: `rest` is the path after the version, raw
    (still URL-encoded, as the caller sent it) and `path` its decoded form used for auth."""

    __slots__ = ("kind", "name", "version", "path", "rest", "has_rest")

    def __init__(self, kind: str, name: str, version: str, path: str, rest: str, has_rest: bool) -> None:
        self.kind = kind  # "job" or the legacy "fatman"
        self.name = name
        self.version = version
        self.path = path
        self.rest = rest
        self.has_rest = has_rest

    def public_prefix(self) -> str:
        return f"/pub/{self.kind}/{self.name}/{self.version}"


def split_job_path(kind: str, path: str, raw_rest: str) -> JobCall | None:
    """`path` and `raw_rest` are what follows `/pub/{kind}/` in the decoded and the raw path."""
    parts = path.split("/", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    raw_parts = raw_rest.split("/", 2)
    return JobCall(
        kind=kind,
        name=parts[0],
        version=parts[1],
        path=parts[2] if len(parts) > 2 else "",
        rest=raw_parts[2] if len(raw_parts) > 2 else "",
        has_rest=len(raw_parts) > 2,
    )


def refusal_message(decision: Decision) -> str:
    label = _REFUSALS.get(decision.status, "Refused")
    return (
        f"Proxy request error: {label}: {decision.error}"
        if decision.error
        else f"Proxy request error: {label}"
    )


def rewrite_location(
    value: str, *, internal_name: str, upstream_prefix: str, public_prefix: str, name: str
) -> str:
    """Keeps a redirect under the job's pub path: the job's own address is dropped, its exact-version
    prefix becomes the one the caller used, and a root-relative path is put under the caller's prefix."""
    if value.startswith(("http://", "https://", "//")):
        parts = urlsplit(value)
        if parts.netloc != internal_name:
            return value  # somewhere else on purpose
        value = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    if not value.startswith("/"):
        return value  # relative to the current URL, which is already under the prefix
    if value == upstream_prefix or value.startswith((upstream_prefix + "/", upstream_prefix + "?")):
        return public_prefix + value[len(upstream_prefix) :]
    if value.startswith((f"/pub/job/{name}/", f"/pub/fatman/{name}/")):
        return value
    return public_prefix + value


def forward_headers(
    scope: Scope,
    incoming_headers: list[tuple[bytes, bytes]],
    *,
    host: bytes,
    forwarded_for: bytes,
    forwarded_proto: bytes,
    request_id: str,
    caller: str | None,
) -> list[tuple[bytes, bytes]]:
    headers = incoming_headers
    client = scope.get("client")
    client_ip = client[0].encode() if client else b""
    if forwarded_for:
        chain = forwarded_for + b", " + client_ip if client_ip else forwarded_for
    else:
        chain = client_ip
    if chain:
        headers.append((b"x-forwarded-for", chain))
    if host:
        headers.append((b"x-forwarded-host", host))
    headers.append((b"x-forwarded-proto", forwarded_proto or scope.get("scheme", "http").encode()))
    headers.append((TRACING_HEADER, request_id.encode()))
    if caller:
        headers.append((CALLER_HEADER, caller.encode("utf-8")))
    return headers


class _Disconnected(Exception):
    """The caller went away while a streamed response was still coming."""


class JobProxy:
    """Serves `/pub/job/...` HTTP calls: asks the authorizer, forwards, streams the answer back."""

    def __init__(
        self, config: PubConfig, transport: PooledTransport, authorizer: Authorizer, metrics: PubMetrics
    ) -> None:
        self._config = config
        # The hot path talks to the shared client's transport directly: httpx's request and response
        # models cost more CPU per call than the whole exchange (docs/benchmarks.md, "Pub").
        self._transport = transport
        self._timeouts: dict[str, float | None] = {
            "connect": config.job_connect_timeout,
            "read": config.job_timeout,
            "write": config.job_timeout,
            "pool": config.job_connect_timeout,
        }
        self._authorizer = authorizer
        self._metrics = metrics
        self._sidecar = config.sidecar

    async def authorize(
        self, call: JobCall, token: str | None, request_id: str, send: Send
    ) -> Decision | None:
        """Returns the decision when the call may go on; otherwise answers the caller and returns None."""
        metrics = self._metrics
        sidecar = self._sidecar
        if sidecar is not None and call.name != sidecar.job_name:
            await send_error(
                send,
                404,
                f"Proxy request error: Job was not found: this pub guards only job {sidecar.job_name!r}",
                request_id,
                jobName=call.name,
            )
            return None
        try:
            decision = await self._authorizer.decide(call.name, call.version, call.path, token)
        except LifecycleUnreachable as exc:
            metrics.auth_failed.inc()
            metrics.count_status(503)
            await send_error(
                send,
                503,
                f"Proxy request error: cannot check permission: {exc}",
                request_id,
                jobName=call.name,
            )
            return None
        if not decision.allowed:
            metrics.auth_failed.inc()
            metrics.count_status(decision.status)
            await send_error(send, decision.status, refusal_message(decision), request_id, jobName=call.name)
            return None
        if sidecar is not None and sidecar.job_version and decision.job_version != sidecar.job_version:
            await send_error(
                send,
                404,
                f"Proxy request error: Job was not found: version {call.version} of "
                f"{call.name} is not {sidecar.job_version}, the version this pub guards",
                request_id,
                jobName=call.name,
            )
            return None
        metrics.auth_successful.inc()
        if sidecar is None and not decision.internal_name:
            metrics.count_status(502)
            await send_error(
                send,
                502,
                f"Reverse proxy error: job {call.name} {decision.job_version} has no "
                f"address yet (status {decision.job_status})",
                request_id,
                jobName=call.name,
                jobVersion=decision.job_version,
                jobStatus=decision.job_status,
            )
            return None
        return decision

    def target(self, call: JobCall, decision: Decision) -> tuple[str, str]:
        """Returns the job's address and the path prefix it serves the exact version under."""
        address = self._sidecar.address if self._sidecar is not None else decision.internal_name
        return address, f"/pub/job/{call.name}/{decision.job_version}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send, call: JobCall) -> None:
        metrics = self._metrics
        metrics.requests_started.inc()
        started = time.perf_counter()
        request_id: str = scope[REQUEST_ID_KEY]
        incoming = read_incoming(scope["headers"])
        decision = await self.authorize(call, incoming.token, request_id, send)
        if decision is None:
            metrics.requests_done.inc()
            return
        address, upstream_prefix = self.target(call, decision)
        target = upstream_prefix + "/" + call.rest if call.has_rest else upstream_prefix
        query = scope.get("query_string")
        if query:
            target += "?" + query.decode("latin-1")
        headers = forward_headers(
            scope,
            incoming.headers,
            host=incoming.host,
            forwarded_for=incoming.forwarded_for,
            forwarded_proto=incoming.forwarded_proto,
            request_id=request_id,
            caller=decision.caller,
        )
        method: str = scope["method"]
        first = await receive()
        buffered = not first.get("more_body", False)
        body: bytes | AsyncIterator[bytes] = first.get("body", b"")
        chunked = False
        if not incoming.sized:
            if buffered:
                if body or method in _BODY_METHODS:
                    headers.append((b"content-length", str(len(body)).encode()))
            else:
                chunked = True
                headers.append((b"transfer-encoding", b"chunked"))
        if not buffered:
            body = _body_stream(body, receive)  # type: ignore[arg-type]
        host, _, port = address.rpartition(":")
        head = _request_head(method, target, address, headers)
        timeouts = self._timeouts
        try:
            try:
                connection = await self._transport.exchange(
                    host, int(port), head, body, chunked=chunked, timeouts=timeouts
                )
            except (httpx.RemoteProtocolError, httpx.ReadError):
                # A pooled connection the job closed as we reused it; safe to resend when nothing of
                # the body was streamed and the method is idempotent.
                if not (buffered and method in _IDEMPOTENT):
                    raise
                connection = await self._transport.exchange(
                    host, int(port), head, body, chunked=chunked, timeouts=timeouts
                )
        except _Disconnected:
            metrics.proxy_errors.labels("context_canceled").inc()
            metrics.requests_done.inc()
            return
        except httpx.HTTPError as exc:
            status, kind, message = _job_error(exc, self._config.job_timeout)
            metrics.proxy_errors.labels(kind).inc()
            metrics.count_status(status)
            metrics.requests_done.inc()
            log.warning("job %s %s: %s (request %s)", call.name, decision.job_version, message, request_id)
            await send_error(
                send,
                status,
                f"Reverse proxy error: {message}",
                request_id,
                jobName=call.name,
                jobVersion=decision.job_version,
                jobStatus=decision.job_status,
            )
            return
        try:
            await self._respond(receive, send, connection, method, call, address, upstream_prefix)
        except BaseException:
            connection.close()
            raise
        finally:
            self._transport.release(connection)
            metrics.count_status(connection.status)
            metrics.response_time.observe(time.perf_counter() - started)
            metrics.requests_done.inc()

    async def _respond(
        self,
        receive: Receive,
        send: Send,
        connection: _Connection,
        method: str,
        call: JobCall,
        address: str,
        upstream_prefix: str,
    ) -> None:
        raw: list[tuple[bytes, bytes]] = []
        sized = False
        for key, value in connection.headers:
            key = key.lower()
            if key in HOP_BY_HOP or key == TRACING_HEADER:
                continue
            if key == b"content-length":
                sized = True
            elif key == b"location":
                value = rewrite_location(
                    value.decode("latin-1"),
                    internal_name=address,
                    upstream_prefix=upstream_prefix,
                    public_prefix=call.public_prefix(),
                    name=call.name,
                ).encode("latin-1")
            raw.append((key, value))
        await send({"type": "http.response.start", "status": connection.status, "headers": raw})
        read_timeout = self._timeouts["read"]
        try:
            if method == "HEAD":
                connection.close()  # httptools cannot be told this response has no body
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif sized:
                # Hold one chunk back so the last is sent with more_body=False: one send per small body.
                held = None
                while (chunk := await connection.next_chunk(read_timeout)) is not None:
                    if held is not None:
                        await send({"type": "http.response.body", "body": held, "more_body": True})
                    held = chunk
                await send({"type": "http.response.body", "body": held or b"", "more_body": False})
            else:
                await self._stream(receive, send, connection, read_timeout)
        except httpx.HTTPError as exc:
            _, kind, message = _job_error(exc, self._config.job_timeout)
            self._metrics.proxy_errors.labels(kind).inc()
            log.warning("job %s broke its response: %s", call.name, message)
            raise

    async def _stream(
        self, receive: Receive, send: Send, connection: _Connection, read_timeout: float | None
    ) -> None:
        """Passes each chunk on as it arrives, and stops reading when the caller disconnects."""

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return

        watcher = asyncio.ensure_future(watch())
        try:
            while (chunk := await connection.next_chunk(read_timeout)) is not None:
                if watcher.done():
                    self._metrics.proxy_errors.labels("context_canceled").inc()
                    connection.close()
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()


def _request_head(method: str, target: str, address: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    parts = [
        method.encode("ascii"),
        b" ",
        target.encode("latin-1"),
        b" HTTP/1.1\r\nhost: ",
        address.encode(),
        b"\r\n",
    ]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


async def _body_stream(first: bytes, receive: Receive) -> AsyncIterator[bytes]:
    if first:
        yield first
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected()
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


def _job_error(exc: httpx.HTTPError, timeout: float) -> tuple[int, str, str]:
    """Maps an httpx failure to (status, metric kind, message). Timeouts are 504, as the style guide
    asks; upstream pub answers 502 for them too, so the message names the status explicitly."""
    if isinstance(exc, httpx.ConnectTimeout):
        return (
            502,
            "deadline",
            "connection refused: the job did not accept a connection in time (502 Bad Gateway)",
        )
    if isinstance(exc, httpx.PoolTimeout):
        return 502, "deadline", "no free connection to the job in time (502 Bad Gateway)"
    if isinstance(exc, httpx.TimeoutException):
        return (
            504,
            "deadline",
            f"request to a job timed out: no answer within {timeout:g} s (504 Gateway Timeout)",
        )
    if isinstance(exc, httpx.ConnectError):
        return 502, "refused", "connection refused: the job is not listening (502 Bad Gateway)"
    if isinstance(exc, httpx.TransportError):
        return (
            502,
            "connection_broken",
            (
                "connection broken: the job closed the connection before answering "
                f"({exc.__class__.__name__}; "
                "502 Bad Gateway)"
            ),
        )
    return 502, "connection_broken", f"{exc.__class__.__name__}: {exc} (502 Bad Gateway)"
