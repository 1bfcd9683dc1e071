"""Which job types exist: the built-in ones plus those installed from plugin zips.

A reference is `name:version`. The version may be exact (`python3:1.0.0`), `latest` (the highest
installed) or a wildcard (`python3:1.*`). Built-in types also serve references to versions this
platform never had (upstream repositories name versions like `python3:2.15.1`): the highest
installed version is used and the resolution carries a note saying so.

Plugins follow the upstream format: a zip with `plugin-manifest.yaml` (name, version, category, ...)
and `plugin.py` whose class `Plugin` has `job_types()` returning
`{"name:version": {"images": [{"source": "jobtype", "dockerfile_path": "x.Dockerfile", "template": true}]}}`
(the older `{"name:version": ["x.Dockerfile", ...]}` form is accepted). Zips live in
`data_dir/plugins`, where the lifecycle stores uploads, and are unpacked next to them.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import io
import logging
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict

from core.errors import AlreadyExists, InvalidInput, NotFound

from ._base import JOB_PORT, ImageSpec, JobType, JobTypeExtra
from .archive import extract_zip
from .config import BuildSettings
from .docker_proxy import USER_MODULE_ADDRESS_ENV, DockerProxyJobType
from .golang import GolangJobType
from .python3 import Python3JobType

__all__ = [
    "BUILTIN_VERSION",
    "PluginInfo",
    "ResolvedJobType",
    "builtin_job_types",
    "install_plugin",
    "list_job_types",
    "list_plugins",
    "plugin_instance",
    "read_plugin_manifest",
    "remove_plugin",
    "resolve_job_type",
]

BUILTIN_VERSION = "1.0.0"
_PLUGIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_PLUGIN_BYTES = 512 * 1024 * 1024  # unpacked
_LAYOUT = "a plugin ZIP holds plugin-manifest.yaml and plugin.py at its root"
logger = logging.getLogger(__name__)


def builtin_job_types() -> list[JobType]:
    return [
        Python3JobType(BUILTIN_VERSION),
        GolangJobType(BUILTIN_VERSION),
        DockerProxyJobType(BUILTIN_VERSION),
    ]


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    category: str
    zip_path: Path
    job_types: tuple[str, ...]
    url: str | None = None


@dataclass(frozen=True)
class ResolvedJobType:
    job_type: JobType
    requested: str
    note: str | None = None  # set when the requested version was not installed


class _PluginExtra(JobTypeExtra):
    """Plugins validate their own fields (hook `validate_job_manifest`), so anything is accepted."""

    model_config = ConfigDict(extra="allow")


# Plugin loading ---------------------------------------------------------------------------------

_loaded: dict[Path, tuple[float, PluginInfo, list[JobType]]] = {}
_broken: dict[Path, float] = {}  # zips found on disk that do not load, warned about once per version
_instances: dict[Path, Any] = {}  # the `Plugin` object of each loaded zip, whose hooks the lifecycle calls


def _plugins_dir(settings: BuildSettings) -> Path | None:
    return settings.data_dir / "plugins" if settings.data_dir is not None else None


def _read_manifest(archive: zipfile.ZipFile, source: str) -> dict[str, Any]:
    names = set(archive.namelist())
    if "plugin-manifest.yaml" not in names:
        raise InvalidInput(f"{source} is not a Racetrack plugin: plugin-manifest.yaml is missing ({_LAYOUT})")
    if "plugin.py" not in names:
        raise InvalidInput(f"{source} is not a Racetrack plugin: plugin.py is missing ({_LAYOUT})")
    try:
        manifest = yaml.safe_load(archive.read("plugin-manifest.yaml")) or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: plugin-manifest.yaml is not valid YAML: {exc}") from None
    if not isinstance(manifest, dict) or not manifest.get("name") or not manifest.get("version"):
        raise InvalidInput(f"{source}: plugin-manifest.yaml must set name and version")
    if not _PLUGIN_NAME.fullmatch(str(manifest["name"])) or not _PLUGIN_NAME.fullmatch(
        str(manifest["version"])
    ):
        raise InvalidInput(
            f"{source}: plugin name and version may hold only letters, digits, '.', '_' and '-'"
        )
    return manifest


def _load_plugin(zip_path: Path, source: str | None = None) -> tuple[PluginInfo, list[JobType]]:
    mtime = zip_path.stat().st_mtime
    cached = _loaded.get(zip_path)
    if cached and cached[0] == mtime:
        return cached[1], cached[2]
    with zipfile.ZipFile(zip_path) as archive:
        manifest = _read_manifest(archive, source or zip_path.name)
        target = zip_path.parent / ".extracted" / f"{manifest['name']}-{manifest['version']}"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        extract_zip(archive, target, what=zip_path.name, max_bytes=MAX_PLUGIN_BYTES)
    for path in [target.parent, target, *target.rglob("*")]:  # the data dir is owner-only (api/data_dir.py)
        path.chmod(path.stat().st_mode & 0o700)
    module_name = f"racetrack_plugin_{re.sub(r'[^A-Za-z0-9_]', '_', target.name)}"
    spec = importlib.util.spec_from_file_location(module_name, target / "plugin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    origin = f"plugin {manifest['name']} {manifest['version']}"
    try:
        spec.loader.exec_module(module)
        plugin = module.Plugin()
        plugin.plugin_dir = target
        plugin.plugin_manifest = manifest
        plugin.config_path = target / "config.yaml"
        job_types = (
            _plugin_job_types(plugin, target, origin) if callable(getattr(plugin, "job_types", None)) else []
        )
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - plugin code may raise anything; name it for the uploader
        problem = f"{type(exc).__name__}: {exc}"
        raise InvalidInput(f"plugin {source or zip_path.name} cannot be loaded: {problem}") from None
    info = PluginInfo(
        name=str(manifest["name"]),
        version=str(manifest["version"]),
        category=str(manifest.get("category") or ("job-type" if job_types else "core")),
        zip_path=zip_path,
        job_types=tuple(job_type.ref for job_type in job_types),
        url=manifest.get("url"),
    )
    _loaded[zip_path] = (mtime, info, job_types)
    _instances[zip_path] = plugin
    return info, job_types


def plugin_instance(zip_path: Path) -> tuple[PluginInfo, Any]:
    """The loaded plugin of a stored zip and its `Plugin` object (for hooks such as `markdown_docs`)."""
    info, _ = _load_plugin(zip_path)
    return info, _instances[zip_path]


def _plugin_job_types(plugin: Any, plugin_dir: Path, origin: str) -> list[JobType]:
    result = []
    for ref, declaration in (plugin.job_types() or {}).items():
        name, _, version = str(ref).partition(":")
        if not name or not version:
            raise InvalidInput(f"{origin}: job type '{ref}' must be named name:version")
        entries = declaration.get("images", []) if isinstance(declaration, dict) else list(declaration)
        specs = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):  # older form: a list of Dockerfile templates
                entry = {"source": "jobtype", "dockerfile_path": str(entry), "template": True}
            source = entry.get("source", "jobtype")
            path = str(entry.get("dockerfile_path") or "Dockerfile")
            specs.append(
                ImageSpec(
                    role="job" if index == 0 else f"job-{index}",
                    source="job" if source == "job" else "jobtype",
                    port=JOB_PORT + index,
                    template=(plugin_dir / path) if source != "job" else None,
                    dockerfile_path=path if source == "job" else None,
                    address_env=USER_MODULE_ADDRESS_ENV if index == 1 else None,
                )
            )
        if not specs:
            raise InvalidInput(f"{origin}: job type '{ref}' declares no images")
        result.append(
            JobType(
                name=name,
                version=version,
                extra_model=_PluginExtra,
                context_dirs=(plugin_dir,),
                origin=origin,
                image_specs=specs,
            )
        )
    return result


def _installed(settings: BuildSettings) -> list[tuple[PluginInfo, list[JobType]]]:
    """The plugins in `data_dir/plugins` that load; one that does not is skipped with a warning, so a
    broken zip put there by hand never takes the built-in job types down with it."""
    folder = _plugins_dir(settings)
    if folder is None or not folder.is_dir():
        return []
    result = []
    for path in sorted(folder.glob("*.zip")):
        try:
            result.append(_load_plugin(path))
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with it, the others keep working
            mtime = path.stat().st_mtime if path.exists() else 0.0
            if _broken.get(path) != mtime:
                _broken[path] = mtime
                problem = exc.message if isinstance(exc, InvalidInput) else f"{type(exc).__name__}: {exc}"
                logger.warning("plugin %s is skipped: %s; remove or replace it", path, problem)
    return result


def list_plugins(*, settings: BuildSettings) -> list[PluginInfo]:
    """Plugins stored in `data_dir/plugins`, loaded (and reloaded when their zip changes)."""
    return [info for info, _ in _installed(settings)]


def read_plugin_manifest(content: bytes, filename: str | None = None) -> dict[str, Any]:
    """The plugin-manifest.yaml of a plugin zip, checked for the files a plugin needs."""
    source = filename or "the upload"
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return _read_manifest(archive, source)
    except zipfile.BadZipFile:
        raise InvalidInput(f"{source} is not a ZIP file ({_LAYOUT})") from None


def install_plugin(
    content: bytes, filename: str | None = None, *, replace: bool = False, settings: BuildSettings
) -> PluginInfo:
    """Stores an uploaded plugin zip in `data_dir/plugins` once it loads; bad zips are refused and leave
    the installed plugins as they were."""
    manifest = read_plugin_manifest(content, filename)
    folder = _plugins_dir(settings)
    if folder is None:
        raise InvalidInput("installing a job type plugin needs a data directory (settings.data_dir)")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{manifest['name']}-{manifest['version']}.zip"
    if path.exists() and not replace:
        raise AlreadyExists(f"plugin {manifest['name']} {manifest['version']} is already installed")
    # Loaded from a staging folder first: a plugin that fails never replaces one that works.
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=folder) as staging:
        staged = Path(staging) / path.name
        staged.write_bytes(content)
        try:
            _load_plugin(staged, filename)
        finally:
            _loaded.pop(staged, None)
            _instances.pop(staged, None)
        staged.replace(path)
    _broken.pop(path, None)
    return _load_plugin(path)[0]


def remove_plugin(name: str, version: str | None = None, *, settings: BuildSettings) -> None:
    found = {
        (info.zip_path, f"{info.name}-{info.version}")
        for info in list_plugins(settings=settings)
        if info.name == name and (version is None or info.version == version)
    }
    folder = _plugins_dir(settings)
    by_name = folder / f"{name}-{version}.zip" if folder is not None else None
    # Also one that was skipped because it does not load.
    if version is not None and by_name is not None and by_name.is_file():
        found.add((by_name, by_name.stem))
    for zip_path, stem in found:
        zip_path.unlink(missing_ok=True)
        _loaded.pop(zip_path, None)
        _broken.pop(zip_path, None)
        _instances.pop(zip_path, None)
        shutil.rmtree(zip_path.parent / ".extracted" / stem, ignore_errors=True)
    if not found:
        raise NotFound(f"plugin {name}{' ' + version if version else ''} is not installed")


# Listing and resolving ----------------------------------------------------------------------------


def list_job_types(*, settings: BuildSettings) -> list[JobType]:
    """Every job type available: built-in first, then those of installed plugins."""
    types = builtin_job_types()
    for _, plugin_types in _installed(settings):
        types.extend(plugin_types)
    return types


def _version_key(version: str) -> tuple[Any, ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.\-+]", version))


def resolve_job_type(ref: str, *, settings: BuildSettings) -> ResolvedJobType:
    """The job type named by a manifest's `jobtype` (`name:version`, `name:latest`, `name:1.*`)."""
    name, _, version = ref.strip().partition(":")
    version = version or "latest"
    if not name:
        raise InvalidInput(f"jobtype '{ref}' must be name:version, e.g. python3:latest")
    candidates = [jt for jt in list_job_types(settings=settings) if jt.name == name]
    if not candidates:
        known = ", ".join(sorted({jt.name for jt in list_job_types(settings=settings)}))
        raise NotFound(f"job type '{name}' is not installed; available: {known}")
    candidates.sort(key=lambda jt: _version_key(jt.version), reverse=True)
    if version == "latest":
        return ResolvedJobType(candidates[0], ref)
    matching = [jt for jt in candidates if fnmatch.fnmatchcase(jt.version, version)]
    if matching:
        return ResolvedJobType(matching[0], ref)
    builtin = [jt for jt in candidates if jt.origin == "built-in"]
    if builtin:
        return ResolvedJobType(
            builtin[0], ref, note=f"{ref} is not installed; built with the built-in {builtin[0].ref}"
        )
    versions = ", ".join(jt.version for jt in candidates)
    raise NotFound(f"job type {ref} is not installed; versions of {name}: {versions}")
