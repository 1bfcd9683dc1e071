"""Reading a job manifest the way upstream Racetrack's client does.

- `job.yaml` in the job directory (or the legacy `fatman.yaml`, with a warning), a file path, or stdin;
- `extends: base.yaml` overlay: the base (which may not extend another) deep-merged under the overlay;
- `-e key.sub=value` overrides, values parsed as YAML;
- secret env files (`secret_build_env_file`, `secret_runtime_env_file`) read relative to the job directory.

Local validation catches the common mistakes early; the server's validation remains the authority.
"""

from __future__ import annotations

import io
import os
import re
import select
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from client import output
from client.errors import InvalidInput

__all__ = [
    "MANIFEST_NAME",
    "LEGACY_MANIFEST_NAME",
    "LoadedManifest",
    "parse_extra_vars",
    "apply_extra_vars",
    "merge_dicts",
    "find_manifest",
    "load_manifest",
    "validate_manifest",
    "read_env_file",
    "read_secret_vars",
    "read_piped_stdin",
]

MANIFEST_NAME = "job.yaml"
LEGACY_MANIFEST_NAME = "fatman.yaml"

_TOP_LEVEL_FIELDS = {
    "name",
    "owner_email",
    "git",
    "jobtype",
    "lang",
    "version",
    "extends",
    "jobtype_extra",
    "image_type",
    "system_dependencies",
    "build_env",
    "runtime_env",
    "secret_build_env_file",
    "secret_runtime_env_file",
    "labels",
    "public_endpoints",
    "replicas",
    "resources",
    "infrastructure_target",
    # deprecated upstream fields still accepted (with a warning on the server)
    "python",
    "golang",
    "docker",
    "wrapper_properties",
}
_DEPRECATED = {
    "lang": "jobtype",
    "python": "jobtype_extra",
    "golang": "jobtype_extra",
    "docker": "jobtype_extra",
    "wrapper_properties": "jobtype_extra",
}
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


@dataclass
class LoadedManifest:
    """A merged manifest and where it came from."""

    data: dict[str, Any]
    job_dir: Path  # base for relative paths: secret env files, the local build context
    source: str  # the file read, or "<stdin>"

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def version(self) -> str:
        return str(self.data.get("version", "0.0.1"))


def parse_extra_vars(pairs: list[str] | None) -> dict[str, str]:
    """`["git.branch=dev", "replicas=2"]` -> mapping; a pair without `=` is a usage error (exit 2)."""
    import typer

    result: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(
                f"{pair!r} is not KEY=VALUE (e.g. -e git.branch=dev)", param_hint="-e/--extra-vars"
            )
        result[key.strip()] = value
    return result


def apply_extra_vars(data: dict[str, Any], extra_vars: dict[str, str]) -> dict[str, Any]:
    """Set dotted keys in the manifest; values are YAML (`replicas=2` is an int, `labels={a: b}` a dict)."""
    for dotted, raw in extra_vars.items():
        keys = dotted.split(".")
        node = data
        for key in keys[:-1]:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                raise InvalidInput(f"-e {dotted}: {key!r} is not a mapping in the manifest")
            node = child
        try:
            node[keys[-1]] = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as exc:
            raise InvalidInput(f"-e {dotted}: value is not valid YAML: {exc}") from exc
    return data


def merge_dicts(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge overlay into a copy of base; overlay wins, mappings merge key by key."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = merge_dicts(merged[key], value)
        else:
            merged[key] = value
    return merged


def find_manifest(path: Path) -> Path:
    """The manifest file for a path: the file itself, or job.yaml (or legacy fatman.yaml) in a directory."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise InvalidInput(f"{path} does not exist", hint="Give the job's directory or its job.yaml.")
    candidate = path / MANIFEST_NAME
    if candidate.is_file():
        return candidate
    legacy = path / LEGACY_MANIFEST_NAME
    if legacy.is_file():
        output.warn(f"{legacy} uses the legacy name; rename it to {MANIFEST_NAME}")
        return legacy
    raise InvalidInput(
        f"no {MANIFEST_NAME} in {path.resolve()}",
        hint="Run the command in your job's directory, give its path, or pipe a manifest on stdin.",
    )


def _parse_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source} is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(f"{source} must be a YAML mapping of manifest fields, got {type(data).__name__}")
    return data


def _resolve_extends(data: dict[str, Any], base_dir: Path, source: str) -> dict[str, Any]:
    extends = data.get("extends")
    if not extends:
        return data
    rel = Path(str(extends))
    if rel.is_absolute():
        raise InvalidInput(f"{source}: field 'extends' must be a relative path, got {extends}")
    base_path = base_dir / rel
    if not base_path.is_file():
        raise InvalidInput(f"{source}: field 'extends' points to {base_path}, which does not exist")
    base = _parse_yaml(base_path.read_text(), str(base_path))
    if base.get("extends"):
        raise InvalidInput(f"{base_path}: a base manifest cannot extend another one (field 'extends')")
    merged = merge_dicts(base, data)
    merged.pop("extends", None)
    return merged


STDIN_WAIT_SECONDS = 2.0


def read_piped_stdin() -> str | None:
    """The manifest piped on stdin, if stdin is a pipe or a file.

    Never blocks on a terminal; a pipe that stays open and silent (a harness that never closes stdin)
    is given STDIN_WAIT_SECONDS to show data or end, then ignored.
    """
    stream = sys.stdin
    if stream is None:
        return None
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, io.UnsupportedOperation, AttributeError):
        pass  # an in-memory stream (tests, embedding): read it
    else:
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            ready, _, _ = select.select([fd], [], [], STDIN_WAIT_SECONDS)
            if not ready:
                return None
        elif not stat.S_ISREG(mode):
            return None
    text = stream.read()
    return text if text and text.strip() else None


def load_manifest(
    workdir: str | Path = ".", extra_vars: dict[str, str] | None = None, *, stdin_text: str | None = None
) -> LoadedManifest:
    """Load, merge and override a manifest from a job directory, a manifest file, or stdin text."""
    workdir = Path(workdir)
    if stdin_text is not None:
        job_dir = workdir if workdir.is_dir() else workdir.parent
        source = "<stdin>"
        data = _parse_yaml(stdin_text, source)
    else:
        path = find_manifest(workdir)
        job_dir = path.parent
        source = str(path)
        data = _parse_yaml(path.read_text(), source)
    data = _resolve_extends(data, job_dir, source)
    data = apply_extra_vars(data, extra_vars or {})
    return LoadedManifest(data=data, job_dir=job_dir, source=source)


def validate_manifest(data: dict[str, Any]) -> list[str]:
    """Problems found locally, each naming the field and the reason (empty when none)."""
    problems: list[str] = []
    unknown = sorted(set(data) - _TOP_LEVEL_FIELDS)
    for key in unknown:
        problems.append(f"{key}: unknown field (not part of the job manifest schema)")
    for old, new in _DEPRECATED.items():
        if old in data:
            output.warn(f"manifest field {old!r} is deprecated; use {new!r}")
    name = data.get("name")
    if not name or not isinstance(name, str):
        problems.append("name: required, the job's name (a string)")
    elif not re.fullmatch(r"[A-Za-z0-9][-.A-Za-z0-9]*", name):
        problems.append(f"name: {name!r} may hold only letters, digits, dots and dashes (no underscores)")
    email = data.get("owner_email")
    if not email or not isinstance(email, str) or not re.fullmatch(r".+@.+", email):
        problems.append("owner_email: required, an e-mail address")
    git = data.get("git")
    if not isinstance(git, dict) or not git.get("remote"):
        problems.append("git.remote: required, the https:// URL of the job's repository")
    else:
        if not str(git["remote"]).startswith("https://"):
            problems.append(f"git.remote: {git['remote']!r} must start with https:// (SSH is not supported)")
        extra_git = sorted(set(git) - {"remote", "branch", "directory"})
        for key in extra_git:
            problems.append(f"git.{key}: unknown field")
    if not data.get("jobtype") and not data.get("lang"):
        problems.append("jobtype: required, NAME:VERSION of an installed job type (e.g. python3:latest)")
    elif data.get("jobtype") and not re.fullmatch(r"[^:\s]+:[^:\s]+", str(data["jobtype"])):
        problems.append(f"jobtype: {data['jobtype']!r} must be NAME:VERSION (e.g. python3:latest)")
    version = data.get("version", "0.0.1")
    if not isinstance(version, str) or not _SEMVER.match(version):
        problems.append(f"version: {version!r} is not a semantic version like 1.2.3 (quote it in YAML)")
    replicas = data.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 <= replicas <= 50:
        problems.append(f"replicas: {replicas!r} must be an integer from 0 to 50")
    for field in ("build_env", "runtime_env", "labels", "jobtype_extra", "resources"):
        if field in data and data[field] is not None and not isinstance(data[field], dict):
            problems.append(f"{field}: must be a mapping")
    for field in ("system_dependencies", "public_endpoints"):
        if field in data and data[field] is not None and not isinstance(data[field], list):
            problems.append(f"{field}: must be a list")
    if isinstance(data.get("resources"), dict):
        for key in sorted(set(data["resources"]) - {"memory_min", "memory_max", "cpu_min", "cpu_max"}):
            problems.append(f"resources.{key}: unknown field")
    return problems


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a .env file: KEY=VALUE lines, `#` comments, optional `export`, optional quotes."""
    result: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            # the line is not echoed: it may hold a secret
            raise InvalidInput(f"{path}, line {number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        result[key] = value
    return result


def read_secret_vars(manifest: LoadedManifest) -> dict[str, dict[str, str]]:
    """`{"build_env": {...}, "runtime_env": {...}}` from the manifest's secret env files."""
    secrets: dict[str, dict[str, str]] = {"build_env": {}, "runtime_env": {}}
    for field, key in (("secret_build_env_file", "build_env"), ("secret_runtime_env_file", "runtime_env")):
        rel = manifest.data.get(field)
        if not rel:
            continue
        path = manifest.job_dir / str(rel)
        if not path.is_file():
            raise InvalidInput(f"{field}: file {path} does not exist", hint="Create it or remove the field.")
        secrets[key] = read_env_file(path)
        output.note(f"read {len(secrets[key])} secret {key.replace('_', ' ')} vars from {path}")
    return secrets
