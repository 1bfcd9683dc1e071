"""The part of a job's manifest (`job.yaml`) that building and running an image needs.

The lifecycle validates the whole manifest; this model reads the fields job types use and accepts
the deprecated upstream spellings (`lang` for `jobtype`; `python`, `golang`, `docker` or
`wrapper_properties` for `jobtype_extra`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import InvalidInput

__all__ = ["BuildManifest", "GitSection", "parse_manifest"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LEGACY_EXTRA = ("python", "golang", "docker", "wrapper_properties")


class GitSection(BaseModel):
    model_config = ConfigDict(extra="ignore")

    remote: str
    branch: str | None = None
    directory: str = "."


class BuildManifest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    version: str = "0.0.1"
    jobtype: str
    jobtype_extra: dict[str, Any] = Field(default_factory=dict)
    git: GitSection | None = None
    system_dependencies: list[str] = Field(default_factory=list)
    build_env: dict[str, str] = Field(default_factory=dict)
    runtime_env: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be lower-case letters, digits and '-', starting with a letter or digit")
        return value

    @field_validator("build_env", "runtime_env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _ENV_NAME.match(key):
                raise ValueError(f"'{key}' is not a valid environment variable name")
        return {key: str(item) for key, item in value.items()}

    @field_validator("system_dependencies")
    @classmethod
    def _packages(cls, value: list[str]) -> list[str]:
        for package in value:
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9.+:=~_-]*$", package):
                raise ValueError(f"'{package}' is not a Debian package name")
        return value

    @property
    def directory(self) -> str:
        return self.git.directory if self.git else "."


def parse_manifest(manifest: Mapping[str, Any] | BuildManifest) -> BuildManifest:
    """Reads a manifest given as a dict (e.g. parsed job.yaml); errors name the field."""
    if isinstance(manifest, BuildManifest):
        return manifest
    data = dict(manifest)
    if not data.get("jobtype") and data.get("lang"):
        data["jobtype"] = data["lang"]
    if not data.get("jobtype_extra"):
        for legacy in _LEGACY_EXTRA:
            if isinstance(data.get(legacy), dict):
                data["jobtype_extra"] = data[legacy]
                break
    try:
        return BuildManifest.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = ".".join(str(part) for part in error["loc"])
            message = "is required" if error["type"] == "missing" else error["msg"]
            problems.append(f"{location}: {message}")
        raise InvalidInput("invalid manifest: " + "; ".join(problems)) from None
