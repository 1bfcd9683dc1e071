"""The `golang` job type: `func Perform(input map[string]interface{}) (interface{}, error)` in the
job's package, compiled with a small net/http server (go_wrapper/) into an image with nothing else,
or, when the manifest sets `system_dependencies`, into Debian with those packages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from .._base import SWAGGER_UI_DIR, ImageSpec, JobType, JobTypeExtra
from ..config import BuildSettings

__all__ = ["GolangExtra", "GolangJobType"]

HERE = Path(__file__).resolve().parent
DEFAULT_GOPROXY = "https://proxy.golang.org,direct"


class GolangExtra(JobTypeExtra):
    """`jobtype_extra` of golang jobs."""

    gomod: str = "go.mod"
    docs_input_example: dict[str, Any] | None = None

    hints: ClassVar[dict[str, str]] = {
        "gomod": "the path of the job's go.mod, e.g. gomod: go.mod",
        "docs_input_example": "an example input object shown on the Swagger page, e.g. {numbers: [1, 2]}",
    }


class GolangJobType(JobType):
    """golang:<version>: the job's Perform function served on port 7000."""

    def __init__(self, version: str) -> None:
        super().__init__(
            name="golang",
            version=version,
            extra_model=GolangExtra,
            context_dirs=(HERE, SWAGGER_UI_DIR),
            description="A Go package with func Perform(map[string]interface{}) (interface{}, error).",
            image_specs=[ImageSpec(role="job", source="jobtype", template=HERE / "Dockerfile.j2")],
        )

    def template_vars(self, extra: JobTypeExtra) -> dict[str, Any]:
        # Modules come from the proxy the host uses (GOPROXY), else the public one.
        return {"goproxy": os.environ.get("GOPROXY") or DEFAULT_GOPROXY}

    def base_image(self, extra: JobTypeExtra, settings: BuildSettings) -> str:
        return settings.base_image_golang
