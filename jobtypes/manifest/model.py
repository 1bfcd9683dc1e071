"""The `job.yaml` manifest as a pydantic model (the upstream field set, extra fields forbidden).

The one manifest model of the server: the lifecycle validates deploys with it, job types build from it,
the deploy engine reads it. The client keeps a light copy of its field names (client/manifest.py).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .versions import parse_semver

__all__ = ["GitSpec", "ResourcesSpec", "Manifest", "NAME_PATTERN", "ACCEPTED"]

NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$")
_JOBTYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*:[A-Za-z0-9*][A-Za-z0-9._*+-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+:=~_-]*$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")

# What each field accepts, quoted in error messages.
ACCEPTED: dict[str, str] = {
    "name": "lowercase letters, digits and hyphens, 1-50 characters, a letter or digit at both ends",
    "owner_email": "an e-mail address such as alice@example.com",
    "git": "a mapping with `remote` (required), `branch` and `directory`",
    "git.remote": "an http(s):// URL of a git repository (SSH is not supported)",
    "git.branch": "a branch name",
    "git.directory": "a relative path inside the repository, e.g. `.` or `sub/dir`",
    "version": "a semantic version MAJOR.MINOR.PATCH[-prerelease][+build], e.g. 1.0.2",
    "jobtype": "NAME:VERSION of an installed job type, e.g. python3:latest or python3:2.15.1",
    "extends": "a relative path to a base manifest (resolved by the client before sending)",
    "image_type": "`docker`",
    "system_dependencies": "a list of package names",
    "build_env": "a mapping of variable names to string values",
    "runtime_env": "a mapping of variable names to string values",
    "secret_build_env_file": "a path to a .env file on the client",
    "secret_runtime_env_file": "a path to a .env file on the client",
    "labels": "a mapping of names to values",
    "public_endpoints": "a list of endpoint path prefixes starting with /, e.g. /api/v1/perform",
    "replicas": "an integer from 1 to 50",
    "resources": "a mapping with memory_min, memory_max, cpu_min, cpu_max",
    "resources.memory_min": "a Kubernetes quantity such as 256Mi or 1Gi",
    "resources.memory_max": "a Kubernetes quantity such as 256Mi or 1Gi",
    "resources.cpu_min": "a Kubernetes quantity such as 10m or 1",
    "resources.cpu_max": "a Kubernetes quantity such as 10m or 1",
    "jobtype_extra": "a mapping of job-type specific settings",
    "infrastructure_target": "the name of an infrastructure target, e.g. docker",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GitSpec(_Strict):
    remote: str
    branch: str | None = None
    directory: str = "."

    @field_validator("remote")
    @classmethod
    def _remote(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s):// URL")
        return value

    @field_validator("directory")
    @classmethod
    def _directory(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"{value!r} leaves the repository")
        return value


def _quantity(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    if not _QUANTITY.match(text):
        raise ValueError(f"{text!r} is not a quantity")
    return text


class ResourcesSpec(_Strict):
    memory_min: str | int | float | None = None
    memory_max: str | int | float | None = None
    cpu_min: str | int | float | None = None
    cpu_max: str | int | float | None = None

    @field_validator("memory_min", "memory_max", "cpu_min", "cpu_max")
    @classmethod
    def _check(cls, value: Any) -> str | None:
        return _quantity(value)


class Manifest(_Strict):
    """A job manifest after deprecated names were mapped to `jobtype` and `jobtype_extra`."""

    name: str
    owner_email: str
    git: GitSpec
    version: str = "0.0.1"
    jobtype: str
    extends: str | None = None
    image_type: str = "docker"
    system_dependencies: list[str] = Field(default_factory=list)
    build_env: dict[str, str] = Field(default_factory=dict)
    runtime_env: dict[str, str] = Field(default_factory=dict)
    secret_build_env_file: str | None = None
    secret_runtime_env_file: str | None = None
    labels: dict[str, Any] = Field(default_factory=dict)
    public_endpoints: list[str] | None = None
    replicas: int = Field(default=1, ge=1, le=50)
    resources: ResourcesSpec | None = None
    jobtype_extra: dict[str, Any] = Field(default_factory=dict)
    infrastructure_target: str | None = None

    @field_validator(
        "system_dependencies", "build_env", "runtime_env", "labels", "jobtype_extra", mode="before"
    )
    @classmethod
    def _empty(cls, value: Any, info: Any) -> Any:
        # `build_env:` with nothing after it is YAML's null: the same as leaving the field out.
        if value is None:
            return [] if info.field_name == "system_dependencies" else {}
        return value

    @field_validator("build_env", "runtime_env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _ENV_NAME.match(key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
        return value

    @field_validator("system_dependencies")
    @classmethod
    def _packages(cls, value: list[str]) -> list[str]:
        for package in value:
            if not _PACKAGE.match(package):
                raise ValueError(f"{package!r} is not a Debian package name")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a valid name")
        return value

    @field_validator("owner_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not re.match(r"^[^@\s]+@[^@\s]+$", value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if parse_semver(value) is None:
            raise ValueError(f"{value!r} is not a semantic version")
        return value

    @field_validator("jobtype")
    @classmethod
    def _jobtype(cls, value: str) -> str:
        if not _JOBTYPE.match(value):
            raise ValueError(f"{value!r} is not NAME:VERSION")
        return value

    @field_validator("image_type")
    @classmethod
    def _image_type(cls, value: str) -> str:
        if value != "docker":
            raise ValueError(f"{value!r} is not supported")
        return value

    @field_validator("public_endpoints")
    @classmethod
    def _endpoints(cls, value: list[str] | None) -> list[str] | None:
        for endpoint in value or []:
            if not endpoint.startswith("/"):
                raise ValueError(f"{endpoint!r} does not start with /")
        return value

    @property
    def jobtype_name(self) -> str:
        return self.jobtype.split(":", 1)[0]

    @property
    def jobtype_version(self) -> str:
        return self.jobtype.split(":", 1)[1]
