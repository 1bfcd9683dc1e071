"""Job manifests (`job.yaml`): parsing, validation, overlays and version resolution."""

from api.manifest.model import GitSpec, Manifest, ResourcesSpec
from api.manifest.parse import (
    ParsedManifest,
    load_manifest_file,
    manifest_yaml,
    merge_overlay,
    parse_manifest,
)
from api.manifest.versions import SemVer, is_version_selector, parse_semver, resolve_version

__all__ = [
    "GitSpec",
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
