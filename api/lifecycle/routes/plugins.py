"""Plugins: listed to any token holder; uploaded, downloaded and deleted by staff (ZIPs: data_dir/plugins)."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from typing import Annotated, Any

import yaml
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

router = APIRouter(prefix="/plugin", tags=["plugins"], responses=error_responses(400, 401, 403, 404, 422))

MAX_PLUGIN_BYTES = 200 * 1024 * 1024
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


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


def _read_manifest(content: bytes) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            if "plugin-manifest.yaml" not in names:
                raise InvalidInput(
                    "plugin: plugin-manifest.yaml is missing at the root of the ZIP "
                    "(accepted: a ZIP holding plugin.py and plugin-manifest.yaml)"
                )
            manifest = yaml.safe_load(archive.read("plugin-manifest.yaml"))
    except zipfile.BadZipFile as exc:
        raise InvalidInput("plugin: the file is not a ZIP archive (accepted: a plugin ZIP)") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"plugin: plugin-manifest.yaml is not valid YAML: {exc}") from exc
    if not isinstance(manifest, dict):
        raise InvalidInput("plugin: plugin-manifest.yaml must be a mapping with name and version")
    for field in ("name", "version"):
        value = manifest.get(field)
        if not isinstance(value, str | int | float) or not _SAFE.match(str(value)):
            raise InvalidInput(
                f"plugin-manifest.yaml field `{field}`: missing or malformed "
                "(accepted: letters, digits, dots, hyphens, underscores)"
            )
    return manifest


def _store(session: SessionDep, settings: Settings, content: bytes, replace: bool, uploader: str) -> Plugin:
    if len(content) > MAX_PLUGIN_BYTES:
        raise InvalidInput(f"plugin: larger than {MAX_PLUGIN_BYTES // (1024 * 1024)} MiB")
    manifest = _read_manifest(content)
    name, version = str(manifest["name"]), str(manifest["version"])
    same_name = list(session.scalars(select(Plugin).where(Plugin.name == name)))
    if any(p.version == version for p in same_name) and not replace:
        raise AlreadyExists(
            f"plugin {name} {version} is already installed; upload with replace to overwrite it"
        )
    if replace:
        for old in same_name:
            (settings.data_dir / old.stored_file).unlink(missing_ok=True)
            session.delete(old)
        session.flush()
    relative = f"plugins/{name}-{version}.zip"
    path = settings.data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    category = manifest.get("category")
    url = manifest.get("url")
    plugin = Plugin(
        name=name,
        version=version,
        category=str(category) if category else None,
        url=str(url) if url else None,
        plugin_manifest=manifest,
        stored_file=relative,
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
    return _out(_store(session, settings, content, replace, caller.name))


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
    return _out(_store(session, settings, bytes(content), bool(replace), caller.name))


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
    (settings.data_dir / plugin.stored_file).unlink(missing_ok=True)
    session.delete(plugin)
    record_audit(
        session, "plugin_uninstalled", executor=caller.name, properties={"name": name, "version": version}
    )
    return MessageResponse(message=f"plugin {name} {version} uninstalled")
