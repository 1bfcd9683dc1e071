"""Mounting a job's own web app (`webview_app(base_url)`), WSGI (Flask, Django) or ASGI."""

from __future__ import annotations

import asyncio
import inspect
import io
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .asgi import Receive, Scope, Send, read_body

__all__ = ["is_asgi_app", "MountedApp"]


def is_asgi_app(app: Any) -> bool:
    """True for an ASGI app (an async callable); False for WSGI (Flask, Django)."""
    if inspect.iscoroutinefunction(app):
        return True
    call = next((vars(klass)["__call__"] for klass in type(app).__mro__ if "__call__" in vars(klass)), None)
    return inspect.iscoroutinefunction(call)


class MountedApp:
    """Serves `app` under a path prefix: the app sees the prefix as its root (SCRIPT_NAME / root_path)."""

    def __init__(self, app: Any, pool: ThreadPoolExecutor) -> None:
        self.app = app
        self.pool = pool
        self.asgi = is_asgi_app(app)

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, mount_path: str, sub_path: str
    ) -> int:
        if self.asgi:
            child = dict(scope)
            child["root_path"] = scope.get("root_path", "") + mount_path
            child["path"] = sub_path or "/"
            child["raw_path"] = child["path"].encode()
            status_box = [200]

            async def send_and_watch(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status_box[0] = message["status"]
                await send(message)

            await self.app(child, receive, send_and_watch)
            return status_box[0]
        return await self._call_wsgi(scope, receive, send, mount_path, sub_path)

    async def _call_wsgi(
        self, scope: Scope, receive: Receive, send: Send, mount_path: str, sub_path: str
    ) -> int:
        body = await read_body(receive)
        environ = _wsgi_environ(scope, body, mount_path, sub_path or "/")
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(self.pool, _run_wsgi, self.app, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
        return status


def _wsgi_environ(scope: Scope, body: bytes, script_name: str, path_info: str) -> dict[str, Any]:
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "") + script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
        "REMOTE_ADDR": client[0],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for raw_key, raw_value in scope["headers"]:
        key = raw_key.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key == "CONTENT_LENGTH":
            continue
        else:
            name = "HTTP_" + key
            environ[name] = environ[name] + "," + value if name in environ else value
    return environ


def _run_wsgi(
    app: Callable[..., Any], environ: dict[str, Any]
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    started: dict[str, Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        return chunks.append

    chunks: list[bytes] = []
    result = app(environ, start_response)
    try:
        for chunk in result:
            chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return started.get("status", 500), started.get("headers", []), b"".join(chunks)
