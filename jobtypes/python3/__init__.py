"""The `python3` job type: a class with `perform(**kwargs)` served by the racetrack_job_wrapper package."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from .._base import SWAGGER_UI_DIR, ImageSpec, JobType, JobTypeExtra

__all__ = ["Python3Extra", "Python3JobType", "WRAPPER_DIR"]

HERE = Path(__file__).resolve().parent
WRAPPER_DIR = HERE / "wrapper"


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
        "entrypoint_class": "the name of the class with the perform method, e.g. entrypoint_class: Job",
        "requirements_path": "the path of a pip requirements file, e.g. requirements_path: requirements.txt",
        "max_concurrency": "a whole number of calls allowed at once, at least 1",
        "max_concurrency_queue": "how many calls may wait beyond max_concurrency; 0 or more",
    }


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
        return {"command": command}

    def build_warnings(self, extra: JobTypeExtra) -> list[str]:
        assert isinstance(extra, Python3Extra)
        notes = []
        if extra.python_version and not extra.python_version.startswith("3.11"):
            notes.append(
                f"python_version {extra.python_version} is not available here; the job runs on Python 3.11"
            )
        if extra.debian_version:
            notes.append(f"debian_version {extra.debian_version} is ignored; the job runs on Debian bookworm")
        if extra.memray_profiler:
            notes.append("memray_profiler is not supported by this platform and is ignored")
        return notes
