"""Job manifests (`job.yaml`): the model, parsing, validation, overlays and version resolution."""

from collections.abc import Mapping
from typing import Any

from .model import GitSpec, Manifest, ResourcesSpec
from .parse import (
    ParsedManifest,
    load_manifest_file,
    manifest_yaml,
    merge_overlay,
    parse_manifest,
)
from .versions import SemVer, is_version_selector, parse_semver, resolve_version

__all__ = [
    "GitSpec",
    "job_manifest",
    "Manifest",
    "ParsedManifest",
    "ResourcesSpec",
    "SemVer",
    "is_version_selector",
    "load_manifest_file",
    "manifest_yaml",
    "merge_overlay",
    "parse_manifest",
    "parse_semver",
    "resolve_version",
]


def job_manifest(manifest: Mapping[str, Any] | Manifest) -> Manifest:
    """The typed manifest: the model itself, or a mapping validated as the lifecycle validates deploys."""
    if isinstance(manifest, Manifest):
        return manifest
    return parse_manifest(dict(manifest)).manifest
