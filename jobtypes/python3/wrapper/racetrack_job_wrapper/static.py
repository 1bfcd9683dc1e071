"""Serving files: a job's `static_endpoints()` and the `static` folder beside its webview.

Starlette's FileResponse and StaticFiles do the serving (HEAD, ranges, ETag and Last-Modified, and no
path that leads out of the folder). As upstream, a file whose type cannot be guessed is text/plain.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles

from .asgi import Receive, Scope, Send, StatusWatch, respond_error

__all__ = ["StaticFile", "StaticFolder", "guess_mimetype"]


def guess_mimetype(path: Path) -> str:
    return mimetypes.guess_type(path.name, strict=False)[0] or "text/plain"


class StaticFile:
    """One file at one path; `mimetype` None means guessed from its name."""

    def __init__(self, path: Path, mimetype: str | None = None) -> None:
        self.path = path
        self.mimetype = mimetype or guess_mimetype(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, base: str, path: str) -> int:
        if not self.path.is_file():
            return await respond_error(send, 404, f"static file {self.path} no longer exists in the job")
        watch = StatusWatch(send)
        await FileResponse(self.path, media_type=self.mimetype)(scope, receive, watch)
        return watch.status


class _Files(StaticFiles):
    """StaticFiles with upstream's content type for unknown files (starlette's is octet-stream)."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        media_type = guess_mimetype(Path(full_path))
        response = FileResponse(
            full_path, status_code=status_code, stat_result=stat_result, media_type=media_type
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


class StaticFolder:
    """The files under `folder`, at `<base><url_prefix>/<relative path>`."""

    def __init__(self, folder: Path, url_prefix: str) -> None:
        self.files = _Files(directory=folder)
        self.url_prefix = url_prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send, base: str, path: str) -> int:
        # StaticFiles serves the part of `path` below `root_path` (the ASGI convention).
        child = {**scope, "root_path": scope.get("root_path", "") + base + self.url_prefix}
        watch = StatusWatch(send)
        try:
            await self.files(child, receive, watch)
        except HTTPException as exc:
            relative = path[len(self.url_prefix) :]
            return await respond_error(send, exc.status_code, f"no file {relative} here ({exc.detail})")
        return watch.status
