"""Finds the user's job class in the entrypoint file."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

__all__ = ["EntrypointError", "load_entrypoint_class", "check_entrypoint_file"]


class EntrypointError(Exception):
    """The entrypoint file or class cannot be used; the message says what to fix."""


def check_entrypoint_file(entrypoint_path: str) -> Path:
    """Checks that the file exists and compiles, without running it (used at build time)."""
    path = Path(entrypoint_path)
    if not path.is_file():
        raise EntrypointError(
            f"entrypoint_path '{entrypoint_path}' does not exist in the job's code "
            f"(looked in {Path.cwd()}); fix jobtype_extra.entrypoint_path in job.yaml"
        )
    source = path.read_text(encoding="utf-8")
    try:
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise EntrypointError(
            f"syntax error in {entrypoint_path} line {exc.lineno}: {exc.msg}: {(exc.text or '').strip()}"
        ) from None
    return path


# Methods that make a class a job (any one of them, as upstream: perform is not required).
JOB_METHODS = ("perform", "webview_app", "auxiliary_endpoints", "auxiliary_endpoints_v2", "static_endpoints")


def load_entrypoint_class(entrypoint_path: str, class_name: str | None = None) -> type[Any]:
    """Imports the entrypoint file and returns the job class.

    Without `class_name`, the class defined in that file is taken (upstream's rule); when the file
    defines several, the one with job methods (perform, webview_app, auxiliary or static endpoints).
    """
    path = check_entrypoint_file(entrypoint_path).resolve()
    # The job's own modules import each other by name, as when run from its directory.
    for folder in (str(Path.cwd()), str(path.parent)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    module_name = "job_entrypoint_" + path.stem
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise EntrypointError(f"cannot import {entrypoint_path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)  # user code: its exceptions go to the caller as they are

    if class_name:
        cls = getattr(module, class_name, None)
        if not inspect.isclass(cls):
            raise EntrypointError(
                f"class '{class_name}' not found in {entrypoint_path}; "
                "fix jobtype_extra.entrypoint_class in job.yaml"
            )
        return cls
    defined = [obj for obj in vars(module).values() if inspect.isclass(obj) and obj.__module__ == module_name]
    if len(defined) == 1:
        return defined[0]
    if not defined:
        raise EntrypointError(
            f"no class in {entrypoint_path}; define the job's class, "
            "e.g. class Job: def perform(self, x: float) -> float"
        )
    jobs = [cls for cls in defined if any(callable(getattr(cls, name, None)) for name in JOB_METHODS)]
    if len(jobs) == 1:
        return jobs[0]
    names = ", ".join(sorted(c.__name__ for c in (jobs or defined)))
    raise EntrypointError(
        f"several classes in {entrypoint_path} could be the job ({names}); "
        "name one in jobtype_extra.entrypoint_class"
    )
