"""A lean HTTP/1.1 transport for httpx: pooled keep-alive connections on asyncio protocols, responses
parsed by httptools.

Why: pub forwards every call, and httpx's default transport (httpcore over anyio streams) costs
about ten times the CPU of the socket work itself, which caps a one-process gateway far below the
job behind it. This transport keeps httpx's client, `Timeout` and `Limits` (and maps its failures to
httpx's exception classes) and replaces only the part that moves bytes.

Scope: plain `http://`, HTTP/1.1, one request at a time per connection (no pipelining). Request
bodies are written as they come (Content-Length or chunked, as httpx framed them); response bodies
are streamed with read-side flow control. A connection is reused only after a complete response
that allows keep-alive; responses to HEAD, 1xx-only exchanges and unread bodies close it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx

__all__ = ["PooledTransport"]

_HIGH_WATER = 512 * 1024  # buffered response bytes at which reading from the job pauses
_LOW_WATER = 64 * 1024
_DEFAULT_LIMITS = httpx.Limits(max_connections=1024, max_keepalive_connections=256, keepalive_expiry=4.0)


def _expire(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


async def _wait(future: asyncio.Future[Any], timeout: float | None, exc: BaseException) -> Any:
    """Awaits a future with a deadline, using a timer handle rather than a task per wait."""
    if future.done() or timeout is None:
        return await future
    timer = asyncio.get_running_loop().call_later(timeout, _expire, future, exc)
    try:
        return await future
    finally:
        timer.cancel()


class _Connection(asyncio.Protocol):
    """One TCP connection to a job, and the parser state of the response in flight."""

    def __init__(self, key: tuple[str, int], loop: asyncio.AbstractEventLoop) -> None:
        self.key = key
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.reason = b""
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head: asyncio.Future[None] | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.waiter: asyncio.Future[None] | None = None
        self.complete = False
        self.informational = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.write_paused = False
        self.drained: asyncio.Future[None] | None = None
        self.eof_body = False  # body delimited by the end of the connection
        self.counted_out = False  # already subtracted from the pool's open count
        self.keep_alive = False

    # asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"invalid HTTP response from the job: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head is None or self.complete:
            return
        if self.head.done() and self.eof_body and exc is None:
            self.complete = True  # the end of the connection ends this body
            self._wake()
        elif exc is not None:
            self._fail(httpx.ReadError(f"connection to the job lost: {exc!r}"))
        else:
            self._fail(httpx.RemoteProtocolError("Server disconnected without sending a complete response."))
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    # httptools callbacks ---------------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self.reason = status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.informational = True
            self.headers = []
            return
        framed = False
        for name, _ in self.headers:
            lowered = name.lower()
            if lowered == b"content-length" or lowered == b"transfer-encoding":
                framed = True
                break
        self.eof_body = not framed and status not in (204, 304)
        self.keep_alive = self.parser.should_keep_alive()  # only valid before the message completes
        if self.head is not None and not self.head.done():
            self.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        self.complete = True
        self._wake()

    # helpers ---------------------------------------------------------------------------------

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        if self.head is not None and not self.head.done():
            self.head.set_exception(exc)
        self._wake()

    def begin(self) -> None:
        self.reason = b""
        self.headers = []
        self.head = self.loop.create_future()
        self.chunks.clear()
        self.buffered = 0
        self.complete = False
        self.informational = False
        self.error = None
        self.eof_body = False
        self.keep_alive = False

    def reusable(self) -> bool:
        return (
            self.complete and self.keep_alive and not self.closed and self.error is None and not self.chunks
        )

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def drain(self, timeout: float | None) -> None:
        if not self.write_paused or self.closed:
            return
        self.drained = self.loop.create_future()
        await _wait(self.drained, timeout, httpx.WriteTimeout("the job does not read the request body"))

    async def next_chunk(self, timeout: float | None) -> bytes | None:
        """The next body chunk, or None once the body is complete."""
        while True:
            if self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                if self.reading_paused and self.buffered < _LOW_WATER and self.transport is not None:
                    self.reading_paused = False
                    self.transport.resume_reading()
                return chunk
            if self.error is not None:
                raise self.error
            if self.complete:
                return None
            self.waiter = self.loop.create_future()
            await _wait(self.waiter, timeout, httpx.ReadTimeout("the job stopped sending its response"))
            self.waiter = None


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(
        self, transport: PooledTransport, connection: _Connection, timeout: float | None, head_only: bool
    ) -> None:
        self._transport = transport
        self._connection = connection
        self._timeout = timeout
        self._head_only = head_only
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._head_only:
            return
        connection = self._connection
        while True:
            chunk = await connection.next_chunk(self._timeout)
            if chunk is None:
                return
            yield chunk

    async def aclose(self) -> None:
        if self._released:
            return
        self._released = True
        connection = self._connection
        if self._head_only:
            connection.close()  # httptools cannot be told a HEAD response has no body
        self._transport._release(connection)


class PooledTransport(httpx.AsyncBaseTransport):
    """`httpx.AsyncClient(transport=PooledTransport(limits=httpx.Limits(...)))`; timeouts come from
    the client's `Timeout` through each request's extensions."""

    def __init__(self, *, limits: httpx.Limits = _DEFAULT_LIMITS) -> None:
        self._max_connections = limits.max_connections
        self._max_idle = (
            limits.max_keepalive_connections if limits.max_keepalive_connections is not None else 2**31
        )
        self._expiry = limits.keepalive_expiry
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._idle_count = 0
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(
                f"pub's job transport speaks plain http, not {url.scheme}", request=request
            )
        head = [request.method.encode("ascii"), b" ", url.raw_path, b" HTTP/1.1\r\n"]
        chunked = False
        for name, value in request.headers.raw:
            head += (name, b": ", value, b"\r\n")
            if name.lower() == b"transfer-encoding" and value.lower() == b"chunked":
                chunked = True
        head.append(b"\r\n")
        stream = request.stream
        body: bytes | AsyncIterator[bytes]
        if isinstance(stream, httpx.ByteStream):
            body = b"".join([part async for part in stream])
        else:
            body = stream  # type: ignore[assignment]
        timeouts = request.extensions.get("timeout", {})
        try:
            connection = await self.exchange(
                url.host, url.port or 80, b"".join(head), body, chunked=chunked, timeouts=timeouts
            )
        except httpx.TransportError as exc:
            exc.request = request  # errors raised inside the protocol do not know it
            raise
        return httpx.Response(
            status_code=connection.status,
            headers=connection.headers,
            stream=_ResponseStream(self, connection, timeouts.get("read"), request.method == "HEAD"),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": connection.reason},
        )

    async def exchange(
        self,
        host: str,
        port: int,
        head: bytes,
        body: bytes | AsyncIterator[bytes],
        *,
        chunked: bool,
        timeouts: dict[str, float | None],
    ) -> _Connection:
        """Sends one request (`head` is the request line and headers, ending with a blank line) and
        returns its connection once the response head is in: `status`, `headers` (raw names),
        then `next_chunk(timeout)` until None, then `release(connection)`. Raises httpx's
        `TransportError` subclasses; the connection is closed and forgotten on any failure."""
        connection = await self._acquire((host, port), timeouts)
        try:
            await self._send(connection, head, body, chunked, timeouts.get("write"))
            await _wait(
                connection.head,
                timeouts.get("read"),  # type: ignore[arg-type]
                httpx.ReadTimeout("the job did not answer in time"),
            )
        except BaseException:
            connection.close()
            self._discard(connection)
            raise
        connection.status = connection.parser.get_status_code()
        return connection

    def release(self, connection: _Connection) -> None:
        """Returns a connection whose response was read to the end (or closes it otherwise)."""
        self._release(connection)

    async def _send(
        self,
        connection: _Connection,
        head: bytes,
        body: bytes | AsyncIterator[bytes],
        chunked: bool,
        write_timeout: float | None,
    ) -> None:
        connection.begin()
        transport = connection.transport
        if transport is None or connection.closed:
            raise httpx.RemoteProtocolError("connection to the job closed before the request")
        if isinstance(body, bytes):  # whole body at hand: one write for head and body
            if chunked:
                body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
            transport.write(head + body)
            await connection.drain(write_timeout)
            return
        transport.write(head)
        async for part in body:
            if connection.closed:
                break  # the job answered (or left) before reading everything; its answer tells
            if part:
                transport.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                await connection.drain(write_timeout)
        if chunked and not connection.closed:
            transport.write(b"0\r\n\r\n")

    async def _acquire(self, key: tuple[str, int], timeouts: dict[str, float | None]) -> _Connection:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the most recently used: its socket is the warmest
            self._idle_count -= 1
            if connection.closed or (self._expiry is not None and now - connection.idle_since > self._expiry):
                connection.close()
                self._discard(connection)
                continue
            return connection
        loop = asyncio.get_running_loop()
        while self._max_connections is not None and self._open >= self._max_connections:
            if self._close_one_idle():
                continue
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await _wait(waiter, timeouts.get("pool"), httpx.PoolTimeout("no free connection to the job"))
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            idle = self._idle.get(key)
            if idle:
                return await self._acquire(key, timeouts)
        self._open += 1
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(key, loop), key[0], key[1]),
                timeouts.get("connect"),
            )
        except TimeoutError as exc:
            self._open -= 1
            self._wake_one()
            raise httpx.ConnectTimeout("the job did not accept a connection in time") from exc
        except OSError as exc:
            self._open -= 1
            self._wake_one()
            raise httpx.ConnectError(f"{exc.strerror or exc}") from exc
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.reusable() and self._idle_count < self._max_idle:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.key, []).append(connection)
            self._idle_count += 1
            self._wake_one()
        else:
            connection.close()
            self._discard(connection)

    def _discard(self, connection: _Connection) -> None:
        if connection.counted_out:
            return
        connection.counted_out = True
        self._open -= 1
        self._wake_one()

    def _close_one_idle(self) -> bool:
        for connections in self._idle.values():
            if connections:
                connection = connections.pop(0)
                self._idle_count -= 1
                connection.close()
                self._discard(connection)
                return True
        return False

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        self._idle_count = 0
