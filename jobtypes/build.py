"""Planning job image builds: what to build, from where, with which secrets.

    source = unpack_build_context(encoded, workspace / "src", settings=build_settings)
    plan = plan_build(manifest, source, build_id="b1", settings=build_settings)
    try:
        ...  # an infrastructure target builds plan.images (on Docker: stacks.docker.build)
    finally:
        plan.cleanup()

Making the plan does no Docker work: executing it is the infrastructure target's part, in its stack.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from core.errors import InvalidInput

from ._base import JobType
from .archive import process_umask
from .config import BuildSettings
from .contextpaths import check_links, check_manifest_paths, resolve_in_context
from .jobdockerfile import CACHE_NAMESPACE_ARG, cache_namespace, check_job_dockerfile
from .manifest import Manifest, job_manifest
from .registry import resolve_job_type
from .source import SourceInfo
from .templatevalues import check_template_values, dockerfile_quote, one_line, shell_quote

__all__ = ["ImageBuild", "BuildPlan", "plan_build", "image_name"]

JOBTYPE_DIR_NAME = ".racetrack-jobtype"
RACETRACK_VERSION = "0.1.0"
# The unprivileged user (and group) job images run as; no user of the host or base images has it.
JOB_UID = 10000

# Shell snippets the templates put in front of RUN commands that need the network or secrets. The CA
# bundle (BuildSettings.extra_ca_bundle: by default what the host trusts) is a BuildKit secret, so it
# reaches no layer; pip, requests, git and Go read it from these variables, apt from the options in
# $APT_CA.
USE_CA = (
    "if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle "
    "SSL_CERT_FILE=/run/secrets/ca_bundle REQUESTS_CA_BUNDLE=/run/secrets/ca_bundle "
    "CURL_CA_BUNDLE=/run/secrets/ca_bundle GIT_SSL_CAINFO=/run/secrets/ca_bundle "
    "APT_CA='-o Acquire::https::CAInfo=/run/secrets/ca_bundle'; fi;"
)
USE_BUILD_SECRETS = (
    "if [ -s /run/secrets/build_secrets ]; then set -a; . /run/secrets/build_secrets; set +a; fi;"
)


@dataclass
class ImageBuild:
    """One `docker build`: its Dockerfile, context, tag, labels, build args and secret files."""

    role: str
    image: str
    dockerfile: Path
    context: Path
    port: int
    address_env: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, Path] = field(default_factory=dict)  # secret id -> file

    def secret_values(self) -> dict[str, str]:
        """Secret id -> content, for an engine that keeps build secrets itself (e.g. in stack state)."""
        return {key: path.read_text(encoding="utf-8") for key, path in self.secrets.items()}


@dataclass
class BuildPlan:
    """Everything needed to build a job's images; `images[0]` is the one serving port 7000."""

    job_name: str
    job_version: str
    build_id: str
    job_type: str
    workspace: Path
    images: list[ImageBuild]
    warnings: list[str] = field(default_factory=list)
    runtime_env: dict[str, str] = field(default_factory=dict)  # what the job type needs at runtime

    def cleanup(self) -> None:
        """Removes the secret files and the workspace (sources, rendered Dockerfiles)."""
        shutil.rmtree(self.workspace / "secrets", ignore_errors=True)
        shutil.rmtree(self.workspace, ignore_errors=True)


def _tag_part(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", value)[:120]


def image_name(
    job_name: str, job_version: str, build_id: str, role: str = "job", *, prefix: str = "racetrack"
) -> str:
    """`racetrack/job-entrypoint/adder:1.0.0-<build>`; sidecar images use `job-<role>`."""
    repository = "job-entrypoint" if role == "job" else f"job-{role}"
    return f"{prefix}/{repository}/{job_name}:{_tag_part(f'{job_version}-{build_id}')}"


def _jinja() -> jinja2.Environment:
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False, finalize=one_line
    )
    env.filters["dq"] = dockerfile_quote  # a double-quoted Dockerfile word (ENV, COPY)
    env.filters["sh"] = shell_quote  # a shell word (RUN)
    env.filters["tojson"] = lambda value: json.dumps(value)
    return env


def _copy_jobtype_files(job_type: JobType, target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()  # the job's code may hold this name too; never follow it
    elif target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".extracted")
    for folder in job_type.context_dirs:
        shutil.copytree(folder, target, dirs_exist_ok=True, ignore=ignore)
    # copytree copies the modes of the platform's own files (0644): in the lifecycle's data
    # directory what it writes is owner-only, as its umask says.
    umask = process_umask()
    for path in [target, *target.rglob("*")]:
        if not path.is_symlink():
            path.chmod(stat.S_IMODE(path.stat().st_mode) & ~umask)


_SYNTAX_DIRECTIVE = re.compile(r"^#\s*syntax\s*=.*\n", re.I | re.M)
_JOBTYPE_STAGE = re.compile(r"^FROM\s+\S+\s+AS\s+jobtype\s*$", re.I | re.M)


def _with_jobtype_stage(text: str) -> str:
    """Gives a template the `jobtype` stage that upstream passes as a named build context.

    `docker build` without buildx has no `--build-context`, so a first stage holding the job type's
    files stands in for it: `COPY --from=jobtype <file>` works unchanged. A `# syntax=` directive is
    dropped: it would pull a frontend image, and the engine's built-in frontend has what we use.
    """
    text = _SYNTAX_DIRECTIVE.sub("", text)
    if _JOBTYPE_STAGE.search(text):
        return text
    return f"FROM scratch AS jobtype\nCOPY {JOBTYPE_DIR_NAME}/ /\n\n{text}"


def plan_build(
    manifest: Mapping[str, Any] | Manifest,
    source: SourceInfo,
    *,
    build_id: str,
    secret_build_env: Mapping[str, str] | None = None,
    settings: BuildSettings,
    log: Callable[[str], None] | None = None,
) -> BuildPlan:
    """Resolves the job type, validates `jobtype_extra`, renders the Dockerfiles; builds nothing.

    `source` is the fetched code (see `jobtypes.source`); its workspace receives the rendered
    Dockerfiles and the secret files, removed again by `BuildPlan.cleanup()`.
    """
    parsed = job_manifest(manifest)
    resolved = resolve_job_type(parsed.jobtype, settings=settings)
    job_type = resolved.job_type
    extra = job_type.validate_extra(parsed.jobtype_extra)
    context = source.context_dir
    check_links(context, what="the job's code")
    check_manifest_paths(extra, context)
    warnings = ([resolved.note] if resolved.note else []) + job_type.build_warnings(extra)
    for warning in warnings:
        if log:
            log(f"warning: {warning}")

    workspace = source.workspace
    _copy_jobtype_files(job_type, context / JOBTYPE_DIR_NAME)
    secrets: dict[str, Path] = {}
    if settings.extra_ca_bundle is not None:
        if not settings.extra_ca_bundle.is_file():
            raise InvalidInput(
                f"the CA bundle for image builds, {settings.describe_ca()}, is not a file: set "
                "RACETRACK_EXTRA_CA_BUNDLE to a CA bundle file, or to none"
            )
        secrets["ca_bundle"] = settings.extra_ca_bundle
    if secret_build_env:
        secret_dir = workspace / "secrets"
        secret_dir.mkdir(mode=0o700, exist_ok=True)
        secret_file = secret_dir / "build_secrets"
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for key, value in secret_build_env.items():
                handle.write(f"export {key}={shlex.quote(str(value))}\n")
        secrets["build_secrets"] = secret_file

    base_image = job_type.base_image(extra, settings)
    variables: dict[str, Any] = {
        # runtime_env is for the container, not the image: templates never see it.
        "manifest": parsed.model_dump(exclude={"runtime_env"}),
        "manifest_jobtype_extra": parsed.jobtype_extra,
        "extra": extra,
        "env_vars": parsed.build_env,
        "build_env": parsed.build_env,
        "system_dependencies": parsed.system_dependencies,
        "job_name": parsed.name,
        "job_version": parsed.version,
        "git_version": source.git_version,
        "deployed_by_racetrack_version": RACETRACK_VERSION,
        "job_type_version": job_type.version,
        "resource_name": f"job-{parsed.name}-v-{parsed.version.replace('.', '-')}",
        "base_image": base_image,
        "base_image_python": settings.base_image_python,
        "base_image_golang": settings.base_image_golang,
        "base_image_debian": settings.base_image_debian,
        "use_ca": USE_CA,
        "use_build_secrets": USE_BUILD_SECRETS,
        "job_uid": JOB_UID,
        **job_type.template_vars(extra),
    }
    check_template_values(variables)
    labels = {
        "racetrack-component": "job",
        "racetrack.job-name": parsed.name,
        "racetrack.job-version": parsed.version,
        "racetrack.build-id": build_id,
        "racetrack.job-type": job_type.ref,
    }
    env = _jinja()
    images: list[ImageBuild] = []
    for spec in job_type.images(extra):
        if spec.source == "jobtype":
            assert spec.template is not None
            try:
                text = env.from_string(spec.template.read_text(encoding="utf-8")).render(**variables)
            except jinja2.TemplateError as exc:
                raise InvalidInput(
                    f"job type {job_type.ref}: template {spec.template.name} failed: {exc}"
                ) from None
            dockerfile = workspace / f"Dockerfile.{spec.role}"
            dockerfile.write_text(_with_jobtype_stage(text), encoding="utf-8")
        else:
            assert spec.dockerfile_path is not None
            dockerfile = resolve_in_context(
                context, spec.dockerfile_path, field="jobtype_extra.dockerfile_path"
            )
            check_job_dockerfile(dockerfile, build_args=parsed.build_env, settings=settings)
        images.append(
            ImageBuild(
                role=spec.role,
                image=image_name(
                    parsed.name, parsed.version, build_id, spec.role, prefix=settings.job_image_prefix
                ),
                dockerfile=dockerfile,
                context=context,
                port=spec.port,
                address_env=spec.address_env,
                build_args={
                    **(dict(parsed.build_env) if spec.source == "job" else {}),
                    # BuildKit prefixes every cache mount id with this: a family's caches are its own.
                    CACHE_NAMESPACE_ARG: cache_namespace(parsed.name),
                },
                labels={**labels, "racetrack.image-role": spec.role},
                secrets=dict(secrets),
            )
        )
    return BuildPlan(
        job_name=parsed.name,
        job_version=parsed.version,
        build_id=build_id,
        job_type=job_type.ref,
        workspace=workspace,
        images=images,
        warnings=warnings,
        runtime_env=job_type.runtime_env(extra),
    )
