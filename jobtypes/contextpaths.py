"""Paths a manifest names inside the job's code: each must resolve inside the build context.

    context = context_root(checkout, "sub/dir")                 # git.directory
    check_links(context, what="the job's code")                 # no link leads out of it
    dockerfile = resolve_in_context(context, "Dockerfile", field="jobtype_extra.dockerfile_path")
    check_manifest_paths(extra, context)                        # every path field of jobtype_extra

The lifecycle reads some of these files itself (the Dockerfile's text, for its digest) and hands
others to `docker build -f`, which reads them on the host and echoes bad lines into the build log:
`../../../secrets/auth_key` or `/proc/self/environ` would publish the platform's secrets. Paths are
resolved against the real (link-free) context root, so a symbolic link cannot lead out either.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from core.errors import InvalidInput

from .templatevalues import control_character

__all__ = ["context_root", "check_links", "resolve_in_context", "check_manifest_paths", "PATH_SUFFIXES"]

# jobtype_extra fields that name a path in the job's code: the built-in ones by name, and for plugin
# job types (whose fields are not declared) any field whose name ends like one of these.
_BUILTIN_FILES = ("entrypoint_path", "requirements_path", "gomod", "dockerfile_path")
PATH_SUFFIXES = ("_path", "_file", "_dir", "_directory", "_folder")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _check_text(value: str, field: str) -> None:
    if not value:
        raise InvalidInput(f"{field}: is empty; give a path inside the job's folder")
    if control_character(value) is not None:
        raise InvalidInput(f"{field}: holds a control character ({value!r}); give a plain relative path")
    if os.path.isabs(value):
        raise InvalidInput(
            f"{field}: '{value}' is an absolute path; give a path relative to the job's folder"
        )


def resolve_in_context(context: Path, value: str, *, field: str, kind: str | None = "file") -> Path:
    """The real path of `value` under `context`; refused when it leaves the context (by `..`, an
    absolute path or a symbolic link) or, with `kind` "file"/"folder", when it is not one."""
    _check_text(value, field)
    root = os.path.realpath(context)
    real = os.path.realpath(os.path.join(root, value))
    if not _inside(real, root):
        lexical = os.path.normpath(os.path.join(root, value))
        how = "through a symbolic link" if _inside(lexical, root) else "with '..'"
        raise InvalidInput(
            f"{field}: '{value}' leads outside the job's code {how}; give a path inside the job's folder"
        )
    if kind == "file" and not os.path.isfile(real):
        raise InvalidInput(
            f"{field}: file '{value}' not found in the job's code; fix the path in job.yaml or add the file"
        )
    if kind == "folder" and not os.path.isdir(real):
        raise InvalidInput(f"{field}: folder '{value}' does not exist in the job's code")
    return Path(real)


def context_root(checkout: Path, directory: str) -> Path:
    """The build context: `git.directory` of the checkout, a real folder inside it."""
    if directory in ("", "."):
        return Path(os.path.realpath(checkout))
    return resolve_in_context(checkout, directory, field="git.directory", kind="folder")


def check_links(context: Path, *, what: str) -> None:
    """Refuses a symbolic link under `context` whose target (followed to the end) is outside it."""
    root = os.path.realpath(context)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                continue
            if not _inside(os.path.realpath(path), root):
                relative = os.path.relpath(path, root)
                raise InvalidInput(
                    f"{what}: '{relative}' is a symbolic link to '{os.readlink(path)}', outside the "
                    "build context; links may point only inside the job's folder (replace it with "
                    "a copy of the file)"
                )


def _path_fields(extra: BaseModel) -> dict[str, Any]:
    return {
        name: value
        for name, value in extra.model_dump().items()
        if isinstance(value, str) and value and (name in _BUILTIN_FILES or name.endswith(PATH_SUFFIXES))
    }


def check_manifest_paths(extra: BaseModel, context: Path) -> None:
    """Every path in `jobtype_extra` resolves inside the context; declared file fields must exist."""
    declared = type(extra).model_fields
    for name, value in _path_fields(extra).items():
        must_be_file = name in _BUILTIN_FILES and name in declared
        resolve_in_context(
            context, value, field=f"jobtype_extra.{name}", kind="file" if must_be_file else None
        )
