"""What job types and image builds are configured with, passed in explicitly by the caller.

The API builds one from its settings (`api.settings.Settings.build_settings()`); this layer never
reads the environment itself, so a plan or a build is a function of its inputs. `as_inputs()` and
`from_inputs()` carry it through a Pulumi resource's inputs to the provider process that builds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BuildSettings"]


@dataclass(frozen=True)
class BuildSettings:
    # Uploaded job type plugins live in `data_dir/plugins`; None: built-in job types only.
    data_dir: Path | None = None
    base_image_python: str = "racetrack/base-python:bookworm"
    base_image_python_trixie: str = "racetrack/base-python:trixie"
    base_image_golang: str = "racetrack/base-golang:bookworm"
    base_image_debian: str = "racetrack/base-minimal:bookworm"
    # The CA bundle image builds trust (the platform passes what the host trusts unless told otherwise),
    # and where that choice came from, for the messages of failed builds.
    extra_ca_bundle: Path | None = None
    ca_bundle_source: str = ""
    docker_build_cli: str = "/usr/bin/docker"
    image_build_timeout: float = 1800.0
    job_image_prefix: str = "racetrack"
    job_dockerfile_allowed_images: tuple[str, ...] = ("*",)
    allowed_internal_hosts: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, source: Any) -> BuildSettings:
        """The build settings among a larger settings object's attributes of the same names."""
        values = {f.name: getattr(source, f.name) for f in dataclasses.fields(cls) if hasattr(source, f.name)}
        for name in ("job_dockerfile_allowed_images", "allowed_internal_hosts"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    def describe_ca(self) -> str:
        """E.g. `/etc/ssl/certs/ca-certificates.crt (from SSL_CERT_FILE)`, for build errors and logs."""
        where = f" ({self.ca_bundle_source})" if self.ca_bundle_source else ""
        return f"{self.extra_ca_bundle or 'none'}{where}"

    def as_inputs(self) -> dict[str, Any]:
        """Plain values (strings, numbers, lists) for a Pulumi resource's inputs."""
        values = dataclasses.asdict(self)
        for name in ("data_dir", "extra_ca_bundle"):
            values[name] = str(values[name]) if values[name] is not None else ""
        for name in ("job_dockerfile_allowed_images", "allowed_internal_hosts"):
            values[name] = list(values[name])
        return values

    @classmethod
    def from_inputs(cls, values: dict[str, Any]) -> BuildSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in (values or {}).items() if k in known}
        for name in ("data_dir", "extra_ca_bundle"):
            if name in kept:
                kept[name] = Path(kept[name]) if kept[name] else None
        for name in ("job_dockerfile_allowed_images", "allowed_internal_hosts"):
            if name in kept:
                kept[name] = tuple(kept[name])
        if "image_build_timeout" in kept:
            kept["image_build_timeout"] = float(kept["image_build_timeout"])
        return cls(**kept)
