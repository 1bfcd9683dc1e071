"""Plugins: listed to any token holder; uploaded, downloaded and deleted by staff (ZIPs: data_dir/plugins)."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import select

from api.db import Plugin
from api.db.repository import record_audit
from api.errors import AlreadyExists, InvalidInput, NotFound
from api.lifecycle.deps import LoggedIn, SessionDep, SettingsDep, StaffCaller
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import MessageResponse, ts
from api.settings import Settings
from jobtypes.registry import install_plugin, read_plugin_manifest, remove_plugin

router = APIRouter(prefix="/plugin", tags=["plugins"], responses=error_responses(400, 401, 403, 404, 422))

MAX_PLUGIN_BYTES = 200 * 1024 * 1024


class PluginOut(BaseModel):
    name: str
    version: str
    category: str | None
    url: str | None
    size: int
    sha256: str
    uploaded_by: str | None
    uploaded_at: int | None


def _out(plugin: Plugin) -> PluginOut:
    return PluginOut(
        name=plugin.name,
        version=plugin.version,
        category=plugin.category,
        url=plugin.url,
        size=plugin.size,
        sha256=plugin.sha256,
        uploaded_by=plugin.uploaded_by,
        uploaded_at=ts(plugin.uploaded_at),
    )


def _store(
    session: SessionDep, settings: Settings, filename: str, content: bytes, replace: bool, uploader: str
) -> Plugin:
    """Installs through the job-type registry, the one place that reads plugins: a ZIP it cannot load
    (no plugin.py, a Plugin class that raises, a malformed job type) is refused here, before any deploy
    could meet it. The table keeps who uploaded what; the ZIPs in data_dir/plugins are the plugins."""
    if len(content) > MAX_PLUGIN_BYTES:
        raise InvalidInput(f"plugin: larger than {MAX_PLUGIN_BYTES // (1024 * 1024)} MiB")
    manifest = read_plugin_manifest(content, filename)
    name, version = str(manifest["name"]), str(manifest["version"])
    same_name = list(session.scalars(select(Plugin).where(Plugin.name == name)))
    if any(p.version == version for p in same_name) and not replace:
        raise AlreadyExists(
            f"plugin {name} {version} is already installed; upload with replace to overwrite it"
        )
    info = install_plugin(content, filename, replace=True, settings=settings)
    if replace:
        for old in same_name:
            if old.version != info.version:
                _uninstall(settings, old)
            session.delete(old)
        session.flush()
    plugin = Plugin(
        name=info.name,
        version=info.version,
        category=info.category,
        url=info.url,
        plugin_manifest=manifest,
        stored_file=str(info.zip_path.relative_to(settings.data_dir)),
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=uploader,
    )
    session.add(plugin)
    session.flush()
    record_audit(
        session, "plugin_installed", executor=uploader, properties={"name": name, "version": version}
    )
    return plugin


def _uninstall(settings: Settings, plugin: Plugin) -> None:
    with contextlib.suppress(NotFound):  # its ZIP is gone already: nothing is left to remove
        remove_plugin(plugin.name, plugin.version, settings=settings)


def _get(session: SessionDep, name: str, version: str) -> Plugin:
    plugin = session.scalar(select(Plugin).where(Plugin.name == name, Plugin.version == version))
    if plugin is None:
        raise NotFound(f"plugin {name} {version} was not found")
    return plugin


@router.get("", response_model=list[PluginOut])
def list_plugins(_: LoggedIn, session: SessionDep) -> list[PluginOut]:
    return [_out(p) for p in session.scalars(select(Plugin).order_by(Plugin.name, Plugin.version))]


@router.get("/job_type/versions", response_model=list[str])
def job_type_versions(_: LoggedIn, session: SessionDep) -> list[str]:
    """`name:version` of every installed job-type plugin."""
    rows = session.scalars(select(Plugin).where(Plugin.category == "job-type").order_by(Plugin.name))
    return [f"{p.name}:{p.version}" for p in rows]


@router.post("/upload", response_model=PluginOut, status_code=201, responses=error_responses(409))
def upload_form(
    file: Annotated[UploadFile, File()],
    caller: StaffCaller,
    session: SessionDep,
    settings: SettingsDep,
    replace: bool = False,
) -> PluginOut:
    """Installs a plugin ZIP sent as multipart form field `file` (staff)."""
    content = file.file.read(MAX_PLUGIN_BYTES + 1)
    return _out(_store(session, settings, file.filename or "the upload", content, replace, caller.name))


@router.post(
    "/upload/{filename}",
    response_model=PluginOut,
    status_code=201,
    responses=error_responses(409),
    openapi_extra={
        "requestBody": {
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            "required": True,
        }
    },
)
async def upload_raw(
    filename: str,
    request: Request,
    caller: StaffCaller,
    session: SessionDep,
    settings: SettingsDep,
    replace: Annotated[int, Query(ge=0, le=1)] = 0,
) -> PluginOut:
    """Installs a plugin ZIP sent as the raw body (what `racetrack plugin install` does; staff)."""
    content = bytearray()
    async for chunk in request.stream():
        content += chunk
        if len(content) > MAX_PLUGIN_BYTES:
            raise InvalidInput(f"plugin: larger than {MAX_PLUGIN_BYTES // (1024 * 1024)} MiB")
    return _out(_store(session, settings, filename, bytes(content), bool(replace), caller.name))


@router.get(
    "/{name}/{version}/download",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The plugin ZIP"}},
)
def download(
    name: str, version: str, _: StaffCaller, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    plugin = _get(session, name, version)
    return FileResponse(
        settings.data_dir / plugin.stored_file,
        media_type="application/zip",
        filename=f"{plugin.name}-{plugin.version}.zip",
    )


@router.delete("/{name}/{version}", response_model=MessageResponse)
def delete_plugin(
    name: str, version: str, caller: StaffCaller, session: SessionDep, settings: SettingsDep
) -> MessageResponse:
    plugin = _get(session, name, version)
    _uninstall(settings, plugin)
    session.delete(plugin)
    record_audit(
        session, "plugin_uninstalled", executor=caller.name, properties={"name": name, "version": version}
    )
    return MessageResponse(message=f"plugin {name} {version} uninstalled")
