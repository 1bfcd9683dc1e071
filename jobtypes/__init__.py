"""How a job's code becomes an image: job types, their templates and runtime wrappers.

The deploy engine (api/deployer) calls:

    source = fetch_git_source(workspace, remote=..., branch=..., directory=..., username=..., token=...)
             # or unpack_build_context(workspace, encoded_tar_gz)
    plan = plan_build(manifest, source, build_id=..., secret_build_env=..., settings=..., log=append_log)
    env = job_runtime_env(manifest, pub_url=..., auth_token=..., job_type_env=plan.runtime_env, ...)

and the infrastructure target builds `plan.images` (on Docker: stacks/docker/build.py in the stack).
`build_images` and `job_containers` build and describe the containers without Pulumi (tests, bench).
Job types come from `registry`: the built-in ones plus the plugins in data_dir/plugins.
"""

from ._base import JOB_PORT, ImageSpec, JobType, JobTypeExtra
from .build import BuildPlan, ImageBuild, image_name, plan_build
from .config import BuildSettings
from .manifest import Manifest, job_manifest, parse_manifest
from .registry import (
    PluginInfo,
    ResolvedJobType,
    install_plugin,
    list_job_types,
    list_plugins,
    remove_plugin,
    resolve_job_type,
)
from .runtime import JobContainer, job_containers, job_runtime_env
from .source import SourceInfo, fetch_git_source, pack_directory, unpack_build_context

__all__ = [
    "JOB_PORT",
    "Manifest",
    "BuildPlan",
    "BuildSettings",
    "ImageBuild",
    "ImageSpec",
    "JobContainer",
    "JobType",
    "JobTypeExtra",
    "PluginInfo",
    "ResolvedJobType",
    "SourceInfo",
    "fetch_git_source",
    "image_name",
    "install_plugin",
    "job_containers",
    "job_runtime_env",
    "list_job_types",
    "list_plugins",
    "pack_directory",
    "job_manifest",
    "parse_manifest",
    "plan_build",
    "remove_plugin",
    "resolve_job_type",
    "unpack_build_context",
]
