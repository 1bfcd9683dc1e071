"""Values that reach a Dockerfile template: one line of text each, quoted for where they land.

    check_template_values(variables)       # before rendering: names the field that is refused
    {{ value | dq }}                       # a double-quoted Dockerfile word (ENV, COPY, LABEL)
    {{ value | sh }}                       # a shell word (inside RUN)

A line break in any value would end the instruction it is in and start one of the tenant's own
(`USER root`, `COPY --from=<another job's image>`, a cache mount shared with other tenants). The
check runs over every variable the templates receive, whichever model carried the value, and the
renderer refuses any expression that still prints a control character (`one_line`).
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from core.errors import InvalidInput

__all__ = [
    "check_template_values",
    "control_character",
    "dockerfile_quote",
    "shell_quote",
    "one_line",
    "RESERVED_BUILD_ARG_PREFIX",
]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Build arguments BuildKit reads as its own options (a frontend image, the cache namespace, ...).
RESERVED_BUILD_ARG_PREFIX = "BUILDKIT_"

# Template variable -> the manifest field a user knows it by.
_FIELD_NAMES = {
    "manifest": "",
    "extra": "jobtype_extra",
    "manifest_jobtype_extra": "jobtype_extra",
    "env_vars": "build_env",
    "build_env": "build_env",
    "job_name": "name",
    "job_version": "version",
    "git_version": "the git version of the job's code",
}


def control_character(text: str) -> str | None:
    """The first control or line-separator character of `text`, if any."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return char
    return None


def _walk(value: Any, field: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, str):
        yield field, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            shown = repr(str(key)) if control_character(str(key)) else str(key)
            name = f"{field}.{shown}" if field else shown
            yield f"{name} (its name)", str(key)
            yield from _walk(item, name)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _walk(item, f"{field}[{index}]")


def check_template_values(variables: Mapping[str, Any]) -> None:
    """Refuses control characters (line breaks above all) in any value a template receives."""
    for variable, value in variables.items():
        for field, text in _walk(value, _FIELD_NAMES.get(variable, variable)):
            char = control_character(text)
            if char is not None:
                raise InvalidInput(
                    f"{field}: holds a control character ({char!r}); values that reach the image's "
                    "Dockerfile must be one line of text, remove the line break or control character"
                )
    for key in dict(variables.get("build_env") or {}):
        if not _ENV_NAME.fullmatch(key):
            raise InvalidInput(f"build_env: {key!r} is not a valid environment variable name")
        if key.upper().startswith(RESERVED_BUILD_ARG_PREFIX):
            raise InvalidInput(
                f"build_env.{key}: names starting with {RESERVED_BUILD_ARG_PREFIX} are options of the "
                "image builder, not variables; rename it"
            )


def dockerfile_quote(value: Any) -> str:
    """A Dockerfile double-quoted word holding `value` literally: no variable expansion, no escape."""
    text = str(value)
    if control_character(text) is not None:
        raise InvalidInput(f"a value for the Dockerfile holds a control character: {text[:60]!r}")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def shell_quote(value: Any) -> str:
    """A POSIX shell word holding `value` literally (for RUN lines)."""
    text = str(value)
    if control_character(text) is not None:
        raise InvalidInput(f"a value for the Dockerfile holds a control character: {text[:60]!r}")
    return shlex.quote(text)


def one_line(value: Any) -> Any:
    """Jinja `finalize`: what an expression prints may not break the line it is on."""
    if isinstance(value, str) and control_character(value) is not None:
        raise InvalidInput(f"a Dockerfile template printed a control character: {value[:60]!r}")
    return value
