"""Turning YAML or a mapping into a validated `Manifest`, with errors a user can act on.

Every problem is reported as `InvalidInput` naming the field, what is wrong and what is accepted.
Unknown fields are rejected with the closest known name suggested; deprecated names are mapped to their
replacements with a warning; `extends` overlays are merged onto their base (which may not extend).
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.errors import InvalidInput

from .model import ACCEPTED, GitSpec, Manifest, ResourcesSpec

__all__ = ["ParsedManifest", "parse_manifest", "load_manifest_file", "merge_overlay", "manifest_yaml"]

DEPRECATED_JOBTYPE = "lang"
DEPRECATED_EXTRA = ("golang", "python", "docker", "wrapper_properties")
MANIFEST_FILENAMES = ("job.yaml", "fatman.yaml")


@dataclass
class ParsedManifest:
    manifest: Manifest
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # the mapping after deprecated names were mapped


def _known_fields(model: type) -> list[str]:
    return list(model.model_fields)  # type: ignore[attr-defined]


def _check_unknown(data: dict[str, Any], known: list[str], prefix: str) -> list[str]:
    problems = []
    for key in data:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f"; did you mean `{prefix}{close[0]}`?" if close else ""
        accepted = ", ".join(known)
        problems.append(f"field `{prefix}{key}`: unknown field{hint} (accepted fields: {accepted})")
    return problems


def _map_deprecated(data: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    data = dict(data)
    warnings: list[str] = []
    problems: list[str] = []
    if data.get(DEPRECATED_JOBTYPE) is not None:
        warnings.append("field `lang` is deprecated: use `jobtype` instead")
        if data.get("jobtype") is not None:
            problems.append("field `lang`: given together with `jobtype`; keep only `jobtype`")
        else:
            data["jobtype"] = data[DEPRECATED_JOBTYPE]
    data.pop(DEPRECATED_JOBTYPE, None)
    given = [name for name in DEPRECATED_EXTRA if data.get(name) is not None]
    for name in given:
        warnings.append(f"field `{name}` is deprecated: use `jobtype_extra` instead")
    if given:
        if data.get("jobtype_extra") is not None or len(given) > 1:
            names = ", ".join(f"`{n}`" for n in given)
            problems.append(
                f"field `{given[0]}`: {names} given together with `jobtype_extra`"
                " or each other; keep only `jobtype_extra`"
            )
        else:
            data["jobtype_extra"] = data[given[0]]
    for name in DEPRECATED_EXTRA:
        data.pop(name, None)
    return data, warnings, problems


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"])
    top = ".".join(str(part) for part in error["loc"][:2])
    key = location if location in ACCEPTED else (top if top in ACCEPTED else str(error["loc"][0]))
    accepted = ACCEPTED.get(key, "see the manifest reference")
    message = error["msg"]
    if error["type"] == "missing":
        message = "required field is missing"
    elif message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return f"field `{location}`: {message} (accepted: {accepted})"


def parse_manifest(data: Any, *, base_dir: Path | None = None) -> ParsedManifest:
    """Validates a manifest mapping; `base_dir` allows resolving `extends` (else it must be empty)."""
    if not isinstance(data, dict):
        raise InvalidInput("manifest: expected a mapping of fields (accepted: the fields of job.yaml)")
    if data.get("extends"):
        if base_dir is None:
            raise InvalidInput(
                "field `extends`: overlays are resolved by the client; send the merged manifest "
                f"(accepted: {ACCEPTED['extends']})"
            )
        data = merge_overlay(data, base_dir)
    mapped, warnings, problems = _map_deprecated(data)
    problems += _check_unknown(mapped, _known_fields(Manifest), "")
    for nested_name, model in (("git", GitSpec), ("resources", ResourcesSpec)):
        nested = mapped.get(nested_name)
        if isinstance(nested, dict):
            problems += _check_unknown(nested, _known_fields(model), f"{nested_name}.")
    if not problems:
        try:
            manifest = Manifest.model_validate(mapped)
        except ValidationError as exc:
            problems += [_describe(error) for error in exc.errors()]  # type: ignore[arg-type]
    if problems:
        raise InvalidInput("invalid manifest: " + "; ".join(problems))
    return ParsedManifest(manifest=manifest, warnings=warnings, data=mapped)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInput(f"manifest file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"manifest file {path} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise InvalidInput(f"manifest file {path}: expected a mapping of fields")
    return loaded


def _deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merge_overlay(overlay: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Merges an overlay manifest onto the base it `extends` (dicts deep-merged, other values replaced)."""
    extends = str(overlay["extends"])
    if Path(extends).is_absolute():
        raise InvalidInput(f"field `extends`: {extends!r} is absolute (accepted: {ACCEPTED['extends']})")
    base = _read_yaml(base_dir / extends)
    if base.get("extends"):
        raise InvalidInput(
            f"field `extends`: base manifest {extends} extends another one; a base may not extend"
        )
    merged = _deep_merge(base, overlay)
    merged["extends"] = None
    return merged


def _apply_extra_var(data: dict[str, Any], dotted: str, raw: str) -> None:
    keys = dotted.split(".")
    if not all(keys):
        raise InvalidInput(
            f"extra var {dotted!r}: empty key (accepted: dotted field paths such as git.branch)"
        )
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise InvalidInput(f"extra var {dotted!r}: `{key}` is not a mapping")
        node = child
    node[keys[-1]] = yaml.safe_load(raw)


def load_manifest_file(path: Path, extra_vars: dict[str, str] | None = None) -> ParsedManifest:
    """Loads `job.yaml` (or a directory holding it), resolving `extends` and dotted extra vars."""
    if path.is_dir():
        found = [path / name for name in MANIFEST_FILENAMES if (path / name).is_file()]
        if not found:
            raise InvalidInput(f"no job.yaml in {path}")
        path = found[0]
    data = _read_yaml(path)
    if data.get("extends"):
        data = merge_overlay(data, path.parent)
    for key, value in (extra_vars or {}).items():
        _apply_extra_var(data, key, value)
    parsed = parse_manifest(data)
    if path.name == "fatman.yaml":
        parsed.warnings.append("fatman.yaml is a legacy name: rename it to job.yaml")
    return parsed


def manifest_yaml(data: dict[str, Any]) -> str:
    """The manifest mapping as YAML, in field order, as stored with jobs and deployments."""
    return yaml.safe_dump({k: v for k, v in data.items() if v is not None}, sort_keys=False)
