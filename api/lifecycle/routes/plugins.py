"""Plugins: listed to any token holder; uploaded, downloaded, configured, run and deleted by staff
(ZIPs: data_dir/plugins).

Hooks (`markdown_docs`, `run_action`, `infrastructure_targets`) run the plugin's own code, loaded by
`jobtypes.registry` as the image builder loads it; a plugin that fails is reported by name, never as a 500.
"""

from __future__ import annotations

import contextlib
import hashlib
import zipfile
from collections import Counter
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Body, File, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from api.db import Job, Plugin
from api.db.repository import record_audit
from api.errors import AlreadyExists, InvalidInput, NotFound
from api.lifecycle.deps import LoggedIn, SessionDep, SettingsDep, StaffCaller
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import MessageResponse, ts
from api.plugin_hooks import loaded_plugin
from api.settings import Settings
from jobtypes import registry
from jobtypes.registry import install_plugin, read_plugin_manifest, remove_plugin

# Targets the deploy engine provisions itself; plugins may add more through `infrastructure_targets()`.
BUILT_IN_TARGETS = ("docker", "kubernetes")

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
    info = install_plugin(content, filename, replace=True, settings=settings.build_settings())
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
        remove_plugin(plugin.name, plugin.version, settings=settings.build_settings())


def _get(session: SessionDep, name: str, version: str) -> Plugin:
    plugin = session.scalar(select(Plugin).where(Plugin.name == name, Plugin.version == version))
    if plugin is None:
        raise NotFound(f"plugin {name} {version} was not found")
    return plugin


@router.get("", response_model=list[PluginOut])
def list_plugins(_: LoggedIn, session: SessionDep) -> list[PluginOut]:
    return [_out(p) for p in session.scalars(select(Plugin).order_by(Plugin.name, Plugin.version))]


@router.get("/job_type/versions", response_model=list[str])
def job_type_versions(_: LoggedIn, settings: SettingsDep) -> list[str]:
    """`name:version` of every job type a manifest can name: the built-in ones, then those of uploaded
    plugins (`plugin list --job-types`)."""
    return [job_type.ref for job_type in registry.list_job_types(settings=settings.build_settings())]


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


class TargetOrigin(BaseModel):
    name: str
    origin: str = Field(description='"built-in" or "plugin NAME VERSION"')
    plugin_name: str | None = None
    plugin_version: str | None = None


class TreeJobType(BaseModel):
    ref: str
    origin: str
    jobs: int = Field(description="job versions using it")


class TreeTarget(TargetOrigin):
    jobs: int = Field(description="job versions running on it")


class PluginTree(BaseModel):
    plugins: list[PluginOut]
    job_types: list[TreeJobType]
    infrastructure_targets: list[TreeTarget]
    problems: list[str] = Field(description="plugins that could not be loaded, and why")


def _call_hook(settings: Settings, plugin: Plugin, hook: str, **kwargs: Any) -> Any:
    _, instance = loaded_plugin(settings, plugin)
    method = getattr(instance, hook, None)
    if not callable(method):
        raise NotFound(f"plugin {plugin.name} {plugin.version} has no {hook} hook")
    try:
        return method(**kwargs)
    except Exception as exc:  # the plugin's own code: its failure is the plugin's, told to the caller
        raise InvalidInput(
            f"plugin {plugin.name} {plugin.version}: {hook} failed: {type(exc).__name__}: {exc}"
        ) from exc


def _newest(session: SessionDep, name: str) -> Plugin:
    plugins = list(session.scalars(select(Plugin).where(Plugin.name == name)))
    if not plugins:
        raise NotFound(f"plugin {name} was not found")
    return max(plugins, key=lambda p: p.uploaded_at)


def _all_plugins(session: SessionDep) -> list[Plugin]:
    return list(session.scalars(select(Plugin).order_by(Plugin.name, Plugin.version)))


def _targets(settings: Settings, plugins: list[Plugin], problems: list[str]) -> list[TargetOrigin]:
    targets = [TargetOrigin(name=name, origin="built-in") for name in BUILT_IN_TARGETS]
    for plugin in plugins:
        try:
            _, instance = loaded_plugin(settings, plugin)
            hook = getattr(instance, "infrastructure_targets", None)
            names = list((hook() or {}).keys()) if callable(hook) else []
        except Exception as exc:  # noqa: BLE001 - one broken plugin does not hide the others
            problems.append(f"plugin {plugin.name} {plugin.version}: {exc}")
            continue
        targets.extend(
            TargetOrigin(
                name=str(target),
                origin=f"plugin {plugin.name} {plugin.version}",
                plugin_name=plugin.name,
                plugin_version=plugin.version,
            )
            for target in names
        )
    return targets


@router.get("/infrastructure_targets", response_model=dict[str, TargetOrigin])
def infrastructure_targets(
    _: LoggedIn, session: SessionDep, settings: SettingsDep
) -> dict[str, TargetOrigin]:
    """Infrastructure targets a job may name, each with where it comes from."""
    return {t.name: t for t in _targets(settings, _all_plugins(session), [])}


@router.get("/tree", response_model=PluginTree)
def plugin_tree(_: LoggedIn, session: SessionDep, settings: SettingsDep) -> PluginTree:
    """Plugins, the job types and infrastructure targets they bring, and how many jobs use each."""
    plugins = _all_plugins(session)
    problems: list[str] = []
    job_types = [TreeJobType(ref=t.ref, origin=t.origin, jobs=0) for t in registry.builtin_job_types()]
    for plugin in plugins:
        try:
            info, _ = loaded_plugin(settings, plugin)
        except Exception as exc:  # noqa: BLE001 - one broken plugin does not hide the others
            problems.append(f"plugin {plugin.name} {plugin.version}: {exc}")
            continue
        origin = f"plugin {plugin.name} {plugin.version}"
        job_types.extend(TreeJobType(ref=ref, origin=origin, jobs=0) for ref in info.job_types)
    by_type = Counter(
        dict(session.execute(select(Job.job_type_version, func.count()).group_by(Job.job_type_version)).all())
    )
    by_target = Counter(
        dict(
            session.execute(
                select(Job.infrastructure_target, func.count()).group_by(Job.infrastructure_target)
            ).all()
        )
    )
    targets = _targets(settings, plugins, [])
    return PluginTree(
        plugins=[_out(p) for p in plugins],
        job_types=[t.model_copy(update={"jobs": by_type[t.ref]}) for t in job_types],
        infrastructure_targets=[TreeTarget(**t.model_dump(), jobs=by_target[t.name]) for t in targets],
        problems=problems,
    )


@router.delete("/all", response_model=MessageResponse)
def delete_all_plugins(caller: StaffCaller, session: SessionDep, settings: SettingsDep) -> MessageResponse:
    """Uninstalls every plugin (staff)."""
    plugins = _all_plugins(session)
    for plugin in plugins:
        _remove(session, settings, plugin, caller.name)
    return MessageResponse(message=f"{len(plugins)} plugin(s) uninstalled")


def _zip_config(settings: Settings, plugin: Plugin) -> str:
    try:
        with zipfile.ZipFile(settings.data_dir / plugin.stored_file) as archive:
            if "config.yaml" in archive.namelist():
                return archive.read("config.yaml").decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile):
        pass
    return ""


class PluginConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config_data: str = Field(max_length=1_000_000, description="the plugin's configuration file (YAML)")


@router.get("/{name}/{version}/config", response_model=str)
def read_config(name: str, version: str, _: StaffCaller, session: SessionDep, settings: SettingsDep) -> str:
    """The plugin's configuration: what staff stored, else the `config.yaml` shipped in its zip (staff)."""
    plugin = _get(session, name, version)
    return plugin.config if plugin.config is not None else _zip_config(settings, plugin)


@router.put("/{name}/{version}/config", response_model=str)
def write_config(
    name: str,
    version: str,
    body: PluginConfigUpdate,
    caller: StaffCaller,
    session: SessionDep,
    settings: SettingsDep,
) -> str:
    """Stores the plugin's configuration (staff); the plugin reads it at its next hook call."""
    plugin = _get(session, name, version)
    try:
        yaml.safe_load(body.config_data)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"field `config_data`: not valid YAML: {exc}") from exc
    plugin.config = body.config_data
    record_audit(
        session, "plugin_configured", executor=caller.name, properties={"name": name, "version": version}
    )
    return plugin.config


@router.get("/{name}/docs", response_model=str | None)
def plugin_docs(name: str, _: LoggedIn, session: SessionDep, settings: SettingsDep) -> str | None:
    """The plugin's documentation in Markdown (its `markdown_docs` hook), or null when it has none."""
    plugin = _newest(session, name)
    _info, instance = loaded_plugin(settings, plugin)
    if not callable(getattr(instance, "markdown_docs", None)):
        return None
    docs = _call_hook(settings, plugin, "markdown_docs")
    return None if docs is None else str(docs)


@router.post("/{name}/run")
def run_action(
    name: str,
    request: Request,
    caller: StaffCaller,
    session: SessionDep,
    settings: SettingsDep,
    params: Annotated[dict[str, Any] | None, Body()] = None,
) -> Any:
    """Runs the plugin's `run_action` hook, the query parameters and JSON body its arguments (staff)."""
    plugin = _newest(session, name)
    arguments = {**request.query_params, **(params or {})}
    result = _call_hook(settings, plugin, "run_action", **arguments)
    record_audit(
        session,
        "plugin_action_run",
        executor=caller.name,
        properties={"name": plugin.name, "version": plugin.version, "arguments": sorted(arguments)},
    )
    try:
        return jsonable_encoder(result)
    except (TypeError, ValueError):
        return str(result)


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
    _remove(session, settings, _get(session, name, version), caller.name)
    return MessageResponse(message=f"plugin {name} {version} uninstalled")


def _remove(session: SessionDep, settings: Settings, plugin: Plugin, executor: str) -> None:
    _uninstall(settings, plugin)
    session.delete(plugin)
    record_audit(
        session,
        "plugin_uninstalled",
        executor=executor,
        properties={"name": plugin.name, "version": plugin.version},
    )
