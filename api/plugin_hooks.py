"""Calling installed plugins' hooks, as upstream's plugins expect them to be called.

    loaded_plugin(settings, plugin)                      # its object, its stored config written for it
    for plugin, result in call_hooks(session, settings, "job_runtime_env_vars"): ...

The deploy engine calls `validate_job_manifest(manifest, job_type)` before it builds,
`job_runtime_env_vars()` for each job's environment, `post_job_deploy(manifest, job, image_name,
deployer_username)` once a job serves and `post_job_delete(job, username_executor)` once it is gone;
the plugin routes call `markdown_docs`, `run_action` and `infrastructure_targets`.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db import Job, Plugin, TrashJob
from api.settings import Settings
from core.errors import InvalidInput, PlatformError
from jobtypes import registry

__all__ = ["HookFailed", "call_hooks", "job_view", "loaded_plugin"]


class HookFailed(InvalidInput):
    """A plugin's hook raised: the message names the plugin, the hook and what it said."""


def loaded_plugin(settings: Settings, plugin: Plugin) -> tuple[registry.PluginInfo, Any]:
    """The plugin's info and object, with the configuration staff stored written where it reads it."""
    info, instance = registry.plugin_instance(settings.data_dir / plugin.stored_file)
    config_path = getattr(instance, "config_path", None)
    if plugin.config is not None and config_path is not None:
        config_path.write_text(plugin.config)
    return info, instance


def call_hooks(
    session: Session, settings: Settings, hook: str, **kwargs: Any
) -> Iterator[tuple[Plugin, Any]]:
    """Calls `hook` on every installed plugin that has it (lowest `priority` first, as upstream orders
    them), yielding each plugin with what it returned; a hook that raises stops here as HookFailed."""
    plugins = list(session.scalars(select(Plugin)))
    plugins.sort(key=lambda p: (int((p.plugin_manifest or {}).get("priority") or 0), p.name, p.version))
    for plugin in plugins:
        try:
            _, instance = loaded_plugin(settings, plugin)
        except PlatformError:
            continue  # a plugin that no longer loads is reported by the plugin routes, not here
        method = getattr(instance, hook, None)
        if not callable(method):
            continue
        try:
            result = method(**kwargs)
        except Exception as exc:  # the plugin's own code: its failure is told with its name
            raise HookFailed(
                f"plugin {plugin.name} {plugin.version}: {hook} failed: {type(exc).__name__}: {exc}"
            ) from exc
        yield plugin, result


def job_view(job: Job | TrashJob) -> SimpleNamespace:
    """A job as hooks read it (upstream's job record fields), detached from the database session."""
    return SimpleNamespace(
        name=job.name,
        version=job.version,
        status=job.status,
        internal_name=job.internal_name,
        deployed_by=job.deployed_by,
        infrastructure_target=job.infrastructure_target,
        job_type_version=job.job_type_version,
        manifest_yaml=job.manifest,
        image_tag=job.image_ref,
    )
