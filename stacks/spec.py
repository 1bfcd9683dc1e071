"""The desired state of one job family on one infrastructure target, as plain data.

A stack program is a pure function of a `FamilySpec`; the lifecycle records each spec as a revision
before Pulumi runs, so any revision can be applied again (that is a rollback) without rebuilding:
the images a revision names are found by tag and context digest.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ImageSpec", "ContainerSpec", "VersionSpec", "FamilySpec", "resource_name"]


@dataclass(frozen=True)
class ImageSpec:
    """One image of a job version, built from a prepared context (or reused by tag and digest)."""

    role: str  # the first image of a version serves the job; others (e.g. "user-module") run beside it
    tag: str
    context_digest: str
    context: str = ""  # where the context is this run; empty when the image already exists
    dockerfile: str = ""
    build_args: dict[str, str] = field(default_factory=dict)
    build_secrets: dict[str, str] = field(default_factory=dict, repr=False)
    secret_files: dict[str, str] = field(
        default_factory=dict
    )  # non-secret files mounted like secrets (CA bundle)
    port: int = 7000
    address_env: str | None = None  # the main container learns this image's host:port from this variable
    # Set by a deploy with `--no-cache` (its deployment id): the image is built again without the build
    # cache, once; the revision keeps the marker, so a later run with the same marker reuses that image.
    rebuild: str = ""


@dataclass(frozen=True)
class ContainerSpec:
    """How a version runs; `env` is plain, `secret_env` is kept encrypted in the stack state."""

    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)
    replicas: int = 1
    memory_min: str | None = None
    memory_max: str | None = None
    cpu_min: str | None = None
    cpu_max: str | None = None


@dataclass(frozen=True)
class VersionSpec:
    version: str
    images: tuple[ImageSpec, ...]
    run: ContainerSpec
    deployment_timestamp: int
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def main_image(self) -> ImageSpec:
        """The image whose container serves the job convention; any others run beside it."""
        return self.images[0]


@dataclass(frozen=True)
class FamilySpec:
    family: str
    target: str
    revision: int
    versions: tuple[VersionSpec, ...]
    latest: str | None = None
    # Target settings that shape resources (network, bind address, namespace, registry, pub URL...).
    target_settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FamilySpec:
        data = json.loads(text)
        versions = tuple(
            VersionSpec(
                version=v["version"],
                images=tuple(ImageSpec(**image) for image in v["images"]),
                run=ContainerSpec(**v["run"]),
                deployment_timestamp=v["deployment_timestamp"],
                labels=v.get("labels", {}),
            )
            for v in data["versions"]
        )
        return cls(
            family=data["family"],
            target=data["target"],
            revision=data["revision"],
            versions=versions,
            latest=data.get("latest"),
            target_settings=data.get("target_settings", {}),
        )

    def version(self, version: str) -> VersionSpec | None:
        return next((v for v in self.versions if v.version == version), None)


def resource_name(family: str, version: str) -> str:
    """`job-<family>-v-<version>` with dots as dashes, as upstream names job resources."""
    return re.sub(r"[^a-z0-9-]", "-", f"job-{family}-v-{version}".lower().replace(".", "-"))
