"""What a Dockerfile from the job's own code may use: images, stages, cache mounts, downloads.

    check_job_dockerfile(path, build_args=manifest.build_env, settings=settings)

The job's Dockerfile (docker-proxy, plugin images with `source: job`) is built on the engine that
holds every tenant's images, so it may not start from or copy out of another job's image (its code),
nor from the platform's own images: `FROM`, `COPY --from`, `RUN --mount=...,from=` and the
`# syntax=` frontend image are checked after the build arguments are applied, against the setting
`job_dockerfile_allowed_images` (shell patterns; default any image except those). Remote `ADD`
sources must be on public addresses (`jobtypes.remotes`), as git remotes are. `ONBUILD` lines are
not checked: they run only in builds that start from this image, and no job may start from a
job's image.

Cache mounts are not checked here: every image build gets the build argument
BUILDKIT_CACHE_MOUNT_NS (`cache_namespace`), which BuildKit puts in front of every cache id, so a
tenant's `--mount=type=cache,id=...` can only ever reach the caches of its own job family.
"""

from __future__ import annotations

import csv
import fnmatch
import platform
import re
from collections.abc import Mapping
from pathlib import Path

import dockerfile

from core.errors import InvalidInput

from .config import BuildSettings
from .remotes import RemoteRefused, resolve_public_host

__all__ = ["check_job_dockerfile", "cache_namespace", "CACHE_NAMESPACE_ARG", "normalise_image"]

CACHE_NAMESPACE_ARG = "BUILDKIT_CACHE_MOUNT_NS"
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(.*?)\s*$")
_VARIABLE = re.compile(
    r"\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$\{"
)
_IMAGE_ID = re.compile(r"^(sha256:)?[0-9a-f]{12,64}$")
_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@)", re.I)


def cache_namespace(job_name: str) -> str:
    """The cache namespace of a job family; family names hold no '/', so no two share a prefix."""
    return f"racetrack/{job_name}"


def normalise_image(reference: str) -> tuple[str, str]:
    """(registry, repository path) as Docker reads a reference: `python` is docker.io/library/python."""
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name = name[:colon]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = "docker.io"
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    return registry.lower(), path.lower()


def _denied_paths(settings: BuildSettings) -> list[str]:
    """Repository paths of the platform's images, on any registry."""
    prefix = normalise_image(settings.job_image_prefix.rstrip("/") + "/x")[1].rsplit("/", 1)[0]
    prefixes = {prefix, "racetrack"}
    return [f"{p}/job-*" for p in prefixes] + [f"{p}/platform*" for p in prefixes]


def _check_image(reference: str, where: str, settings: BuildSettings, field: str) -> None:
    if "$" in reference:
        raise InvalidInput(
            f"{field}: {where} names the image '{reference}' through a variable this platform does "
            "not evaluate there; write the image name out"
        )
    if _IMAGE_ID.match(reference.lower()):
        raise InvalidInput(f"{field}: {where} names an image by its id ('{reference}'); name it instead")
    registry, path = normalise_image(reference)
    if any(fnmatch.fnmatchcase(path, pattern) for pattern in _denied_paths(settings)):
        raise InvalidInput(
            f"{field}: {where} uses '{reference}', an image of this platform (another job's or the "
            "platform's own); start from a public or base image instead"
        )
    name = reference.split("@", 1)[0].lower()
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    candidates = {reference.lower(), name, f"{registry}/{path}", path}
    allowed = settings.job_dockerfile_allowed_images
    if not any(fnmatch.fnmatchcase(c, p.lower()) for c in candidates for p in allowed):
        raise InvalidInput(
            f"{field}: {where} uses '{reference}', which the setting job_dockerfile_allowed_images "
            f"does not allow (allowed: {', '.join(allowed) or 'none'})"
        )


def _expand(text: str, values: Mapping[str, str], where: str, field: str) -> str:
    """Docker's `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR:+word}` over `values`; others refused."""

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "\\$":
            return "$"
        if whole == "${":
            raise InvalidInput(f"{field}: {where} uses a ${{...}} form this platform does not evaluate")
        name = match.group(1) or match.group(4)
        value = values.get(name, "")
        operator, word = match.group(2), match.group(3) or ""
        if operator in (":-", "-"):
            return value if (value or (operator == "-" and name in values)) else word
        if operator in (":+", "+"):
            return word if (value or (operator == "+" and name in values)) else ""
        return value

    return _VARIABLE.sub(replace, text)


def _automatic_args() -> dict[str, str]:
    """The platform arguments BuildKit gives every FROM without an ARG line, as the local engine would."""
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(
        platform.machine(), platform.machine()
    )
    values = {"OS": "linux", "ARCH": arch, "VARIANT": "v7" if arch == "arm" else ""}
    values["PLATFORM"] = f"linux/{arch}" + (f"/{values['VARIANT']}" if values["VARIANT"] else "")
    return {f"{side}{key}": value for side in ("BUILD", "TARGET") for key, value in values.items()}


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _directives(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _DIRECTIVE.match(line)
        if not match:
            break
        found[match.group(1).lower()] = match.group(2)
    return found


def _flag(flags: tuple[str, ...], name: str) -> list[str]:
    prefix = f"--{name}="
    return [flag[len(prefix) :] for flag in flags if flag.lower().startswith(prefix)]


def _mount_sources(flags: tuple[str, ...]) -> list[str]:
    sources = []
    for mount in _flag(flags, "mount"):
        for row in csv.reader([mount]):
            for item in row:
                key, _, value = item.partition("=")
                if key.strip().lower() == "from" and value:
                    sources.append(value.strip())
    return sources


def check_job_dockerfile(
    path: Path,
    *,
    build_args: Mapping[str, str],
    settings: BuildSettings,
    field: str = "jobtype_extra.dockerfile_path",
) -> None:
    """Refuses a job's Dockerfile that uses a platform image, a disallowed image or an internal URL."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        raise InvalidInput(f"{field}: the Dockerfile cannot be read: {exc}") from None
    syntax = _directives(text).get("syntax")
    if syntax:
        _check_image(syntax, "the # syntax= line", settings, field)
    meta_args = _automatic_args()
    stages: list[str] = []
    all_stages = {c.value[2].lower() for c in commands if c.cmd.upper() == "FROM" and len(c.value) >= 3}
    for command in commands:
        instruction = command.cmd.upper()
        where = f"line {command.start_line} ({instruction})"
        if instruction == "ARG" and not stages:
            for item in command.value:
                name, has_default, default = item.partition("=")
                if name in build_args:
                    meta_args[name] = build_args[name]
                elif has_default:
                    meta_args[name] = _expand(_unquote(default), meta_args, where, field)
                else:
                    meta_args.setdefault(name, "")
        elif instruction == "FROM" and command.value:
            image = _expand(command.value[0], meta_args, where, field).strip()
            if image.lower() not in stages and image.lower() != "scratch":
                _check_image(image, where, settings, field)
            stages.append(command.value[2].lower() if len(command.value) >= 3 else f"#{len(stages)}")
        elif instruction in ("COPY", "RUN"):
            sources = _flag(command.flags, "from") if instruction == "COPY" else []
            for source in sources + _mount_sources(command.flags):
                if source.lower() in all_stages or source.isdigit():
                    continue
                _check_image(source, where, settings, field)
        if instruction == "ADD":
            for source in command.value[:-1]:
                if _REMOTE.match(source):
                    _check_download(source, where, settings, field)


def _check_download(source: str, where: str, settings: BuildSettings, field: str) -> None:
    url = source if "://" in source else "https://" + source.split("@", 1)[1].replace(":", "/", 1)
    try:
        resolve_public_host(url, allowed=settings.allowed_internal_hosts)
    except RemoteRefused:
        raise InvalidInput(
            f"{field}: {where} downloads from '{source}', which is not on a public address (or is not "
            "http/https); internal hosts need the operator's setting allowed_internal_hosts"
        ) from None
