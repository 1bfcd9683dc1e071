"""What a job type is: a name and version, the images it yields, and the jobtype_extra it accepts.

A job type turns a job's code into one or more images. Each image comes either from a Jinja2
Dockerfile template of the job type (`source="jobtype"`) or from a Dockerfile in the job's own code
(`source="job"`). The first image (role `job`) serves the Racetrack endpoints on port 7000; any other
image runs as a sidecar container whose address the job container receives in `address_env`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import InvalidInput

from .config import BuildSettings

__all__ = [
    "JobType",
    "ImageSpec",
    "JobTypeExtra",
    "JOB_PORT",
    "SWAGGER_UI_DIR",
    "format_validation_error",
]

JOB_PORT = 7000
# The pinned swagger-ui-bundle requirement and the script installing its files; built-in job types
# add this folder to their context so their images serve Swagger UI without a CDN.
SWAGGER_UI_DIR = Path(__file__).resolve().parent / "swagger_ui"


class JobTypeExtra(BaseModel):
    """Base of each job type's `jobtype_extra` model: unknown fields are errors, so typos show."""

    model_config = ConfigDict(extra="forbid")

    # Field name -> how to fix it, appended to validation errors.
    hints: ClassVar[dict[str, str]] = {}


@dataclass(frozen=True)
class ImageSpec:
    """One image a job type yields for a job.

    - `role`: `job` for the container that serves the job's endpoints, or a sidecar role name.
    - `source`: `jobtype` (render `template` from the job type) or `job` (the job's `dockerfile_path`).
    - `port`: the port the container listens on.
    - `address_env`: for sidecars, the variable that gives the job container `host:port` of this one.
    """

    role: str
    source: Literal["jobtype", "job"]
    port: int = JOB_PORT
    template: Path | None = None
    dockerfile_path: str | None = None
    address_env: str | None = None


@dataclass
class JobType:
    """A job type: `name:version`, its templates and context, its `jobtype_extra` model.

    Built-in types subclass this; plugin types are instances made from a plugin's `job_types()`.
    """

    name: str
    version: str
    extra_model: type[JobTypeExtra] = JobTypeExtra
    # Folders merged into the stage the templates COPY from (`COPY --from=jobtype ...`).
    context_dirs: tuple[Path, ...] = ()
    description: str = ""
    origin: str = "built-in"  # or "plugin <name> <version>"
    image_specs: list[ImageSpec] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def validate_extra(self, raw: dict[str, Any] | None) -> JobTypeExtra:
        """Validates `jobtype_extra`; the error names each wrong field and how to fix it."""
        try:
            return self.extra_model.model_validate(raw or {})
        except ValidationError as exc:
            raise InvalidInput(format_validation_error(exc, self.extra_model, self.ref)) from None

    def images(self, extra: JobTypeExtra) -> list[ImageSpec]:
        """The images to build for a job with this `jobtype_extra`, the `job` image first."""
        return list(self.image_specs)

    def template_vars(self, extra: JobTypeExtra) -> dict[str, Any]:
        """Extra variables for the Dockerfile templates."""
        return {}

    def base_image(self, extra: JobTypeExtra, settings: BuildSettings) -> str:
        """The image the job's Dockerfile starts from (template variable `base_image`)."""
        return settings.base_image_python

    def runtime_env(self, extra: JobTypeExtra) -> dict[str, str]:
        """Variables the job container needs from this job type (besides the platform's)."""
        return {}

    def build_warnings(self, extra: JobTypeExtra) -> list[str]:
        """Notes for the build log, e.g. accepted fields that this platform ignores."""
        return []

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "origin": self.origin,
            "description": self.description,
            "jobtype_extra_schema": self.extra_model.model_json_schema(),
        }


def format_validation_error(exc: ValidationError, model: type[JobTypeExtra], ref: str) -> str:
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(root)"
        field_name = str(error["loc"][0]) if error["loc"] else ""
        if error["type"] == "extra_forbidden":
            known = ", ".join(sorted(model.model_fields))
            problems.append(f"jobtype_extra.{location}: unknown field for {ref}; known fields: {known}")
            continue
        # A validator's own message says what to do; pydantic's "Value error, " prefix adds nothing.
        message = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
        hint = None if error["type"] == "value_error" else model.hints.get(field_name)
        problems.append(f"jobtype_extra.{location}: {message}" + (f" ({hint})" if hint else ""))
    return "invalid jobtype_extra: " + "; ".join(problems)
