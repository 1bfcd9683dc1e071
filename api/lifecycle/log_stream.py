"""Live runtime logs over Socket.IO at `/lifecycle/socket.io`, as upstream's `racetrack logs -f` reads them.

A client connects, then calls `subscribe_for_logs` with `{"resource_properties": {"job_name", "job_version",
"tail"}}`; the server sends each log line as a `logs_nextline` event `{"line": ...}` until the client leaves.
The server is python-socketio's, mounted in the lifecycle's ASGI app.

Connecting needs a token, as every other route does, taken from (first found): the `X-Racetrack-Auth`
header, the Socket.IO `auth` payload `{"token": ...}`, or HTTP Basic/Bearer `Authorization` (the password
is the token). Upstream's client sends no header of its own: it authenticates through `~/.netrc`, which the
HTTP library it uses reads (`machine HOST login racetrack password TOKEN`).

Lines come from the job's infrastructure target, through the deploy engine's `follow_logs`: on Docker every
replica's container, followed as Docker streams it (the replica is named when there are several). A target
that cannot follow is read again each second through `runtime_logs`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

import socketio
from fastapi import FastAPI
from socketio.exceptions import ConnectionRefusedError

from api.auth import ANONYMOUS, Caller, Scope, has_permission
from api.auth.subjects import UNRESTRICTED_ANONYMOUS
from api.db import session_scope
from api.db.repository import find_job
from api.errors import Forbidden, NotFound, PlatformError
from api.lifecycle.deployments import DeployEngine
from api.lifecycle.deps import authenticate
from core.protocol import AUTH_HEADER, LEGACY_AUTH_HEADERS
from stacks.target import LogFollower

__all__ = ["SOCKETIO_PATH", "LogStreams", "LogFollower"]

SOCKETIO_PATH = "lifecycle/socket.io"
POLL_SECONDS = 1.0
MAX_TAIL = 100_000

logger = logging.getLogger("racetrack.lifecycle.logs")


class _PolledFollower:
    """For engines that only read recent logs: re-reads them each second, sending the lines not seen yet."""

    def __init__(self, read: Any, name: str, version: str, tail: int) -> None:
        self._read, self._name, self._version, self._tail = read, name, version, tail
        self._stop = threading.Event()

    def __iter__(self) -> Iterator[str]:
        previous = str(self._read(self._name, self._version, self._tail)).splitlines()
        yield from previous
        window = max(self._tail, 200)
        while not self._stop.wait(POLL_SECONDS):
            current = str(self._read(self._name, self._version, window)).splitlines()
            yield from _after_overlap(previous, current)
            previous = current

    def close(self) -> None:
        self._stop.set()


def _after_overlap(previous: list[str], current: list[str]) -> list[str]:
    for overlap in range(min(len(previous), len(current)), 0, -1):
        if previous[-overlap:] == current[:overlap]:
            return current[overlap:]
    return current


def _token(environ: dict[str, Any], auth: Any) -> str | None:
    for name in (AUTH_HEADER, *LEGACY_AUTH_HEADERS):
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        if value:
            return str(value).strip()
    if isinstance(auth, dict) and auth.get("token"):
        return str(auth["token"])
    scheme, _, credentials = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    if scheme.lower() == "basic" and credentials:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            return base64.b64decode(credentials).decode().partition(":")[2] or None
    return None


class LogStreams:
    """The Socket.IO server of one lifecycle app, and the log followers of its connected clients."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # Same-origin only (the default): a page of another site may not read logs with a visitor's cookie.
        self.sio = socketio.AsyncServer(async_mode="asgi", logger=False, engineio_logger=False)
        self._followers: dict[str, LogFollower] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.sio.on("connect", self._connect)
        self.sio.on("subscribe_for_logs", self._subscribe)
        self.sio.on("disconnect", self._disconnect)

    def asgi_app(self) -> socketio.ASGIApp:
        return socketio.ASGIApp(self.sio, socketio_path=SOCKETIO_PATH)

    async def close_all(self) -> None:
        """Ends every stream (the lifecycle is stopping)."""
        for sid in list(self._followers):
            await self._disconnect(sid)

    # Events ------------------------------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = _token(environ, auth)
        caller = await asyncio.to_thread(self._caller, token)
        await self.sio.save_session(sid, {"caller": caller})

    def _caller(self, token: str | None) -> Caller:
        settings = self.app.state.settings
        if token is None:
            if not settings.auth_required:
                return UNRESTRICTED_ANONYMOUS
            raise ConnectionRefusedError(
                f"no token: send it in the {AUTH_HEADER} header (racetrack-client 2.35 sends none over "
                "Socket.IO; give it through ~/.netrc: machine HOST login racetrack password TOKEN)"
            )
        try:
            with session_scope(self.app.state.sessions) as session:
                return authenticate(session, settings, token)
        except PlatformError as exc:
            raise ConnectionRefusedError(exc.message) from None

    async def _subscribe(self, sid: str, data: Any) -> str:
        properties = data.get("resource_properties") if isinstance(data, dict) else None
        if not isinstance(properties, dict) or not properties.get("job_name"):
            return await self._refuse(sid, "subscribe_for_logs needs resource_properties with job_name")
        name = str(properties["job_name"])
        version = str(properties.get("job_version") or "latest")
        try:
            tail = min(max(int(properties.get("tail", 20)), 0), MAX_TAIL)
        except (TypeError, ValueError):
            return await self._refuse(sid, f"tail must be a number of lines, not {properties.get('tail')!r}")
        caller: Caller = (await self.sio.get_session(sid)).get("caller", ANONYMOUS)
        try:
            follower = await asyncio.to_thread(self._follower, caller, name, version, tail)
        except PlatformError as exc:
            return await self._refuse(sid, exc.message)
        if sid in self._tasks:  # one stream per connection, as upstream's server keeps it
            follower.close()
            return f"{sid}_{name}_{version}"
        self._followers[sid] = follower
        self._tasks[sid] = asyncio.create_task(self._pump(sid, follower))
        return f"{sid}_{name}_{version}"

    async def _disconnect(self, sid: str, *_: Any) -> None:
        follower = self._followers.pop(sid, None)
        if follower is not None:
            follower.close()
        task = self._tasks.pop(sid, None)
        if task is not None:
            task.cancel()

    # Streaming ---------------------------------------------------------------------------------------

    async def _refuse(self, sid: str, message: str) -> str:
        """Tells the client why as a log line (upstream's client prints only those), then lets it go.

        The disconnect runs as a task: it is queued after this call's answer, which the client waits for."""
        await self.sio.emit("logs_nextline", {"line": f"Error: {message}"}, to=sid)
        task = asyncio.create_task(self.sio.disconnect(sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return f"error: {message}"

    def _follower(self, caller: Caller, name: str, version: str, tail: int) -> LogFollower:
        with session_scope(self.app.state.sessions) as session:
            job = find_job(session, name, version)
            if job is None:
                raise NotFound(f"job {name} version {version} was not found")
            if not has_permission(session, caller, Scope.read_job, job=job):
                raise Forbidden(f"no permission to read the logs of job {job.name} v{job.version}")
            name, version, target = job.name, job.version, job.infrastructure_target
        engine: DeployEngine | None = self.app.state.engine
        if engine is None:
            raise NotFound("runtime logs are not available: no deploy engine is configured")
        followed = engine.follow_logs(name, version, tail, target)
        if followed is not None:
            return followed
        return _PolledFollower(engine.runtime_logs, name, version, tail)

    async def _pump(self, sid: str, follower: LogFollower) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def produce() -> None:
            try:
                for line in follower:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
            except Exception as exc:  # noqa: BLE001 - the stream broke: the client is told, not left waiting
                loop.call_soon_threadsafe(queue.put_nowait, f"Error: the log stream ended: {exc}")
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=produce, daemon=True, name=f"logs-{sid}").start()
        try:
            while (line := await queue.get()) is not None:
                await self.sio.emit("logs_nextline", {"line": line}, to=sid)
        finally:
            follower.close()
        # The job's output ended (stopped, replaced, deleted): the client is let go rather than kept waiting.
        self._followers.pop(sid, None)
        self._tasks.pop(sid, None)
        await self.sio.disconnect(sid)
