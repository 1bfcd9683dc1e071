"""A job's own web app (`webview_app(base_url)`), WSGI (Flask, Django) or ASGI (FastAPI, Starlette).

Upstream's convention, which job code is written against:

- `base_url` is the webview's public prefix, `/pub/job/<name>/<version>/api/v1/webview` (always the
  job's exact version, also when the job is called at its own port without the prefix).
- A WSGI app sees request paths that include it: `PATH_INFO` is `base_url + '/postme'` for a request
  to `.../api/v1/webview/postme`, so a Flask app routes `base_url + '/postme'`. `SCRIPT_NAME` is empty,
  which makes Flask's `url_for` and Django's `reverse` give those same public paths (upstream passes
  the mount prefix there, doubling the prefix in generated links).
- An ASGI app is mounted: `root_path` is the prefix the request came with (`/pub/job/<name>/<version>/
  api/v1/webview`, or `/api/v1/webview` at the job's own port) and `path` the full request path, so a
  FastAPI app routes `/postme` and its `url_for` gives public paths.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import io
import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .asgi import Receive, Scope, Send, StatusWatch, read_body, respond_error

__all__ = ["is_asgi_app", "WebviewApp", "WEBVIEW_PATH"]

logger = logging.getLogger("racetrack_job_wrapper")

WEBVIEW_PATH = "/api/v1/webview"


def is_asgi_app(app: Any) -> bool:
    """True for an ASGI app (`app(scope, receive, send)`); False for WSGI (`app(environ, start_response)`)."""
    if not callable(app):
        return False
    call = app if inspect.isroutine(app) else type(app).__call__
    if inspect.iscoroutinefunction(call):
        return True
    try:
        parameters = [
            p
            for p in inspect.signature(app).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return False
    return len(parameters) == 3


class WebviewApp:
    """Serves the job's web app at `<prefix>/api/v1/webview/...` with upstream's path convention."""

    def __init__(self, app: Any, pool: ThreadPoolExecutor, base_url: str) -> None:
        self.app = app
        self.pool = pool
        self.base_url = base_url
        self.asgi = is_asgi_app(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, base: str, sub_path: str) -> int:
        """`base` is the request's job prefix ('' at the job's own port); `sub_path` what follows
        /api/v1/webview (starting with '/')."""
        watch = StatusWatch(send)
        try:
            if self.asgi:
                child = {**scope, "root_path": scope.get("root_path", "") + base + WEBVIEW_PATH}
                await self.app(child, receive, watch)
                return watch.status
            body = await read_body(receive)
            environ = _wsgi_environ(scope, body, self.base_url + sub_path)
            loop = asyncio.get_running_loop()
            context = contextvars.copy_context()  # request_context goes along to the thread
            status, headers, content = await loop.run_in_executor(
                self.pool, context.run, _run_wsgi, self.app, environ
            )
        except Exception as exc:
            if watch.started:
                raise  # the answer is under way: only the server can end it now
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            logger.error("webview failed on %s: %s", sub_path, message, exc_info=True)
            return await respond_error(send, 500, f"webview failed: {message}")
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
        return status

    async def websocket(self, scope: Scope, receive: Receive, send: Send, base: str) -> None:
        if not self.asgi:
            await send({"type": "websocket.close", "code": 1000})
            return
        await self.app(
            {**scope, "root_path": scope.get("root_path", "") + base + WEBVIEW_PATH}, receive, send
        )


def _wsgi_environ(scope: Scope, body: bytes, path_info: str) -> dict[str, Any]:
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
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
