"""The `python3` job type: a class with `perform(**kwargs)` served by the racetrack_job_wrapper package."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, ValidationInfo, field_validator

from .._base import SWAGGER_UI_DIR, ImageSpec, JobType, JobTypeExtra
from ..config import BuildSettings

__all__ = ["Python3Extra", "Python3JobType", "WRAPPER_DIR", "DEBIAN_PYTHON"]

HERE = Path(__file__).resolve().parent
WRAPPER_DIR = HERE / "wrapper"

# The Debian releases a job can run on, with the Python each carries (jobs use Debian's Python).
DEBIAN_PYTHON = {"bookworm": "3.11", "trixie": "3.13"}
DEFAULT_SUITE = "bookworm"
_ACCEPTED = "python_version 3.11 (debian_version bookworm, the default) or 3.13 (debian_version trixie)"


def _minor(python_version: str) -> str:
    return ".".join(python_version.split(".")[:2])


def _suite(debian_version: str) -> str:
    """Upstream names images like python:3.11-slim-bookworm: the slim- prefix is accepted."""
    return debian_version.strip().lower().removeprefix("slim-")


class Python3Extra(JobTypeExtra):
    """`jobtype_extra` of python3 jobs (field names as upstream)."""

    entrypoint_path: str = Field(min_length=1)
    entrypoint_class: str | None = None
    requirements_path: str | None = None
    check_requirements: bool = True
    python_version: str | None = None
    debian_version: str | None = None
    debian_backports: bool = False
    memray_profiler: bool = False
    home_page: str = "/docs"
    max_concurrency: int | None = Field(default=None, ge=1)
    max_concurrency_queue: int | None = Field(default=None, ge=0)

    hints: ClassVar[dict[str, str]] = {
        "entrypoint_path": "the path of the Python file with your job class, e.g. entrypoint_path: job.py",
        "entrypoint_class": "the name of the job's class, e.g. entrypoint_class: Job",
        "requirements_path": "the path of a pip requirements file, e.g. requirements_path: requirements.txt",
        "max_concurrency": "a whole number of calls allowed at once, at least 1",
        "max_concurrency_queue": "how many calls may wait beyond max_concurrency; 0 or more",
    }

    @field_validator("python_version", mode="before")
    @classmethod
    def _python_as_text(cls, value: Any) -> Any:
        # `python_version: 3.11` in YAML is a number; 3.10 would read as 3.1, hence the quoting hint.
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("python_version")
    @classmethod
    def _python_available(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if value != "3" and _minor(value) not in DEBIAN_PYTHON.values():
            raise ValueError(
                f"python_version {value!r} is not available: jobs run on Debian's Python, so the "
                f"accepted values are {_ACCEPTED} (quote the value in YAML: '3.13')"
            )
        return value

    @field_validator("debian_version")
    @classmethod
    def _debian_available(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        suite = _suite(value)
        if suite not in DEBIAN_PYTHON:
            accepted = ", ".join(f"{name} (Python {py})" for name, py in DEBIAN_PYTHON.items())
            raise ValueError(
                f"debian_version {value!r} is not available; accepted: {accepted}, with or without "
                "upstream's slim- prefix"
            )
        python = info.data.get("python_version")
        if python and python != "3" and _minor(python) != DEBIAN_PYTHON[suite]:
            wanted = next((name for name, py in DEBIAN_PYTHON.items() if py == _minor(python)), None)
            raise ValueError(
                f"Debian {suite} carries Python {DEBIAN_PYTHON[suite]}, not {python}; "
                f"for Python {python} set debian_version: {wanted}, or leave debian_version out"
            )
        return value

    @property
    def debian_suite(self) -> str:
        """The Debian release the job runs on: from debian_version, else from python_version."""
        if self.debian_version:
            return _suite(self.debian_version)
        if self.python_version and self.python_version != "3":
            return next(name for name, py in DEBIAN_PYTHON.items() if py == _minor(self.python_version))
        return DEFAULT_SUITE


class Python3JobType(JobType):
    """python3:<version>: the job's class is served on port 7000 by the wrapper."""

    def __init__(self, version: str) -> None:
        super().__init__(
            name="python3",
            version=version,
            extra_model=Python3Extra,
            context_dirs=(HERE, SWAGGER_UI_DIR),
            description="A Python class with perform(**kwargs), served over HTTP with Swagger and metrics.",
            image_specs=[ImageSpec(role="job", source="jobtype", template=HERE / "Dockerfile.j2")],
        )

    def template_vars(self, extra: JobTypeExtra) -> dict[str, Any]:
        assert isinstance(extra, Python3Extra)
        command = ["python", "-u", "-m", "racetrack_job_wrapper", "run", extra.entrypoint_path]
        if extra.entrypoint_class:
            command.append(extra.entrypoint_class)
        return {"command": command, "debian_suite": extra.debian_suite}

    def base_image(self, extra: JobTypeExtra, settings: BuildSettings) -> str:
        assert isinstance(extra, Python3Extra)
        images = {"bookworm": settings.base_image_python, "trixie": settings.base_image_python_trixie}
        return images[extra.debian_suite]

    def build_warnings(self, extra: JobTypeExtra) -> list[str]:
        assert isinstance(extra, Python3Extra)
        notes = []
        python = DEBIAN_PYTHON[extra.debian_suite]
        if extra.python_version and extra.python_version not in ("3", python):
            notes.append(
                f"python_version {extra.python_version}: the job runs on Debian {extra.debian_suite}'s "
                f"Python {python} (its own patch release)"
            )
        if extra.memray_profiler:
            notes.append("memray_profiler is not supported by this platform and is ignored")
        return notes
